"""Stores filled the way the connectors fill them, shared per session (embedding is costly)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from infinstruct.core.settings import Settings, load_settings
from tests.conftest import shared_path


def make_settings(folder: Path, template: Path, **overrides: object) -> Settings:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "infinstruct.db").exists():
        shutil.copy(template, folder / "infinstruct.db")
    return load_settings(data_dir=folder, **overrides)


def ingest(settings: Settings, path: Path, **kwargs: object) -> dict[str, object]:
    from infinstruct.services import build_ingestor

    return build_ingestor(settings)(path, **kwargs)  # type: ignore[arg-type]


def banking_slice(target: Path, *, every: int, offset: int = 0) -> Path:
    """Every ``every``-th BANKING77 row (all 77 intents) as a small copy of train.csv."""
    source = shared_path("support", "banking77", "train.csv")
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    target.mkdir(parents=True, exist_ok=True)
    out = target / "train.csv"
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(rows[0])
        writer.writerows(rows[1 + offset :: every])
    return target


def add_news(settings: Settings) -> None:
    """A tiny finance corpus written as the news connector would (title, tickers, dates)."""
    from infinstruct.core.db import session_scope
    from infinstruct.core.tables import Corpus, CorpusVersion, Document

    long_body = " ".join(
        f"Paragraph {i} explains how the central bank kept interest rates unchanged this quarter."
        for i in range(30)
    )
    items = [
        (
            "Apple beats earnings estimates",
            "iPhone sales drove record revenue.",
            ["AAPL"],
            datetime(2024, 1, 10, tzinfo=UTC),
        ),
        (
            "Tesla recalls vehicles",
            "A software fault forced a recall of cars.",
            ["TSLA"],
            datetime(2024, 3, 5, tzinfo=UTC),
        ),
        ("Rates on hold", long_body, ["SPY"], datetime(2024, 6, 1, tzinfo=UTC)),
    ]
    with session_scope(settings) as session:
        corpus = Corpus(name="news-test", domain="finance", connector="news")
        session.add(corpus)
        session.flush()
        version = CorpusVersion(corpus_id=corpus.id, version=1, content_hash="x", status="complete")  # type: ignore[arg-type]
        session.add(version)
        session.flush()
        for title, body, tickers, when in items:
            session.add(
                Document(
                    id=hashlib.sha256(f"news-test:news:{title}".encode()).hexdigest()[:32],
                    corpus_id=corpus.id,  # type: ignore[arg-type]
                    version_id=version.id,  # type: ignore[arg-type]
                    kind="news",
                    title=title,
                    text=body,
                    published_at=when,
                    meta={"tickers": tickers, "source": "test"},
                )
            )


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Iterator[Settings]:
    """BANKING77 slice (~260 rows) through the real ingestor + three news documents."""
    root = tmp_path_factory.mktemp("retrieval-store")
    settings = make_settings(root / "var", _migrated_template)
    ingest(settings, banking_slice(root / "bank-a", every=40), corpus="bank-a")
    add_news(settings)
    yield settings
