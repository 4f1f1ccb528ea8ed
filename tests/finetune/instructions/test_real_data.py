"""The instruction set built from every corpus in ../shared/data, through the real connectors.

Each data set is cut to a few hundred records first (same files, same formats, a stride
sample where the file is sorted by label) so the whole test stays within its time budget;
a full build is measured separately (see docs/instructions.md).
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infinstruct import services
from infinstruct.core.db import session_scope
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import CuratedAnswer, Handoff
from infinstruct.core.text import sentence_key
from infinstruct.finetune.instructions import build_instruction_set, load_examples
from infinstruct.finetune.instructions.templates import TASKS
from tests.conftest import shared_path

pytestmark = pytest.mark.slow

#: file name -> (how, records): "head" keeps the first N, "stride" N spread over the file.
CUTS: dict[str, tuple[str, int]] = {
    "Sentences_50Agree.txt": ("head", 150),
    "Sentences_66Agree.txt": ("head", 150),
    "Sentences_75Agree.txt": ("head", 150),
    "Sentences_AllAgree.txt": ("head", 150),
    "FiQA_post.json": ("head", 120),
    "seeking_alpha_articles.csv": ("head", 120),
    "sent_train.csv": ("stride", 250),
    "AMAZON_FASHION_5.json.gz": ("head", 400),
    "ratings.csv": ("head", 1500),
    "tags.csv": ("head", 200),
    "movies.csv": ("head", 2500),
    "links.csv": ("head", 2500),
    "train.csv": ("stride", 300),
    "twcs.csv": ("head", 700),
    "train_list.json": ("stride", 200),
    "waimai_10k.csv": ("stride", 250),
}


def _pick(rows: list[Any], how: str, n: int, keep_first: int = 0) -> list[Any]:
    head, body = rows[:keep_first], rows[keep_first:]
    if how == "head" or len(body) <= n:
        return head + body[:n]
    step = len(body) / n
    return head + [body[int(i * step)] for i in range(n)]


def _cut(src: Path, dst: Path) -> None:
    how, n = CUTS.get(src.name, ("copy", 0))
    if how == "copy" or src.suffix == ".md":
        shutil.copy(src, dst)
    elif src.suffix == ".csv":
        with src.open(encoding="utf-8", newline="") as f:
            rows = list(itertools.islice(csv.reader(f), n + 1) if how == "head" else csv.reader(f))
        with dst.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(_pick(rows, how, n, keep_first=1))
    elif src.suffix == ".txt":
        lines = src.read_bytes().splitlines(keepends=True)
        dst.write_bytes(b"".join(_pick(lines, how, n)))
    elif src.name.endswith(".json.gz"):
        with gzip.open(src, "rb") as f:
            lines = f.read().splitlines(keepends=True)
        with gzip.open(dst, "wb") as f:
            f.write(b"".join(_pick(lines, how, n)))
    elif src.suffix == ".json":
        data = json.loads(src.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = dict(_pick(list(data.items()), how, n))
        else:
            data = _pick(data, how, n, keep_first=1)
        dst.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    else:
        shutil.copy(src, dst)


def _datasets(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.glob("*/*") if p.is_dir())


@pytest.fixture(scope="module")
def real(
    tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path
) -> Iterator[tuple[Settings, dict[str, Any], dict[str, Any]]]:
    root = shared_path()
    cut_root = tmp_path_factory.mktemp("shared_cut")
    data_dir = tmp_path_factory.mktemp("real") / "var"
    data_dir.mkdir()
    shutil.copy(_migrated_template, data_dir / "infinstruct.db")
    settings = load_settings(data_dir=data_dir)
    ingest = services.build_ingestor(settings)
    loads: dict[str, Any] = {}
    for folder in _datasets(root):
        target = cut_root / folder.parent.name / folder.name
        target.mkdir(parents=True)
        for src in folder.iterdir():
            if src.is_file():
                _cut(src, target / src.name)
        loads[folder.name] = ingest(target)
    # New domains (`ingest --domain NAME`): a dialogue corpus and two document corpora.
    cut = {p.name: cut_root / p.parent.name / p.name for p in _datasets(root)}
    loads["restaurants"] = ingest(cut["taskmaster1_sample"], corpus="restaurants", domain="restaurants")
    loads["shop"] = ingest(cut["ecd_taobao_customer_service"], corpus="shop", domain="ecommerce")
    loads["markets"] = ingest(cut["cnbc_finance_rss"], corpus="markets", domain="markets")
    loads["research"] = ingest(cut["seeking_alpha_summaries"], corpus="research", domain="research")
    # Curated answers and answered hand-offs are written by the chat/operator features.
    with session_scope(settings) as session:
        session.add(
            CuratedAnswer(
                question="How do I reset my online banking password?",
                answer="Choose 'Forgot password' on the login page and follow the e-mailed link.",
            )
        )
        session.add(
            CuratedAnswer(
                question="外卖超时可以退款吗？", answer="超时三十分钟以上可申请全额退款。", lang="zh"
            )
        )
        session.add(
            Handoff(
                question="Can I change the delivery address after ordering?",
                status="answered",
                answer="Yes, until the order is dispatched: use 'Edit order'.",
                answered_by="op",
            )
        )
    yield settings, loads, build_instruction_set(settings, max_per_corpus=150)


def test_every_corpus_loads_and_feeds_the_set(real: tuple[Settings, dict[str, Any], dict[str, Any]]) -> None:
    settings, loads, report = real
    names = {p.name for p in _datasets(shared_path())} | {"restaurants", "shop", "markets", "research"}
    assert set(loads) == names and all(r.get("loaded", 0) > 0 for r in loads.values()), loads
    fed = set(report["by_corpus"])
    assert {r["corpus"] for r in loads.values()} <= fed, sorted({r["corpus"] for r in loads.values()} - fed)


def test_every_task_with_both_languages(real: tuple[Settings, dict[str, Any], dict[str, Any]]) -> None:
    _, _, report = real
    by_task_lang = report["by_task_lang"]
    assert set(TASKS) == set(by_task_lang), sorted(set(TASKS) - set(by_task_lang))
    for task in TASKS:
        assert set(by_task_lang[task]) == {"en", "zh"}, (task, by_task_lang[task])
    assert set(report["by_domain"]) >= {
        "support",
        "finance",
        "items",
        "labelled",
        "restaurants",
        "ecommerce",
        "markets",
        "research",
        "curated",
    }
    # Chinese data gives Chinese examples where it exists (ECD, FinFE, FinNSP, waimai)
    zh_corpora = {"ecd_taobao_customer_service", "fincuge_finfe", "fincuge_finnsp", "waimai_10k"}
    zh_rows = load_examples(real[0], split=None, langs=["zh"])
    assert zh_corpora <= {ex.meta["corpus"] for ex in zh_rows}
    print(json.dumps({"by_task_lang": by_task_lang, "rejects": report["rejects"]}, ensure_ascii=False))


def test_filter_catches_real_duplicates_and_splits_do_not_leak(
    real: tuple[Settings, dict[str, Any], dict[str, Any]],
) -> None:
    settings, _, report = real
    rejects = report["rejects"]
    # PhraseBank's nested agreement files repeat sentences; tweets repeat with new links
    assert rejects.get("exact_duplicate", 0) + rejects.get("flagged_near_duplicate", 0) > 0, rejects
    assert report["diversity"]["by_lang"]["en"]["distinct_2"] > 0.2
    sides: dict[str, set[str]] = defaultdict(set)
    for ex in load_examples(settings, split=None):
        sides[ex.group_key].add(ex.split)
        if len(ex.messages) == 2:
            sides["s:" + sentence_key(ex.messages[0]["content"].split("\n\n")[-1])].add(ex.split)
        if ex.meta.get("user_id"):
            sides[f"u:{ex.meta['corpus']}:{ex.meta['user_id']}"].add(ex.split)
    assert all(len(s) == 1 for s in sides.values())
    assert len({s for group in sides.values() for s in group}) == 3
