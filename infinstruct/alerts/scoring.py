"""Score new news items with the active sentiment model, batched, once per model version.

"New" means: a non-stale ``news`` document without a score from the active version yet.
Documents are content-hashed by the connectors, so a re-polled item is the same row and
is never scored twice; items sharing a ``guid`` (an edited description) are counted once
by the detector.

Article-level scores come from the one article scorer, ``sentiment.article.score_articles``
(the title and the first summary sentences, the title counting twice), batched by
``alerts.batch_size``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from sqlalchemy import exists, func
from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, ModelLoadError
from infinstruct.core.protocols import SentimentScorer
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, Document, ModelVersion, SentimentScore
from infinstruct.sentiment.article import score_articles

log = logging.getLogger(__name__)

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
    scores = score_articles(scorer, [(t, x) for _, t, x in pending], batch_size=settings.alerts.batch_size)
    with session_scope(settings) as session:
        for (doc_id, _, _), score in zip(pending, scores, strict=True):
            negative, neutral, positive = score.probs
            session.add(
                SentimentScore(
                    document_id=doc_id,
                    model_version_id=version_id,
                    label=score.label,
                    negative=negative,
                    neutral=neutral,
                    positive=positive,
                )
            )
    log.info(
        "scored %d new items with %s (%d left for later runs)",
        len(pending),
        scorer.version,
        total - len(pending),
    )
    return ScoreReport(scored=len(pending), remaining=int(total) - len(pending), version=scorer.version)
