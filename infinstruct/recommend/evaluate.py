"""Leave-last-out evaluation and the weight fit on the leave-second-last-out split.

Protocol (per catalogue): every user with at least three events holds out their last event
(the test item) and, for fitting, their second-last (the validation item). The validation
fold trains on everything before the second-last event, so neither held-out item is ever
seen while fitting; the test fold trains on everything before the last. Each user's target
is ranked against *every* item that user has not interacted with in the fold's training
data (no sampled negatives). Tags and reviews of held-out (user, item) pairs are left out
of the item profiles of that fold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

from infinstruct.recommend.dataset import ItemData
from infinstruct.recommend.profiles import profile_texts
from infinstruct.recommend.ranking import (
    Weights,
    combine,
    hit_ndcg,
    simplex_grid,
    standardise,
    target_ranks,
)
from infinstruct.recommend.signals import (
    CoOccurrence,
    History,
    history_weights,
    popularity,
    text_scores,
)

log = logging.getLogger(__name__)

#: Fewest events a user needs to take part (a test item, a validation item, one to learn from).
MIN_EVENTS = 3
#: History weighting tried for each signal: (recency half-life in steps or None, rating power).
HISTORY_GRID: tuple[tuple[float | None, float], ...] = tuple(
    (h, p) for h in (0.5, 1.0, 3.0, 10.0, None) for p in (0.0, 2.0)
)

Embed = Callable[[list[str]], np.ndarray]

#: Hit rate and NDCG of the held-out item in the top 10 ("@" in the names: functional form).
RankerScores = TypedDict("RankerScores", {"hr@10": float, "ndcg@10": float})


class ValidationReport(TypedDict):
    """How the fitted weights did on the validation fold (saved beside the weights)."""

    users: int
    combined: RankerScores
    text: RankerScores
    collaborative: RankerScores
    popularity: RankerScores


class CorpusEvaluation(TypedDict):
    """Every ranker on one corpus's test fold, with the weights used and how they were fitted."""

    text: RankerScores
    collaborative: RankerScores
    popularity: RankerScores
    combined: RankerScores
    corpus: str
    users: int
    items: int
    events: int
    weights: dict[str, Any]
    validation: ValidationReport | None
    seconds: float


@dataclass
class Fold:
    """Which events train, which users are scored, and on which held-out item."""

    train: np.ndarray  # bool per event
    users: np.ndarray  # user indexes scored
    targets: np.ndarray  # their held-out item indexes
    held_out: set[tuple[int, int]]  # (user, item) pairs hidden from profiles


def leave_out_fold(data: ItemData, *, position: int, users: Sequence[int] | None = None) -> Fold:
    """Hold out each eligible user's ``position``-th last event; later ones are dropped too."""
    train = np.ones(data.n_events, dtype=bool)
    scored: list[int] = []
    targets: list[int] = []
    held: set[tuple[int, int]] = set()
    chosen = set(users) if users is not None else None
    for user, events in enumerate(data.user_events):
        if len(events) < MIN_EVENTS:
            continue
        dropped = events[-position:]
        train[dropped] = False
        held.update((user, int(data.ev_item[e])) for e in dropped)
        if chosen is None or user in chosen:
            scored.append(user)
            targets.append(int(data.ev_item[events[-position]]))
    return Fold(train, np.asarray(scored, dtype=np.int64), np.asarray(targets, dtype=np.int64), held)


def eligible_users(data: ItemData) -> list[int]:
    return [u for u, events in enumerate(data.user_events) if len(events) >= MIN_EVENTS]


