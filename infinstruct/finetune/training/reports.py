"""The dialogue trainer's typed reports: a split's evaluation, ``eval model``'s result and
the run result ``train --json`` prints. TypedDicts, so the JSON stays exactly these keys."""

from __future__ import annotations

from typing import Any, TypedDict


class Sample(TypedDict):
    prediction: str
    reference: str


class LossMetrics(TypedDict, total=False):
    """``score_loss``: response-token loss of one split (only ``n`` when nothing encoded)."""

    n: int
    tokens: int
    loss: float
    perplexity: float
    loss_per_char: float


class TextMetrics(TypedDict, total=False):
    """Generated replies against the references (``embed_sim`` None without an embedder)."""

    chrf: float
    rougeL: float
    embed_sim: float | None


class SplitEvaluation(LossMetrics, TextMetrics, total=False):
    """``evaluate_model``: every metric of one split, and the first generated samples."""

    samples: list[Sample]


class VersionEvaluation(SplitEvaluation, total=False):
    """``infinstruct eval model VERSION --json``."""

    version: str
    recipe: str


class ForgettingRow(TypedDict):
    loss_before: float
    loss_after: float
    forgetting: float


class ForgettingReport(TypedDict, total=False):
    metric: str
    domains: dict[str, ForgettingRow]
    mean_forgetting: float
    strategy: str


class RunResult(TypedDict, total=False):
    """``infinstruct train RECIPE --json`` of a dialogue recipe (test metrics flattened)."""

    version: str
    artefact_path: str
    run_dir: str
    loss: float | None
    perplexity: float | None
    loss_per_char: float | None
    chrf: float | None
    rougeL: float | None
    embed_sim: float | None
    validation_loss: float | None
    val_loss_drop: float
    forgetting: ForgettingReport
    train: dict[str, Any]


class EvalReport(TypedDict, total=False):
    """``eval.json`` beside a dialogue artefact (and the ``train`` run's report)."""

    recipe: str
    splits: dict[str, SplitEvaluation]
    val_loss_drop: float
    forgetting: ForgettingReport
    train: dict[str, Any]
    version: str
    seconds: float
