"""The activation gate: before a candidate replaces the active model, the active model is
re-evaluated on the candidate's own test split and the candidate must not be worse by more
than ``finetune.gate_tolerance`` (relative) on the gate metric.

The gate metric for dialogue models is ``loss_per_char`` (response NLL per character):
unlike per-token loss it does not depend on the tokenizer, so a SmolLM2 adapter and a
scratch model are compared on the same footing.
"""

from __future__ import annotations

import logging
from typing import Final

from infinstruct.core.registry import Gate, GateVerdict, compare_metric
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.training.config import build_config
from infinstruct.finetune.training.data import load_split
from infinstruct.finetune.training.evaluate import score_loss
from infinstruct.finetune.training.reports import LossMetrics

log = logging.getLogger(__name__)

GATE_METRIC: Final = "loss_per_char"


def score_on_split(
    settings: Settings, model_version: ModelVersion, *, split_of: ModelVersion, split: str = "test"
) -> LossMetrics:
    """Loss metrics of ``model_version`` on ``split_of``'s held-out split (as it trained on it)."""
    from infinstruct.dialogue import load_version
    from infinstruct.finetune.training.bottleneck import artefact_formats

    config = build_config(
        {k: v for k, v in split_of.recipe_resolved.items() if k != "name"},
        name=split_of.recipe,
        source=f"model version {split_of.name}",
    )
    examples = load_split(settings, config.data, split, limit=config.data.max_eval)
    model, tokenizer = load_version(settings, model_version, formats=artefact_formats())
    return score_loss(
        model, tokenizer, examples, max_len=config.data.max_seq_len, batch_size=config.eval.batch_size
    )


def dialogue_verdict(settings: Settings, candidate: ModelVersion, current: ModelVersion) -> GateVerdict:
    cand = candidate.metrics.get(GATE_METRIC)
    if cand is None:
        cand = score_on_split(settings, candidate, split_of=candidate).get(GATE_METRIC)
    cur = score_on_split(settings, current, split_of=candidate).get(GATE_METRIC)
    return compare_metric(
        GATE_METRIC,
        cand,
        cur,
        active_name=current.name,
        tolerance=settings.finetune.gate_tolerance,
        higher_is_better=False,
        details={"split": f"test of {candidate.name}"},
    )


def build_gate(settings: Settings) -> Gate:
    """The gate for every model kind: dialogue here, sentiment from its own trainer."""

    def gate(candidate: ModelVersion, current: ModelVersion) -> GateVerdict:
        if candidate.kind == "dialogue":
            return dialogue_verdict(settings, candidate, current)
        try:
            from infinstruct.finetune.sentiment.gate import (  # type: ignore[import-not-found,unused-ignore]
                sentiment_verdict,
            )
        except ImportError:
            return GateVerdict(True, f"no gate for {candidate.kind} models in this build; not gated")
        verdict: GateVerdict = sentiment_verdict(settings, candidate, current)
        return verdict

    return gate
