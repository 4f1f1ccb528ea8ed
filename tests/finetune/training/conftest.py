"""A small real store (twcs support replies + PhraseBank finance answers) and one tiny-scratch
model trained on it, shared by the training tests (training even a tiny model costs seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from infinstruct.core.settings import Settings, load_settings
from tests.conftest import shared_path
from tests.finetune.training.seed import seed_examples

#: Shrinks tiny-scratch to a few seconds of training; the shape stays the recipe's.
FAST: dict[str, Any] = {
    "model.scratch.vocab_size": 600,
    "model.scratch.n_embd": 64,
    "model.scratch.n_positions": 128,
    "data.max_train": 160,
    "data.max_eval": 12,
    "data.max_seq_len": 96,
    "pretrain.steps": 6,
    "pretrain.batch_size": 4,
    "optim.max_steps": 10,
    "optim.batch_size": 4,
    "optim.warmup_steps": 1,
    "eval.generate": 2,
    "eval.max_new_tokens": 6,
    "checkpoint.every_steps": 4,
}


def make_store(folder: Path, template: Path) -> Settings:
    folder.mkdir(parents=True)
    shutil.copy(template, folder / "infinstruct.db")
    settings = load_settings(data_dir=folder)
    seed_examples(
        settings,
        twcs_csv=shared_path("support", "twcs_head5000_pandas", "twcs.csv"),
        phrasebank=shared_path("finance", "financial_phrasebank", "Sentences_AllAgree.txt"),
        support=260,
        finance=200,
    )
    return settings


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Settings:
    """A seeded store shared by the session (tests that write versions use their own)."""
    return make_store(tmp_path_factory.mktemp("tiny") / "var", _migrated_template)


@pytest.fixture(scope="session")
def tiny_trained(tiny_store: Settings) -> dict[str, Any]:
    """One tiny-scratch run (pretrain + instruction tuning), registered as a version."""
    from infinstruct.finetune.training.run import run_recipe

    return run_recipe(tiny_store, "tiny-scratch", overrides=FAST, show_progress=False)


@pytest.fixture
def seeded(settings: Settings, _migrated_template: Path) -> Settings:
    """A fresh seeded store for tests that register or activate versions."""
    return make_store(settings.data_dir.parent / "seeded", _migrated_template)
