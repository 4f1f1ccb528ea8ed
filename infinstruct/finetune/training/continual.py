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
from collections.abc import Callable
from typing import Any

from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.training.data import Example, collate, encode_examples

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
    """``lam/2 * sum F_i (theta_i - theta*_i)^2`` with the empirical diagonal Fisher of ``examples``.

    The Fisher is divided by its mean so ``lam`` means the same for any model size.
    """
    import torch

    pad = tokenizer.pad_token_id
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    features = encode_examples(tokenizer, examples, max_len=max_len)
    was_training = model.training
    model.eval()  # no dropout noise in the importance estimate
    for feature in features:
        model.zero_grad(set_to_none=True)
        batch = {k: v.to(next(model.parameters()).device) for k, v in collate([feature], pad_id=pad).items()}
        model(**batch).loss.backward()
        for n, p in params.items():
            if p.grad is not None:
                fisher[n] += p.grad.detach() ** 2 / max(len(features), 1)
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    mean = torch.stack([f.mean() for f in fisher.values()]).mean().clamp_min(1e-12)
    anchors = {n: (p.detach().clone(), fisher[n] / mean) for n, p in params.items()}

    def penalty(current: Any) -> Any:
        total = 0.0
        for n, p in current.named_parameters():
            key = n.removeprefix("module.")  # DDP wraps the model
            if key in anchors:
                old, weight = anchors[key]
                total = total + (weight * (p - old) ** 2).sum()
        return lam / 2 * total

    return penalty


def forgetting_report(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per earlier domain: held-out loss before and after, and the increase (forgetting)."""
    rows = {}
    for domain, old in before.items():
        new = after.get(domain, {})
        if "loss" in old and "loss" in new:
            rows[domain] = {
                "loss_before": old["loss"],
                "loss_after": new["loss"],
                "forgetting": round(new["loss"] - old["loss"], 5),
            }
    mean = sum(r["forgetting"] for r in rows.values()) / len(rows) if rows else 0.0
    return {
        "metric": "test loss (lower is better; forgetting = after - before)",
        "domains": rows,
        "mean_forgetting": round(mean, 5),
    }
