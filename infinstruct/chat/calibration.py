"""Fit the router's thresholds on held-out questions, report them on a separate half.

The calibration set: held-out in-domain questions from the store (the active model's
validation examples of support corpora such as twcs and BANKING77, or, without a
trained model, support documents) plus an equal number of the committed out-of-domain
questions, labelled abstain. Each question lands in the validation or the test half by a
hash; thresholds are fitted on the validation half (the pair that maximises the mean
per-route accuracy) and every number reported is measured on the test half.

A held-out question's own document is in the retrieval index, so it is excluded from
that question's matches: otherwise every in-domain question would match itself.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlmodel import col, select

from infinstruct.chat.answers import Route
from infinstruct.chat.eval_reports import Bounds, CalibrationReport, RouteReport
from infinstruct.chat.ood import OUT_OF_DOMAIN, half_of
from infinstruct.chat.router import Features, decide
from infinstruct.chat.thresholds import OFF_DOMAIN_GATE_OFF, Thresholds, save_thresholds
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, Document, InstructionExample, ModelVersion
from infinstruct.core.tasks import CLASSIFICATION_TASKS

if TYPE_CHECKING:
    from infinstruct.chat.router import ChatRouter

log = logging.getLogger(__name__)

#: The bounds the test half must meet.
MIN_ABSTAIN_PRECISION = 0.8
MIN_ABSTAIN_RECALL = 0.8
#: The fit prefers thresholds that meet the bounds on the validation half by this much.
BOUND_MARGIN = 0.08


@dataclass(frozen=True)
class CalibrationItem:
    question: str
    expected: Route
    origin: str
    exclude: frozenset[str] = frozenset()

    @property
    def half(self) -> str:
        return half_of(self.question)


def _pick(rows: list[tuple[str, Any]], n: int) -> list[Any]:
    """A deterministic sample of ``n`` rows (by hash of their key), not the first n."""
    ranked = sorted(rows, key=lambda r: hashlib.sha256(f"pick:{r[0]}".encode()).hexdigest())
    return [r[1] for r in ranked[:n]]


def _held_out_examples(settings: Settings, version: ModelVersion, n: int) -> list[CalibrationItem]:
    """Validation examples of the version's support domain, as model-route questions."""
    with session_scope(settings) as session:
        examples = session.exec(
            select(InstructionExample).where(
                InstructionExample.set_id == version.instruction_set_id,
                # never the test split: `eval answers` asks those questions
                InstructionExample.split == "validation",
                col(InstructionExample.task).in_(list(settings.chat.question_tasks)),
                InstructionExample.domain == "support",
            )
        ).all()
        doc_ids = [
            e.source_document_id for e in examples if e.task in CLASSIFICATION_TASKS and e.source_document_id
        ]
        texts = (
            dict(session.exec(select(Document.id, Document.text).where(col(Document.id).in_(doc_ids))).all())
            if doc_ids
            else {}
        )
    by_corpus: dict[str, list[tuple[str, CalibrationItem]]] = defaultdict(list)
    seen: set[str] = set()
    for ex in examples:
        if ex.task in CLASSIFICATION_TASKS:
            question = texts.get(ex.source_document_id or "", "")
        elif "question" in ex.meta:  # a grounded reply example: its bare customer message
            question = str(ex.meta["question"])
        else:
            question = next((m["content"] for m in ex.messages if m.get("role") == "user"), "")
        question = question.strip()
        if not question or question.casefold() in seen:
            continue
        seen.add(question.casefold())
        corpus = str(ex.meta.get("corpus", ex.domain))
        exclude = frozenset({ex.source_document_id}) if ex.source_document_id else frozenset()
        by_corpus[corpus].append((str(ex.id), CalibrationItem(question, "model", corpus, exclude)))
    return _balanced(by_corpus, n)


def _support_documents(settings: Settings, n: int) -> list[CalibrationItem]:
    """Without a trained model: support questions straight from the store (retrieval route)."""
    with session_scope(settings) as session:
        rows = session.exec(
            select(Document, Corpus.name)
            .join(Corpus, col(Corpus.id) == col(Document.corpus_id))
            .where(
                Corpus.domain == "support",
                col(Document.stale).is_(False),
                col(Document.kind).in_(["labelled", "dialogue"]),
            )
        ).all()
    by_corpus: dict[str, list[tuple[str, CalibrationItem]]] = defaultdict(list)
    for doc, corpus in rows:
        if doc.kind == "labelled":
            question = doc.text
        else:
            turns = doc.meta.get("turns") or []
            question = next(
                (
                    str(t.get("text", ""))
                    for t in turns
                    if isinstance(t, dict) and t.get("role") in ("customer", "user")
                ),
                "",
            )
        if question.strip():
            by_corpus[str(corpus)].append(
                (doc.id, CalibrationItem(question.strip(), "retrieval", str(corpus), frozenset({doc.id})))
            )
    return _balanced(by_corpus, n)


