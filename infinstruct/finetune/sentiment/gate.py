"""The registry gate for sentiment versions, and re-evaluation of any version.

Before a candidate is activated, the active version and the candidate are both scored on
the candidate's own held-out test split (re-split from the store as it was trained); the
candidate is refused when its macro-F1 is worse by more than ``finetune.gate_tolerance``
(relative), the same rule the dialogue gate applies to its metric.
"""

from __future__ import annotations

from typing import Final

from infinstruct.core.registry import GateVerdict, compare_metric
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.sentiment import continual
from infinstruct.finetune.sentiment.config import DataSection
from infinstruct.finetune.sentiment.data import LabelledExample, load_splits
from infinstruct.finetune.sentiment.evaluate import evaluate_scorer
from infinstruct.finetune.sentiment.reports import Evaluation
from infinstruct.sentiment.scorer import load_scorer

GATE_METRIC: Final = "macro_f1"


def held_out_split(settings: Settings, version: ModelVersion) -> list[LabelledExample]:
    """The held-out test split of a version's newest domain, re-split from the store."""
    entry = continual.lineage(version)[-1]
    data = DataSection.model_validate(entry["data"])
    return load_splits(settings, data, seed=int(entry.get("seed", 13))).test


def evaluate_version(
    settings: Settings,
    version: ModelVersion,
    examples: list[LabelledExample],
    *,
    subsets: dict[str, int] | None = None,
) -> Evaluation:
    max_length = int((version.recipe_resolved or {}).get("model", {}).get("max_length", 128))
    scorer = load_scorer(version.artefact_path, version=version.name, max_length=max_length)
    return evaluate_scorer(scorer, examples, subsets=subsets)


def sentiment_verdict(settings: Settings, candidate: ModelVersion, current: ModelVersion) -> GateVerdict:
    """Pass unless the candidate's macro-F1 regresses beyond the tolerance against the active one."""
    examples = held_out_split(settings, candidate)
    cand = evaluate_version(settings, candidate, examples)[GATE_METRIC]
    cur = evaluate_version(settings, current, examples)[GATE_METRIC]
    return compare_metric(
        GATE_METRIC,
        cand,
        cur,
        active_name=current.name,
        tolerance=settings.finetune.gate_tolerance,
        higher_is_better=True,
        details={"n": len(examples), "split": f"test of {candidate.name}"},
    )
