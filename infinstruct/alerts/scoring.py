"""Score new news items with the active sentiment model, batched, once per model version.

"New" means: a non-stale ``news`` document without a score from the active version yet.
Documents are content-hashed by the connectors, so a re-polled item is the same row and
is never scored twice; items sharing a ``guid`` (an edited description) are counted once
by the detector.

Article-level score: the title and the first summary sentences are scored as separate
units in one batch and averaged, the title counting twice — a headline carries the news,
a summary sentence often only context.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, func
from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, ModelLoadError
from infinstruct.core.protocols import SENTIMENT_LABELS, SentimentScorer
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, Document, ModelVersion, SentimentScore

log = logging.getLogger(__name__)

MAX_SUMMARY_SENTENCES = 3
TITLE_WEIGHT = 2.0
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")

NO_MODEL = (
    "no active sentiment model; train one with `infinstruct train sentiment-minilm` "
    "(it is activated when it passes the gate), then run the alerts again"
)


def load_scorer(settings: Settings) -> SentimentScorer:
    """The active sentiment scorer, or an ``InputError`` naming the recipe that makes one."""
    try:
        module = importlib.import_module("infinstruct.sentiment")
    except ModuleNotFoundError:
        raise InputError(NO_MODEL) from None
    scorer = module.load_active_scorer(settings)
    if scorer is None:
        raise InputError(NO_MODEL)
    if not isinstance(scorer, SentimentScorer):
        raise ModelLoadError(f"the active sentiment scorer {scorer!r} lacks .version/.score()")
    return scorer


def model_version_id(settings: Settings, version: str) -> int:
    """The registry id of the scorer's version (by name, else a numeric id)."""
    with session_scope(settings) as session:
        row = session.exec(select(ModelVersion).where(ModelVersion.name == version)).first()
        if row is None and version.isdigit():
            row = session.get(ModelVersion, int(version))
        if row is None or row.id is None:
            raise ModelLoadError(
                f"the sentiment scorer reports version {version!r}, which is not in the registry; "
                "see `infinstruct models list --kind sentiment`"
            )
        return row.id


def article_units(title: str, text: str) -> list[tuple[str, float]]:
    """(text, weight) units of one article: the title and the first summary sentences."""
    units: list[tuple[str, float]] = []
    if title.strip():
        units.append((title.strip(), TITLE_WEIGHT))
    sentences = [s.strip() for s in _SENTENCE_END.split(text or "") if s.strip()]
    units.extend((s, 1.0) for s in sentences[:MAX_SUMMARY_SENTENCES])
    return units or [("", 1.0)]


def score_articles(
    scorer: SentimentScorer, articles: Sequence[tuple[str, str]], *, batch_size: int
) -> list[list[float]]:
    """Probabilities (negative, neutral, positive) per (title, text) article."""
    units: list[str] = []
    owners: list[tuple[int, float]] = []
    for index, (title, text) in enumerate(articles):
        for unit, weight in article_units(title, text):
            units.append(unit)
            owners.append((index, weight))
    sums = [[0.0, 0.0, 0.0] for _ in articles]
    weights = [0.0 for _ in articles]
    for start in range(0, len(units), batch_size):
        probs = scorer.score(units[start : start + batch_size])
        for row, (index, weight) in zip(probs, owners[start : start + batch_size], strict=True):
            for j in range(3):
                sums[index][j] += weight * float(row[j])
            weights[index] += weight
    return [[v / w for v in s] if w else [0.0, 1.0, 0.0] for s, w in zip(sums, weights, strict=True)]


@dataclass(frozen=True)
class ScoreReport:
    scored: int
    remaining: int
    version: str


def score_new_items(settings: Settings, scorer: SentimentScorer) -> ScoreReport:
    """Score up to ``alerts.max_items_per_run`` unscored news items (newest first)."""
    version_id = model_version_id(settings, scorer.version)
    unscored = ~exists().where(
        col(SentimentScore.document_id) == col(Document.id),
        col(SentimentScore.model_version_id) == version_id,
    )
    # Finance news only: a help centre loaded as title/text articles is news-shaped, not news.
    finance = select(Corpus.id).where(Corpus.domain == "finance")
    base = select(Document).where(
        Document.kind == "news",
        col(Document.stale).is_(False),
        col(Document.corpus_id).in_(finance),
        unscored,
    )
    with session_scope(settings) as session:
        total = session.exec(select(func.count()).select_from(base.subquery())).one()
        docs = session.exec(
            base.order_by(func.coalesce(col(Document.published_at), col(Document.created_at)).desc()).limit(
                settings.alerts.max_items_per_run
            )
        ).all()
        pending = [(d.id, d.title, d.text) for d in docs]
    if not pending:
        return ScoreReport(scored=0, remaining=0, version=scorer.version)
    probs = score_articles(scorer, [(t, x) for _, t, x in pending], batch_size=settings.alerts.batch_size)
    with session_scope(settings) as session:
        for (doc_id, _, _), p in zip(pending, probs, strict=True):
            label = SENTIMENT_LABELS[max(range(3), key=lambda j: p[j])]
            session.add(
                SentimentScore(
                    document_id=doc_id,
                    model_version_id=version_id,
                    label=label,
                    negative=p[0],
                    neutral=p[1],
                    positive=p[2],
                )
            )
    log.info(
        "scored %d new items with %s (%d left for later runs)",
        len(pending),
        scorer.version,
        total - len(pending),
    )
    return ScoreReport(scored=len(pending), remaining=int(total) - len(pending), version=scorer.version)
