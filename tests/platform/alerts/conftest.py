"""Fixtures for the alerts tests: users, a sentiment model version, and news with scores.

Scores are written directly here (the spike, ownership and delivery logic do not depend on
which model produced them); the end-to-end test scores with the real trained model.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infinstruct.platform.db import session_scope
from infinstruct.platform.settings import Settings
from infinstruct.platform.tables import Corpus, CorpusVersion, Document, ModelVersion, SentimentScore, User
from tests.conftest import shared_path

NOW = datetime(2019, 7, 24, 12, 0, tzinfo=UTC)
PROBS = {"negative": (0.9, 0.07, 0.03), "neutral": (0.05, 0.9, 0.05), "positive": (0.03, 0.07, 0.9)}
TWITTER_LABELS = {"0": "negative", "1": "positive", "2": "neutral"}


@dataclass
class NewsStore:
    settings: Settings
    version_id: int
    corpus_version: int
    corpus_id: int

    def add(
        self,
        title: str,
        at: datetime,
        label: str,
        *,
        text: str = "",
        guid: str = "",
        tickers: list[str] | None = None,
    ) -> str:
        return self.add_many([(title, at, label, text)], guid=guid, tickers=tickers)[0]

    def add_many(
        self, rows: list[tuple[str, datetime, str, str]], *, guid: str = "", tickers: list[str] | None = None
    ) -> list[str]:
        """(title, published, label, text) rows as news documents with their scores, in one commit."""
        ids = []
        with session_scope(self.settings) as session:
            for title, at, label, text in rows:
                doc_id = hashlib.sha256(f"{title}|{text}|{at.isoformat()}".encode()).hexdigest()[:32]
                neg, neu, pos = PROBS[label]
                session.add(
                    Document(
                        id=doc_id,
                        corpus_id=self.corpus_id,
                        version_id=self.corpus_version,
                        kind="news",
                        title=title,
                        text=text,
                        published_at=at,
                        meta={
                            "guid": guid,
                            "link": f"https://example.test/{doc_id}",
                            "tickers": tickers or [],
                            "source": "test",
                        },
                    )
                )
                session.flush()
                session.add(
                    SentimentScore(
                        document_id=doc_id,
                        model_version_id=self.version_id,
                        label=label,
                        negative=neg,
                        neutral=neu,
                        positive=pos,
                    )
                )
                ids.append(doc_id)
        return ids


@pytest.fixture
def store(settings: Settings) -> NewsStore:
    with session_scope(settings) as session:
        model = ModelVersion(
            name="sentiment-fixture",
            kind="sentiment",
            base="fixture",
            method="full",
            recipe="fixture",
            artefact_path="-",
        )
        corpus = Corpus(name="news-fixture", domain="finance", connector="test")
        session.add(model)
        session.add(corpus)
        session.flush()
        version = CorpusVersion(corpus_id=corpus.id, version=1, content_hash="x", status="complete")
        session.add(version)
        session.flush()
        assert model.id and corpus.id and version.id
        return NewsStore(settings, model.id, version.id, corpus.id)


@pytest.fixture
def users(settings: Settings) -> dict[str, int]:
    """Two analysts (rows written directly: password hashing is not what these tests test)."""
    out = {}
    with session_scope(settings) as session:
        for name in ("alice", "bob"):
            user = User(username=name, role="analyst", password_hash="-", email=f"{name}@example.test")
            session.add(user)
            session.flush()
            assert user.id is not None
            out[name] = user.id
    return out


def cnbc_items() -> list[tuple[str, str]]:
    """(title, description) of the real CNBC captures."""
    import feedparser

    items = []
    for path in sorted(shared_path("finance", "cnbc_finance_rss").glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            items.append((entry.get("title", ""), entry.get("summary", "")))
    return items


def twitter_headlines(label: str, limit: int) -> list[str]:
    """Real labelled financial headlines of one sentiment, cashtags stripped."""
    path = shared_path("finance", "twitter_financial_news_sentiment", "sent_train.csv")
    out: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if TWITTER_LABELS[row["label"]] == label:
                text = " ".join(w for w in row["text"].split() if not w.startswith(("$", "http")))
                if len(text) > 20:
                    out.append(text.strip(" -:"))
            if len(out) >= limit:
                break
    return out


def plant(
    store: NewsStore,
    ticker: str,
    headlines: list[str],
    label: str,
    *,
    end: datetime,
    span: timedelta = timedelta(hours=2),
) -> list[str]:
    """A burst of headlines about ``ticker`` within ``span`` before ``end``."""
    step = span / max(len(headlines), 1)
    return store.add_many(
        [(f"${ticker} {h}", end - span + step * (i + 1), label, "") for i, h in enumerate(headlines)]
    )


def background(
    store: NewsStore, *, days: int = 14, per_day: int = 3, end: datetime = NOW, ticker: str | None = None
) -> None:
    """Everyday news over ``days`` (about one in five negative); about ``ticker`` when given."""
    items = cnbc_items()
    labels = ["neutral", "positive", "negative", "neutral", "positive"]
    prefix = f"${ticker} " if ticker else ""
    rows = []
    for n in range(days * per_day):
        day, k = divmod(n, per_day)
        title, text = items[n % len(items)]
        at = end - timedelta(days=days - day) + timedelta(hours=3 + 6 * k)
        rows.append((f"{prefix}{title}", at, labels[n % len(labels)], text))
    store.add_many(rows)


@pytest.fixture
def data_root() -> Iterator[Path]:
    yield shared_path("finance")
