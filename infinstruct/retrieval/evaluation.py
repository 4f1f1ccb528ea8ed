"""``infinstruct eval retrieval``: dense, BM25 and hybrid on the labelled sets.

Metrics per method (``val`` queries only): ``recall@k`` is the share of queries with at
least one relevant pool item in the top k (hit rate: a BANKING77 intent has ~100 relevant
queries, of which one in the top k answers the user), ``mrr`` the mean reciprocal rank of
the first relevant item within the top ``DEPTH``, ``ndcg@10`` with binary gains.

The hybrid weight is fitted per language on the ``tune`` queries (MRR, averaged over the
sets of that language) and stored for ``search``. The control shuffles which relevance set
belongs to which query and scores the same rankings again: a metric that passes by
construction (a leak, a trivial pool) would score as well shuffled as real.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import numpy as np

from infinstruct.core.errors import NotFoundError
from infinstruct.core.settings import RetrievalSettings, Settings
from infinstruct.embeddings.embedder import embed_cached, load_embedder
from infinstruct.retrieval.evalsets import LANGS, SET_NAMES, EvalSet, load_eval_set
from infinstruct.retrieval.fusion import WEIGHT_GRID, rrf, save_weights
from infinstruct.retrieval.lexical import LexicalIndex
from infinstruct.retrieval.vectors import VectorIndex

log = logging.getLogger(__name__)

DEPTH = 100
METHODS = ("dense", "bm25", "hybrid")

# The metric names hold "@", so these reports are spelled in TypedDict's functional form.
RankingScores = TypedDict(
    "RankingScores",
    {"recall@1": float, "recall@5": float, "recall@10": float, "mrr": float, "ndcg@10": float, "n": int},
)
MethodScores = TypedDict(
    "MethodScores",
    {
        "recall@1": float,
        "recall@5": float,
        "recall@10": float,
        "mrr": float,
        "ndcg@10": float,
        "n": int,
        "control_recall@10": float,  # recall@10 against shuffled relevance: the chance level
        "pool": int,
        "dense_weight": NotRequired[float],  # hybrid only: the fitted mix it ran with
    },
)


class FittedWeight(TypedDict):
    """The hybrid mix fitted for one language on the ``tune`` split (written for ``search``)."""

    dense_weight: float
    tune_mrr: float
    sets: list[str]
    n_tune: int
    fitted_at: str


#: ``infinstruct eval retrieval --json``: per evaluation set, per method, the scores.
RetrievalEvalReport = dict[str, dict[str, MethodScores]]


def score_rankings(ranked: list[list[int]], relevant: list[frozenset[int]]) -> RankingScores:
    """recall@1/5/10, MRR and nDCG@10 of ranked pool ids against relevance sets."""
    n = len(ranked)
    if n == 0:
        return {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "mrr": 0.0, "ndcg@10": 0.0, "n": 0}
    totals = dict.fromkeys(("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"), 0.0)
    for ids, rel in zip(ranked, relevant, strict=True):
        first = next((r for r, i in enumerate(ids, start=1) if i in rel), None)
        for k in (1, 5, 10):
            totals[f"recall@{k}"] += 1.0 if first is not None and first <= k else 0.0
        totals["mrr"] += 1.0 / first if first else 0.0
        dcg = sum(1.0 / math.log2(r + 1) for r, i in enumerate(ids[:10], start=1) if i in rel)
        ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(rel), 10) + 1))
        totals["ndcg@10"] += dcg / ideal if ideal else 0.0
    mean = {key: round(value / n, 4) for key, value in totals.items()}
    return {
        "recall@1": mean["recall@1"],
        "recall@5": mean["recall@5"],
        "recall@10": mean["recall@10"],
        "mrr": mean["mrr"],
        "ndcg@10": mean["ndcg@10"],
        "n": n,
    }


def shuffled_control(ranked: list[list[int]], relevant: list[frozenset[int]], *, rounds: int = 20) -> float:
    """recall@10 after giving each query another query's relevance set (mean of ``rounds``
    seeded shuffles, so a small set's control is not one lucky draw)."""
    total = 0.0
    for seed in range(rounds):
        shuffled = list(relevant)
        random.Random(seed).shuffle(shuffled)
        total += score_rankings(ranked, shuffled)["recall@10"]
    return round(total / rounds, 4)


