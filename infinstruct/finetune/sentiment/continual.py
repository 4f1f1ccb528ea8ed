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
from collections.abc import Callable, Sequence
from typing import Any

from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.sentiment.config import DataSection
from infinstruct.finetune.sentiment.data import LabelledExample

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
    """``lam/2 * sum F_i (theta_i - theta*_i)^2`` with the empirical diagonal Fisher of ``examples``.

    Per-example gradients (batch of one) give the Fisher; it is divided by its mean so
    ``lam`` means the same for any model size (the dialogue trainer's convention).
    """
    import torch

    device = next(model.parameters()).device
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    was_training = model.training
    model.eval()  # no dropout noise in the importance estimate
    for ex in examples:
        model.zero_grad(set_to_none=True)
        enc = tokenizer([ex.text], truncation=True, max_length=max_length, return_tensors="pt").to(device)
        model(**enc, labels=torch.tensor([ex.label], device=device)).loss.backward()
        for n, p in params.items():
            if p.grad is not None:
                fisher[n] += p.grad.detach() ** 2 / len(examples)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    mean = torch.stack([f.mean() for f in fisher.values()]).mean().clamp_min(1e-20)
    anchors = {n: (p.detach().clone(), fisher[n] / mean) for n, p in params.items()}

    def penalty(current: Any) -> Any:
        total: Any = 0.0
        for n, p in current.named_parameters():
            if n in anchors:
                old, weight = anchors[n]
                total = total + (weight * (p - old) ** 2).sum()
        return lam / 2 * total

    return penalty


def forgetting_report(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], *, strategy: str
) -> dict[str, Any]:
    """Per earlier domain: test accuracy / macro-F1 before and after; forgetting = before - after."""
    rows = {}
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
    mean = sum(r["forgetting"] for r in rows.values()) / len(rows) if rows else 0.0
    return {
        "metric": "test accuracy of each earlier domain (forgetting = before - after; lower is better)",
        "strategy": strategy,
        "domains": rows,
        "mean_forgetting": round(mean, 4),
    }
