"""The sentiment trainer's typed reports: an evaluation, ``eval sentiment``'s result and the
run result ``train --json`` prints. TypedDicts, so the JSON stays exactly these keys."""

from __future__ import annotations

from typing import Any, TypedDict


class ClassRow(TypedDict):
    precision: float
    recall: float
    f1: float
    support: int


class ClassReport(TypedDict):
    """``classification_report``: headline metrics and one row per label."""

    accuracy: float
    macro_f1: float
    n: int
    per_class: dict[str, ClassRow]


class SubsetReport(ClassReport):
    min_agreement: int


class Evaluation(ClassReport, total=False):
    """``evaluate_scorer`` / ``report_predictions``: agreement subsets when asked, ``log_loss``
    when probabilities were scored."""

    subsets: dict[str, SubsetReport]
    log_loss: float


class FileEvaluation(Evaluation, total=False):
    """``infinstruct eval sentiment --data PATH --json``."""

    model: str
    data: str
    connector: str | None
    quarantined: int


class ForgettingRow(TypedDict):
    n: int
    accuracy_before: float
    accuracy_after: float
    macro_f1_before: float
    macro_f1_after: float
    forgetting: float
    forgetting_macro_f1: float


class ForgettingReport(TypedDict):
    metric: str
    strategy: str
    domains: dict[str, ForgettingRow]
    mean_forgetting: float


class RunResult(TypedDict, total=False):
    """``infinstruct train RECIPE --json`` of a ``kind: sentiment`` recipe (test metrics flattened;
    None when a selection sweep trained with ``eval.test`` off)."""

    version: str
    artefact_path: str
    run_dir: str
    kind: str
    report_json: str
    report_md: str
    accuracy: float | None
    macro_f1: float | None
    n: int | None
    per_class: dict[str, ClassRow] | None
    subsets: dict[str, SubsetReport] | None
    baseline: BaselineEvaluation
    forgetting: ForgettingReport
    train: dict[str, Any]


class BaselineEvaluation(Evaluation, total=False):
    """The frozen-encoder + logistic-regression baseline, scored like the model."""

    method: str


class EvalReport(TypedDict, total=False):
    """``eval.json`` beside a sentiment artefact."""

    recipe: str
    domain: str
    examples: dict[str, int]
    test: Evaluation
    validation: Evaluation
    baseline: BaselineEvaluation
    forgetting: ForgettingReport
    train: dict[str, Any]
    version: str
