"""``eval recommend``: the leave-last-out report over every usable item corpus.

The top-level ``popularity``/``text``/``collaborative``/``combined`` keys are those of the
primary corpus (the one named first, else ``recommend.corpus``, else the one with the most
events, i.e. MovieLens when it is loaded); every evaluated corpus is under ``corpora``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypedDict

import numpy as np

from infinstruct.core.errors import NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.recommend import store
from infinstruct.recommend.dataset import ItemData
from infinstruct.recommend.evaluate import CorpusEvaluation, RankerScores, eligible_users, evaluate
from infinstruct.recommend.profiles import embed_profiles
from infinstruct.recommend.ranking import Weights
from infinstruct.recommend.service import save_weights, weights_path

log = logging.getLogger(__name__)

#: A corpus is usable when this many users can be evaluated...
MIN_USERS = 10
#: ...and it has more items than this (top-10 out of 15 items measures nothing).
MIN_ITEMS = 20


class RecommendEvalReport(TypedDict):
    """``infinstruct eval recommend --json``: the primary corpus's rankers first, then every
    evaluated corpus and why the others were skipped."""

    text: RankerScores
    collaborative: RankerScores
    popularity: RankerScores
    combined: RankerScores
    corpus: str
    corpora: dict[str, CorpusEvaluation]
    skipped: dict[str, str]


def run_eval(
    settings: Settings, *, corpora: Sequence[str] = (), max_users: int | None = None
) -> RecommendEvalReport:
    """Fit on leave-second-last-out, test on leave-last-out, for each usable corpus."""
    from infinstruct.embeddings.embedder import load_embedder

    names = list(corpora) or [name for name, _ in store.item_corpora(settings)]
    if not names:
        raise NotFoundError(
            "no item catalogue is loaded; load one first, e.g. "
            "`infinstruct ingest ../shared/data/items/movielens_latest_small`"
        )
    embedder = load_embedder(settings)

    def embed(texts: list[str]) -> np.ndarray:
        return embed_profiles(settings, texts, embedder=embedder)

    reports: dict[str, CorpusEvaluation] = {}
    skipped: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for name in names:
        stamp = store.fingerprint(settings, name)
        data = store.load_item_data(settings, name)
        users = eligible_users(data)
        reason = _unusable(data, users)
        if reason:
            skipped[name] = reason
            continue
        chosen = _sample(users, max_users)
        log.info("evaluating recommendations on %s: %d users, %d items", name, len(chosen), data.n_items)
        report = evaluate(data, embed, users=chosen)
        if max_users is None or len(chosen) == len(users):
            # A fit on every user is the one serving should use: keep it for this data version.
            path = weights_path(settings, name, stamp, embedder.model_name)
            save_weights(path, Weights.from_dict(report["weights"]), report["validation"])
        reports[name] = report
        sizes[name] = data.n_events
    if not reports:
        raise NotFoundError(
            "no item corpus is usable for evaluation: " + "; ".join(f"{n}: {r}" for n, r in skipped.items())
        )
    primary = next((n for n in corpora if n in reports), None)
    if primary is None and settings.recommend.corpus in reports:
        primary = settings.recommend.corpus
    if primary is None:
        primary = max(reports, key=lambda n: sizes[n])
    top = reports[primary]
    return {
        "text": top["text"],
        "collaborative": top["collaborative"],
        "popularity": top["popularity"],
        "combined": top["combined"],
        "corpus": primary,
        "corpora": reports,
        "skipped": skipped,
    }


def _unusable(data: ItemData, users: list[int]) -> str | None:
    if data.n_items <= MIN_ITEMS:
        return f"only {data.n_items} items (needs more than {MIN_ITEMS})"
    if len(users) < MIN_USERS:
        return f"only {len(users)} users with 3+ interactions (needs {MIN_USERS})"
    return None


def _sample(users: list[int], max_users: int | None) -> list[int]:
    """Every n-th user: deterministic, and spread over the whole id range."""
    if max_users is None or len(users) <= max_users:
        return users
    step = len(users) / max_users
    return [users[int(i * step)] for i in range(max_users)]