@dataclass
class SetRun:
    """Rankings of every query of one set by each method (hybrid needs a weight)."""

    data: EvalSet
    dense: list[list[tuple[int, float]]]
    lexical: list[list[tuple[int, float]]]

    def ranked(
        self, method: str, rows: list[int], *, weight: float = 0.5, rrf_k: int = 60
    ) -> list[list[int]]:
        out = []
        for r in rows:
            if method == "dense":
                ranked = self.dense[r]
            elif method == "bm25":
                ranked = self.lexical[r]
            else:
                ranked = rrf(self.dense[r], self.lexical[r], dense_weight=weight, k=rrf_k)
            skip = self.data.exclude[r]
            out.append([i for i, _ in ranked if i not in skip][:DEPTH])
        return out


def run_set(settings: Settings, data: EvalSet) -> SetRun:
    """Embed pool and queries (through the cache), search both ways to ``DEPTH``."""
    embedder = load_embedder(settings)
    pool_vectors = embed_cached(settings, data.pool, embedder=embedder)
    query_vectors = embed_cached(settings, data.queries, embedder=embedder)
    ids = np.arange(len(data.pool), dtype=np.int64)
    # Exact search: the evaluation measures the embeddings and the fusion, not ANN error.
    vectors = VectorIndex.build(
        pool_vectors,
        ids,
        dimension=embedder.dimension,
        cfg=RetrievalSettings(index_kind="flat", use_gpu=settings.retrieval.use_gpu),
    )
    scores, found = vectors.search(query_vectors, min(DEPTH, len(ids)))
    dense = [
        [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True) if i >= 0]
        for row_ids, row_scores in zip(found, scores, strict=True)
    ]
    lexical = LexicalIndex.build(ids.tolist(), data.pool).search(data.queries, DEPTH)
    return SetRun(data=data, dense=dense, lexical=lexical)


def fit_weight(runs: list[SetRun], *, rrf_k: int) -> tuple[float, float]:
    """The grid weight with the best mean tune-split MRR over ``runs``; (weight, mrr)."""
    best = (0.5, -1.0)
    for weight in WEIGHT_GRID:
        mrrs = []
        for run in runs:
            rows = run.data.rows("tune")
            if rows:
                ranked = run.ranked("hybrid", rows, weight=weight, rrf_k=rrf_k)
                mrrs.append(score_rankings(ranked, [run.data.relevant[r] for r in rows])["mrr"])
        if mrrs and float(np.mean(mrrs)) > best[1] + 1e-9:
            best = (weight, float(np.mean(mrrs)))
    return best


def evaluate_retrieval(
    settings: Settings,
    *,
    sets: tuple[str, ...] = SET_NAMES,
    limit: int | None = None,
    store_weights: bool = True,
) -> RetrievalEvalReport:
    """``{set: {method: metrics}}`` on the ``val`` split of every set found in the store.

    ``limit`` caps the documents read per set (tests); the fitted hybrid weights are
    written for ``search`` unless ``store_weights`` is off.
    """
    started = time.monotonic()
    runs: dict[str, SetRun] = {}
    for name in sets:
        data = load_eval_set(settings, name, limit=limit)
        if not data.rows("val") or not data.pool:
            log.warning("eval retrieval: no %s data in the store; ingest it to evaluate it", name)
            continue
        runs[name] = run_set(settings, data)
    if not runs:
        raise NotFoundError(
            "no evaluation data in the store (twcs, BANKING77 or ECD corpora); load one with "
            "`infinstruct ingest PATH`, e.g. the twcs, banking77 or ECD folders of the shared data"
        )
    weights: dict[str, FittedWeight] = {}
    for lang in sorted({LANGS[name] for name in runs}):
        members = [runs[name] for name in runs if LANGS[name] == lang]
        weight, tune_mrr = fit_weight(members, rrf_k=settings.retrieval.rrf_k)
        weights[lang] = {
            "dense_weight": weight,
            "tune_mrr": round(tune_mrr, 4),
            "sets": [m.data.name for m in members],
            "n_tune": sum(len(m.data.rows("tune")) for m in members),
            "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    if store_weights:
        save_weights(settings, weights)
    report: RetrievalEvalReport = {}
    for name, run in runs.items():
        rows = run.data.rows("val")
        relevant = [run.data.relevant[r] for r in rows]
        weight = weights[LANGS[name]]["dense_weight"]
        report[name] = {}
        for method in METHODS:
            ranked = run.ranked(method, rows, weight=weight, rrf_k=settings.retrieval.rrf_k)
            metrics: MethodScores = {
                **score_rankings(ranked, relevant),
                "control_recall@10": shuffled_control(ranked, relevant),
                "pool": len(run.data.pool),
            }
            if method == "hybrid":
                metrics["dense_weight"] = weight
            report[name][method] = metrics
    log.info("eval retrieval done in %.1fs", time.monotonic() - started)
    return report