def _balanced(by_corpus: dict[str, list[tuple[str, CalibrationItem]]], n: int) -> list[CalibrationItem]:
    """``n`` items spread evenly over the corpora (a small corpus gives what it has)."""
    out: list[CalibrationItem] = []
    names = sorted(by_corpus, key=lambda c: len(by_corpus[c]))
    for i, name in enumerate(names):
        share = (n - len(out)) // (len(names) - i)
        out.extend(_pick(by_corpus[name], share))
    return out


def calibration_items(
    settings: Settings, version: ModelVersion | None, *, size: int
) -> list[CalibrationItem]:
    """In-domain held-out questions plus as many out-of-domain ones (labelled abstain)."""
    n = min(size, len(OUT_OF_DOMAIN))
    if version is not None and version.instruction_set_id is not None:
        inside = _held_out_examples(settings, version, n)
    else:
        inside = _support_documents(settings, n)
    if not inside:
        raise InputError(
            "the store holds no support questions to calibrate with; load twcs or BANKING77 "
            "with `infinstruct ingest PATH` first"
        )
    outside = [
        CalibrationItem(q, "abstain", "out_of_domain")
        for q in _pick([(q, q) for q in OUT_OF_DOMAIN], len(inside))
    ]
    return inside + outside


def route_report(items: list[CalibrationItem], routes: list[Route]) -> RouteReport:
    """Per-route accuracy, abstain precision/recall and the confusion of expected vs got."""
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for item, got in zip(items, routes, strict=True):
        confusion[item.expected][got] += 1
    per_route = {r: round(c[r] / sum(c.values()), 4) for r, c in sorted(confusion.items())}
    said_abstain = sum(1 for r in routes if r == "abstain")
    right_abstain = confusion["abstain"]["abstain"] if "abstain" in confusion else 0
    should_abstain = sum(confusion["abstain"].values()) if "abstain" in confusion else 0
    answered = [(i, r) for i, r in zip(items, routes, strict=True) if i.expected != "abstain"]
    return RouteReport(
        items=len(items),
        per_route_accuracy=per_route,
        abstain_precision=round(right_abstain / said_abstain, 4) if said_abstain else 1.0,
        abstain_recall=round(right_abstain / should_abstain, 4) if should_abstain else 1.0,
        answered_share=round(sum(1 for _, r in answered if r != "abstain") / len(answered), 4)
        if answered
        else 0.0,
        confusion={k: dict(v) for k, v in sorted(confusion.items())},
    )


def _routes(features: list[Features], thresholds: Thresholds) -> list[Route]:
    return [decide(f, thresholds) for f in features]


def _candidates(values: list[float], most: int = 120) -> Any:
    """Midpoints between neighbouring distinct scores (thinned to ``most``), plus one below
    all ("always") and one above all ("never")."""
    distinct = np.unique(np.round(np.asarray(values, dtype=np.float64), 4))
    if distinct.size == 0:
        return np.array([1.01])
    mids = (distinct[:-1] + distinct[1:]) / 2
    if mids.size > most:
        mids = mids[np.linspace(0, mids.size - 1, most).round().astype(int)]
    return np.concatenate([[distinct[0] - 1e-3], mids, [distinct[-1] + 1e-3]])


#: Off-domain margins tried by the fit (cosine differences), plus the gate switched off.
MARGINS = (*np.round(np.arange(-0.3, 0.301, 0.025), 3).tolist(), OFF_DOMAIN_GATE_OFF)
#: Most probe thresholds tried (midpoints between the items' probabilities, thinned).
PROBE_CANDIDATES = 60


def _gates(features: list[Features]) -> tuple[str, list[tuple[float, np.ndarray]]]:
    """The off-domain gate the fit tunes and its candidate settings (value, declined mask).

    The probe when every item has a probability (a trained version: chosen over the margin by
    cross-validation on the validation half, docs/chat.md), else the nearest-reference margin;
    both include the gate switched off."""
    probabilities = [f.off_domain_probability for f in features]
    off = (OFF_DOMAIN_GATE_OFF, np.zeros(len(features), dtype=bool))
    if features and all(p is not None for p in probabilities):
        p = np.array(probabilities, dtype=np.float64)
        cands = _candidates(p.tolist(), most=PROBE_CANDIDATES)
        return "probe", [*((float(t), p >= t) for t in cands if 0.0 < t <= 1.0), off]
    gap = np.array([f.off_domain_gap() for f in features])
    return "margin", [(float(m), gap >= m) for m in MARGINS]