class FoldScorer:
    """Scores a fold's users with every signal under given history weighting."""

    def __init__(self, data: ItemData, fold: Fold, vectors: np.ndarray) -> None:
        self.data, self.fold, self.vectors = data, fold, vectors
        users, items = data.ev_user[fold.train], data.ev_item[fold.train]
        self.cooc = CoOccurrence(users, items, n_users=len(data.users), n_items=data.n_items)
        self.events = [e[fold.train[e]] for e in (data.user_events[u] for u in fold.users)]
        self.candidates = np.ones((fold.users.size, data.n_items), dtype=bool)
        for row, events in enumerate(self.events):
            self.candidates[row, data.ev_item[events]] = False
        pop = np.broadcast_to(popularity(items, data.n_items), self.candidates.shape)
        self.pop_z = standardise(np.asarray(pop), self.candidates)

    def histories(self, half_life: float | None, rating_power: float) -> list[History]:
        d = self.data
        return [
            History(
                d.ev_item[e].astype(np.int64),
                history_weights(d.ev_value[e], d.ev_ts[e], half_life=half_life, rating_power=rating_power),
            )
            for e in self.events
        ]

    def signal(self, name: str, half_life: float | None = None, rating_power: float = 0.0) -> np.ndarray:
        if name == "popularity":
            return self.pop_z
        hist = self.histories(half_life, rating_power)
        raw = text_scores(hist, self.vectors) if name == "text" else self.cooc.scores(hist)
        return standardise(raw, self.candidates)

    def metrics(self, scores: np.ndarray) -> RankerScores:
        at10 = hit_ndcg(target_ranks(scores, self.fold.targets), k=10)
        return {"hr@10": at10["hr@10"], "ndcg@10": at10["ndcg@10"]}

    def weighted(self, weights: Weights) -> dict[str, np.ndarray]:
        return {
            "text": self.signal("text", weights.text_half_life, weights.text_rating_power),
            "collaborative": self.signal(
                "collaborative", weights.collab_half_life, weights.collab_rating_power
            ),
            "popularity": self.pop_z,
        }


def fit_weights(
    data: ItemData, embed: Embed, *, users: Sequence[int] | None = None
) -> tuple[Weights, ValidationReport]:
    """Pick history weighting per signal, then the mix, by NDCG@10 on the validation fold."""
    fold = leave_out_fold(data, position=2, users=users)
    if fold.users.size == 0:
        raise ValueError(f"corpus {data.corpus!r} has no user with {MIN_EVENTS}+ events to fit on")
    scorer = FoldScorer(data, fold, embed(profile_texts(data, exclude=fold.held_out)))
    chosen: dict[str, tuple[float | None, float]] = {}
    for name in ("text", "collaborative"):
        best = max(
            HISTORY_GRID,
            key=lambda hp, n=name: _key(scorer.metrics(scorer.signal(n, *hp))),  # type: ignore[misc]
        )
        chosen[name] = best
    base = Weights(
        text_half_life=chosen["text"][0],
        text_rating_power=chosen["text"][1],
        collab_half_life=chosen["collaborative"][0],
        collab_rating_power=chosen["collaborative"][1],
    )
    z = scorer.weighted(base)
    results = [(mix, scorer.metrics(combine(z, mix))) for mix in simplex_grid(0.05)]
    mix, val_metrics = max(results, key=lambda r: _key(r[1]))
    weights = Weights(**{**base.as_dict(), **mix})
    report: ValidationReport = {
        "users": int(fold.users.size),
        "combined": val_metrics,
        "text": scorer.metrics(z["text"]),
        "collaborative": scorer.metrics(z["collaborative"]),
        "popularity": scorer.metrics(z["popularity"]),
    }
    log.info("fitted recommendation weights for %s: %s (validation %s)", data.corpus, weights, val_metrics)
    return weights, report


def evaluate(
    data: ItemData, embed: Embed, *, users: Sequence[int] | None = None, weights: Weights | None = None
) -> CorpusEvaluation:
    """Fit on validation (unless ``weights`` is given), then report every ranker on the test fold."""
    started = time.monotonic()
    validation: ValidationReport | None = None
    if weights is None:
        weights, validation = fit_weights(data, embed, users=users)
    fold = leave_out_fold(data, position=1, users=users)
    scorer = FoldScorer(data, fold, embed(profile_texts(data, exclude=fold.held_out)))
    z = scorer.weighted(weights)
    return {
        "text": scorer.metrics(z["text"]),
        "collaborative": scorer.metrics(z["collaborative"]),
        "popularity": scorer.metrics(z["popularity"]),
        "combined": scorer.metrics(combine(z, weights.mix())),
        "corpus": data.corpus,
        "users": int(fold.users.size),
        "items": data.n_items,
        "events": data.n_events,
        "weights": weights.as_dict(),
        "validation": validation,
        "seconds": round(time.monotonic() - started, 1),
    }


def _key(metrics: RankerScores) -> tuple[float, float]:
    return (metrics["ndcg@10"], metrics["hr@10"])
