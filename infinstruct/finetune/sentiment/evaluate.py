"""Classification metrics (accuracy, macro-F1, per-class report) and the JSON + Markdown report.

Plain numpy, so the same numbers come out for the fine-tuned model, the frozen baseline and
any version re-evaluated by the gate or by ``infinstruct eval sentiment``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.protocols import SENTIMENT_LABELS, SentimentScorer
from infinstruct.finetune.harness import report as harness_report
from infinstruct.finetune.sentiment.data import LabelledExample
from infinstruct.finetune.sentiment.reports import ClassReport, ClassRow, Evaluation, SubsetReport


def classification_report(y_true: Sequence[int], y_pred: Sequence[int]) -> ClassReport:
    """``accuracy``, ``macro_f1``, ``n`` and ``per_class`` {label: precision, recall, f1, support}."""
    true = np.asarray(y_true, dtype=np.int64)
    pred = np.asarray(y_pred, dtype=np.int64)
    n = int(true.size)
    per_class: dict[str, ClassRow] = {}
    f1s = []
    for index, label in enumerate(SENTIMENT_LABELS):
        tp = int(((pred == index) & (true == index)).sum())
        predicted = int((pred == index).sum())
        support = int((true == index).sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
            "support": support,
        }
        if support:  # a class absent from the data does not drag macro-F1 to zero
            f1s.append(f1)
    return {
        "accuracy": round(float((true == pred).mean()) if n else 0.0, 4),
        "macro_f1": round(float(np.mean(f1s)) if f1s else 0.0, 4),
        "n": n,
        "per_class": per_class,
    }


def agreement_subset(examples: Sequence[LabelledExample], minimum: int) -> list[int]:
    """Indices of examples with annotator agreement >= ``minimum`` (those with none are left out)."""
    return [i for i, ex in enumerate(examples) if ex.agreement is not None and ex.agreement >= minimum]


def report_predictions(
    examples: Sequence[LabelledExample],
    predictions: Sequence[int],
    *,
    subsets: Mapping[str, int] | None = None,
) -> Evaluation:
    """Top-level metrics on all examples plus one block per named agreement subset."""
    truth = [ex.label for ex in examples]
    report: Evaluation = {**classification_report(truth, predictions)}
    blocks: dict[str, SubsetReport] = {}
    for name, minimum in (subsets or {}).items():
        idx = agreement_subset(examples, minimum)
        if idx:
            blocks[name] = {
                "min_agreement": minimum,
                **classification_report([truth[i] for i in idx], [predictions[i] for i in idx]),
            }
    if blocks:
        report["subsets"] = blocks
    return report


def evaluate_scorer(
    scorer: SentimentScorer, examples: Sequence[LabelledExample], *, subsets: Mapping[str, int] | None = None
) -> Evaluation:
    """Score ``examples`` (batched) and report against their labels, with ``log_loss``: the
    alerts threshold these probabilities, so how much they trust a wrong answer matters too."""
    probs = np.asarray(scorer.score([ex.text for ex in examples]))
    predictions = [int(i) for i in probs.argmax(axis=1)] if len(examples) else []
    report = report_predictions(examples, predictions, subsets=subsets)
    report["log_loss"] = log_loss(probs, [ex.label for ex in examples])
    return report


def log_loss(probs: np.ndarray, labels: Sequence[int]) -> float:
    """Mean negative log-probability of the true label (0 for no examples)."""
    if not len(labels):
        return 0.0
    true = np.asarray(probs)[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)]
    return round(float(-np.log(np.clip(true, 1e-12, 1.0)).mean()), 4)


def write_report(folder: Path, report: Mapping[str, Any]) -> tuple[Path, Path]:
    """``eval.json`` and ``eval.md`` in ``folder`` (the harness's writer)."""
    return harness_report.write_report(folder, report, render_markdown)


def _metric_rows(name: str, block: Mapping[str, Any]) -> list[str]:
    rows = [f"| {name} | {block.get('n', '')} | {block.get('accuracy', '')} | {block.get('macro_f1', '')} |"]
    for sub, inner in (block.get("subsets") or {}).items():
        rows.append(f"| {name} · {sub} | {inner['n']} | {inner['accuracy']} | {inner['macro_f1']} |")
    return rows


def render_markdown(report: Mapping[str, Any]) -> str:
    """A human report: headline metrics, subsets, baseline, per-class table, forgetting."""
    lines = [f"# Sentiment evaluation: {report.get('version', report.get('recipe', ''))}", ""]
    lines += ["| split | n | accuracy | macro-F1 |", "|---|---:|---:|---:|"]
    lines += _metric_rows("test", report.get("test", {}))
    if report.get("baseline"):
        lines += _metric_rows("baseline (frozen MiniLM + LR)", report["baseline"])
    if report.get("validation"):
        lines += _metric_rows("validation", report["validation"])
    per_class = report.get("test", {}).get("per_class", {})
    if per_class:
        lines += [
            "",
            "## Per class (test)",
            "",
            "| class | precision | recall | F1 | support |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {label} | {row['precision']} | {row['recall']} | {row['f1']} | {row['support']} |"
            for label, row in per_class.items()
        ]
    forgetting = report.get("forgetting")
    if forgetting:
        lines += ["", f"## Forgetting (strategy: {forgetting.get('strategy')})", ""]
        lines += ["| earlier domain | accuracy before | after | forgetting |", "|---|---:|---:|---:|"]
        lines += [
            f"| {d} | {row['accuracy_before']} | {row['accuracy_after']} | {row['forgetting']} |"
            for d, row in forgetting.get("domains", {}).items()
        ]
    if report.get("train"):
        lines += ["", "## Training", "", "```", json.dumps(report["train"], indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"
