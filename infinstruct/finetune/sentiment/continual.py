"""Continual learning for the sentiment classifier: a new domain without forgetting the old.

A run with ``--continue-from VERSION`` starts from that version's weights. Its earlier
domains (the version's lineage, recorded in ``recipe_resolved["domains"]``) are re-split
from the store exactly as they were trained, which gives the replay pool (their training
split) and the forgetting yardstick (their test split, scored before and after).

Strategies: ``replay`` (default) mixes ``replay_ratio`` of every batch from earlier domains;
``ewc`` pulls the weights that mattered for them back with a diagonal-Fisher penalty;
``naive`` just trains on the new domain — the baseline forgetting is measured against.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.harness import continual as harness_continual
from infinstruct.finetune.sentiment.config import DataSection
from infinstruct.finetune.sentiment.data import LabelledExample
from infinstruct.finetune.sentiment.reports import Evaluation, ForgettingReport, ForgettingRow

log = logging.getLogger(__name__)


def lineage(version: ModelVersion) -> list[dict[str, Any]]:
    """The domains a version was trained on, earliest first: ``{domain, data, seed}``."""
    resolved = version.recipe_resolved or {}
    domains = resolved.get("domains")
    if domains:
        return [dict(d) for d in domains]
    return [
        {
            "domain": resolved.get("domain", "finance"),
            "data": resolved.get("data", {}),
            "seed": (resolved.get("optim") or {}).get("seed", 13),
        }
    ]


def extend_lineage(
    earlier: Sequence[dict[str, Any]], domain: str, data: DataSection, seed: int
) -> list[dict[str, Any]]:
    """``earlier`` plus this run's domain (a domain trained again replaces its older entry)."""
    kept = [d for d in earlier if d["domain"] != domain]
    return [*kept, {"domain": domain, "data": data.model_dump(mode="json"), "seed": seed}]


def ewc_penalty(
    model: Any, tokenizer: Any, examples: Sequence[LabelledExample], *, lam: float, max_length: int
) -> Callable[[Any], Any]:
    """The harness's EWC penalty, each earlier sentence's classifier loss its Fisher sample."""

    def loss_of(ex: LabelledExample) -> Callable[[], Any]:
        def loss() -> Any:
            import torch

            device = next(model.parameters()).device
            enc = tokenizer([ex.text], truncation=True, max_length=max_length, return_tensors="pt").to(device)
            return model(**enc, labels=torch.tensor([ex.label], device=device)).loss

        return loss

    return harness_continual.ewc_penalty(model, [loss_of(ex) for ex in examples], lam=lam)


def forgetting_report(
    before: Mapping[str, Evaluation], after: Mapping[str, Evaluation], *, strategy: str
) -> ForgettingReport:
    """Per earlier domain: test accuracy / macro-F1 before and after; forgetting = before - after."""
    rows: dict[str, ForgettingRow] = {}
    for domain, old in before.items():
        new = after[domain]
        rows[domain] = {
            "n": old["n"],
            "accuracy_before": old["accuracy"],
            "accuracy_after": new["accuracy"],
            "macro_f1_before": old["macro_f1"],
            "macro_f1_after": new["macro_f1"],
            "forgetting": round(old["accuracy"] - new["accuracy"], 4),
            "forgetting_macro_f1": round(old["macro_f1"] - new["macro_f1"], 4),
        }
    return {
        "metric": "test accuracy of each earlier domain (forgetting = before - after; lower is better)",
        "strategy": strategy,
        "domains": rows,
        "mean_forgetting": harness_continual.mean_forgetting(rows, digits=4),
    }
