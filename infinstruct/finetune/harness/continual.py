"""What continual learning shares across trainers: the EWC penalty and forgetting's mean.

Each trainer decides what one example's loss is (a causal-LM loss, a classifier loss) and
what it reports per earlier domain; the Fisher, the anchors, the penalty and the DDP
``module.`` prefix rule live here once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

Penalty = Callable[[Any], Any]


def ewc_penalty(model: Any, example_losses: Sequence[Callable[[], Any]], *, lam: float) -> Penalty:
    """``lam/2 * sum F_i (theta_i - theta*_i)^2`` with the empirical diagonal Fisher.

    ``example_losses`` holds one thunk per earlier-domain example (a batch of one, so the
    squared gradients are per-example). The Fisher is divided by its mean so ``lam`` means
    the same for any model size.
    """
    import torch

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    was_training = model.training
    model.eval()  # no dropout noise in the importance estimate
    count = max(len(example_losses), 1)
    for loss_of in example_losses:
        model.zero_grad(set_to_none=True)
        loss_of().backward()
        for n, p in params.items():
            if p.grad is not None:
                fisher[n] += p.grad.detach() ** 2 / count
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    mean = torch.stack([f.mean() for f in fisher.values()]).mean().clamp_min(1e-20)
    anchors = {n: (p.detach().clone(), fisher[n] / mean) for n, p in params.items()}

    def penalty(current: Any) -> Any:
        total: Any = 0.0
        for n, p in current.named_parameters():
            key = n.removeprefix("module.")  # DDP (accelerate launch) wraps the model
            if key in anchors:
                old, weight = anchors[key]
                total = total + (weight * (p - old) ** 2).sum()
        return lam / 2 * total

    return penalty


def mean_forgetting(rows: Mapping[str, Mapping[str, Any]], *, digits: int) -> float:
    """The mean of the rows' ``forgetting`` (0.0 when no earlier domain was scored)."""
    mean = sum(r["forgetting"] for r in rows.values()) / len(rows) if rows else 0.0
    return round(mean, digits)
