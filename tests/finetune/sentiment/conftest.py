"""A small real store (slices of Financial PhraseBank and FinFE, loaded by the connectors)
and one short sentiment-minilm run on it, shared by the sentiment tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from infinstruct.core.settings import Settings, load_settings
from tests.conftest import shared_path

#: Shrinks sentiment-minilm to seconds of training; the recipe's shape stays.
FAST: dict[str, Any] = {
    "optim.max_steps": 40,
    "optim.batch_size": 16,
    "optim.lr": 1.0e-4,
    "model.max_length": 64,
    "data.val_fraction": 0.0,
    "eval.baseline": False,
    "checkpoint.every_steps": 100,
}
#: Sentences per class in the PhraseBank slice: balanced, so chance and majority are both 1/3.
PER_LABEL = 200
FINFE_ITEMS = 400


def phrasebank_slice(folder: Path, per_label: int = PER_LABEL) -> Path:
    """``per_label`` 50Agree lines of each class, spread over the file (it is sorted by topic),
    and the AllAgree lines among them; original bytes and encodings (latin-1 / utf-8) kept,
    so the connector sees the real nesting and encoding quirks."""
    source = shared_path("finance", "financial_phrasebank")
    target = folder / "financial_phrasebank"
    target.mkdir(parents=True)
    by_label: dict[str, list[bytes]] = {}
    for line in (source / "Sentences_50Agree.txt").read_bytes().splitlines(keepends=True):
        by_label.setdefault(line.decode("latin-1").rsplit("@", 1)[1].strip(), []).append(line)
    chosen = [
        line for lines in by_label.values() for line in lines[:: max(1, len(lines) // per_label)][:per_label]
    ]
    (target / "Sentences_50Agree.txt").write_bytes(b"".join(chosen))
    wanted = {line.decode("latin-1").rsplit("@", 1)[0].strip() for line in chosen}
    all_agree = [
        line
        for line in (source / "Sentences_AllAgree.txt").read_bytes().splitlines(keepends=True)
        if line.decode("utf-8").rsplit("@", 1)[0].strip() in wanted
    ]
    (target / "Sentences_AllAgree.txt").write_bytes(b"".join(all_agree))
    return target


def finfe_slice(folder: Path, items: int = FINFE_ITEMS) -> Path:
    rows = json.loads(shared_path("zh", "fincuge_finfe", "train_list.json").read_text(encoding="utf-8"))
    target = folder / "fincuge_finfe"
    target.mkdir(parents=True)
    (target / "train_list.json").write_text(json.dumps(rows[:items], ensure_ascii=False), encoding="utf-8")
    return target


def make_store(folder: Path, template: Path) -> Settings:
    from infinstruct.services import build_ingestor

    folder.mkdir(parents=True)
    shutil.copy(template, folder / "infinstruct.db")
    settings = load_settings(data_dir=folder)
    ingest = build_ingestor(settings)
    ingest(phrasebank_slice(folder.parent / "data"), corpus="financial_phrasebank")
    ingest(finfe_slice(folder.parent / "data"), corpus="fincuge_finfe")
    return settings


@pytest.fixture(scope="session")
def sentiment_store(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Settings:
    return make_store(tmp_path_factory.mktemp("sentiment") / "var", _migrated_template)


@pytest.fixture(scope="session")
def trained(sentiment_store: Settings) -> dict[str, Any]:
    """One short sentiment-minilm run, registered as a version."""
    from infinstruct.finetune.sentiment.train import run_sentiment_recipe

    return run_sentiment_recipe(sentiment_store, "sentiment-minilm", overrides=FAST, show_progress=False)