def fit_thresholds(items: list[CalibrationItem], features: list[Features], base: Thresholds) -> Thresholds:
    """The (off-domain gate, model, retrieval) triple with the best mean per-route accuracy
    among those that meet the abstain bounds (plus a margin) on these items, or among all when
    none does; ties -> the middle of the best plateau, the choice least sensitive to small
    score shifts."""
    expected = np.array([i.expected for i in items])
    model = np.array([f.model if f.examples else -np.inf for f in features])
    retrieval = np.array([f.retrieval for f in features])
    kind, gates = _gates(features)
    best: list[tuple[float, float, float]] = []
    best_score = -1.0
    for value, gated in gates:  # declined before any similarity threshold is looked at
        score, pairs = _fit_pair(
            expected, np.where(gated, -np.inf, model), np.where(gated, -np.inf, retrieval)
        )
        if score > best_score + 1e-9:
            best_score, best = score, []
        if abs(score - best_score) <= 1e-9:
            best.extend((value, tm, tr) for tm, tr in pairs)
    gate, tm, tr = best[len(best) // 2]
    return replace(
        base,
        model=round(tm, 4),
        retrieval=round(tr, 4),
        off_domain_margin=round(gate, 4) if kind == "margin" else OFF_DOMAIN_GATE_OFF,
        off_domain_probe=round(gate, 4) if kind == "probe" else OFF_DOMAIN_GATE_OFF,
        calibrated=True,
    )


def _fit_pair(
    expected: np.ndarray, model: np.ndarray, retrieval: np.ndarray
) -> tuple[float, list[tuple[float, float]]]:
    """The best score of the (model, retrieval) grid and every pair that reaches it.

    Vectorised over the retrieval candidates: a full grid in pure Python would take
    seconds per calibration."""
    routes_seen = sorted(set(expected.tolist()))
    finite_model = model[np.isfinite(model)].tolist()
    model_cands = _candidates(finite_model) if "model" in routes_seen else np.array([1.01])
    retrieval_cands = _candidates(retrieval[np.isfinite(retrieval)].tolist())
    best: list[tuple[float, float]] = []
    best_score = -1.0
    for tm in model_cands:
        by_retrieval = retrieval[:, None] >= retrieval_cands[None, :]  # (items, candidates)
        got_model = np.broadcast_to((model >= tm)[:, None], by_retrieval.shape)
        got = {
            "model": got_model,
            "retrieval": ~got_model & by_retrieval,
            "abstain": ~got_model & ~by_retrieval,
        }
        accuracy = np.stack([got[r][expected == r].mean(axis=0) for r in routes_seen])
        scores = accuracy.mean(axis=0)
        if "abstain" in routes_seen:
            # Pairs that keep abstain recall and precision above the bounds (with a margin, since
            # the test half differs) beat every pair that does not: the bounds are the contract.
            said = got["abstain"].sum(axis=0)
            right = got["abstain"][expected == "abstain"].sum(axis=0)
            recall = right / max(int((expected == "abstain").sum()), 1)
            precision = np.where(said > 0, right / np.maximum(said, 1), 1.0)
            meets = (recall >= MIN_ABSTAIN_RECALL + BOUND_MARGIN) & (
                precision >= MIN_ABSTAIN_PRECISION + BOUND_MARGIN
            )
            scores = scores + meets.astype(float)
        for j in np.flatnonzero(scores >= scores.max() - 1e-9):
            score = float(scores[j])
            if score > best_score + 1e-9:
                best_score, best = score, []
            if abs(score - best_score) <= 1e-9:
                best.append((float(tm), float(retrieval_cands[j])))
    return best_score, best


def run_calibration(
    settings: Settings, router: ChatRouter, *, size: int | None = None, save: bool = True
) -> CalibrationReport:
    """Build the set, fit on its validation half, report on its test half, save thresholds."""
    version = router.models.version
    items = calibration_items(settings, version, size=size or settings.chat.calibration_size)
    features = router.features(
        [i.question for i in items], exclude=[i.exclude for i in items], leave_out_references=True
    )
    val = [n for n, i in enumerate(items) if i.half == "validation"]
    test = [n for n, i in enumerate(items) if i.half == "test"]
    fitted = fit_thresholds([items[n] for n in val], [features[n] for n in val], router.thresholds)
    fitted = replace(
        fitted,
        fitted={
            "model_version": version.name if version else None,
            "validation_items": len(val),
            "test_items": len(test),
            "in_domain": sum(1 for i in items if i.expected != "abstain"),
            "out_of_domain": sum(1 for i in items if i.expected == "abstain"),
        },
    )

    def report_on(idx: list[int]) -> RouteReport:
        chosen = [items[n] for n in idx]
        return route_report(chosen, _routes([features[n] for n in idx], replace(fitted, curated=2.0)))

    test_report = report_on(test)
    result = CalibrationReport(
        model_version=version.name if version else None,
        thresholds=fitted.as_dict(),
        validation=report_on(val),
        test=test_report,
        bounds=Bounds(abstain_precision=MIN_ABSTAIN_PRECISION, abstain_recall=MIN_ABSTAIN_RECALL),
        meets_bounds=test_report["abstain_precision"] >= MIN_ABSTAIN_PRECISION
        and test_report["abstain_recall"] >= MIN_ABSTAIN_RECALL,
        origins=dict(Counter(i.origin for i in items)),
    )
    if save:
        result["saved_to"] = str(save_thresholds(settings, fitted))
    log.info(
        "chat calibration: thresholds model=%.3f retrieval=%.3f off-domain margin=%.3f "
        "probe=%.3f; test abstain P=%.3f R=%.3f",
        fitted.model,
        fitted.retrieval,
        fitted.off_domain_margin,
        fitted.off_domain_probe,
        test_report["abstain_precision"],
        test_report["abstain_recall"],
    )
    return result
