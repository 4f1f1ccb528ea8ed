"""Continual learning: train on a new domain from an earlier model version without
forgetting the domains that version already knew.

Strategies (``continual.strategy``): ``replay`` mixes a share of earlier domains' training
examples into every batch (the default: cheapest and, measured on tiny-scratch, the one
that forgets least); ``ewc`` adds an elastic penalty pulling the weights that mattered for
earlier domains back to their old values (``continual.ewc_lambda``, combinable with replay);
``adapter`` freezes the earlier model and trains a new LoRA adapter for the new domain;
``naive`` just keeps training (the baseline forgetting is measured against).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.harness import continual as harness_continual
from infinstruct.finetune.training.data import Example, collate, encode_examples
from infinstruct.finetune.training.reports import ForgettingReport, ForgettingRow, LossMetrics

log = logging.getLogger(__name__)


def domains_seen(version: ModelVersion) -> list[str]:
    """Every domain a version was trained on, earliest first (its lineage included)."""
    seen = list(version.metrics.get("domains_seen") or [])
    for domain in (version.recipe_resolved.get("data", {}) or {}).get("domains") or []:
        if domain not in seen:
            seen.append(domain)
    return seen


def ewc_penalty(
    model: Any, tokenizer: Any, examples: list[Example], *, lam: float, max_len: int
) -> Callable[[Any], Any]:
    """The harness's EWC penalty, each earlier example's causal-LM loss its Fisher sample."""
    features = encode_examples(tokenizer, examples, max_len=max_len)
    pad = tokenizer.pad_token_id

    def loss_of(feature: dict[str, list[int]]) -> Callable[[], Any]:
        def loss() -> Any:
            device = next(model.parameters()).device
            batch = {k: v.to(device) for k, v in collate([feature], pad_id=pad).items()}
            return model(**batch).loss

        return loss

    return harness_continual.ewc_penalty(model, [loss_of(f) for f in features], lam=lam)


def forgetting_report(
    before: Mapping[str, LossMetrics], after: Mapping[str, LossMetrics]
) -> ForgettingReport:
    """Per earlier domain: held-out loss before and after, and the increase (forgetting)."""
    rows: dict[str, ForgettingRow] = {}
    for domain, old in before.items():
        new = after.get(domain, LossMetrics())
        if "loss" in old and "loss" in new:
            rows[domain] = {
                "loss_before": old["loss"],
                "loss_after": new["loss"],
                "forgetting": round(new["loss"] - old["loss"], 5),
            }
    return {
        "metric": "test loss (lower is better; forgetting = after - before)",
        "domains": rows,
        "mean_forgetting": harness_continual.mean_forgetting(rows, digits=5),
    }
