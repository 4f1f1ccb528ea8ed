"""The fine-tuning loop: planned batches, AdamW + warm-up, checkpoints, resume, progress.

Every batch of the run is planned up front from the seed, so a resumed run skips exactly the
batches it already took and sees the same data order as an uninterrupted one. A checkpoint
(model, optimiser, schedule, step, RNG) is written atomically every ``every_steps`` steps.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infinstruct.core.errors import TrainingError
from infinstruct.core.progress import Progress
from infinstruct.core.settings import Settings
from infinstruct.finetune.sentiment.config import OptimSection
from infinstruct.finetune.sentiment.data import LabelledExample

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
#: Batches pooled and sorted together by ``group_by_length``.
GROUP_WINDOW = 16
Penalty = Callable[[Any], Any]


def total_steps(n_train: int, optim: OptimSection) -> int:
    return optim.max_steps or optim.epochs * math.ceil(n_train / optim.batch_size)


def plan_batches(
    train: Sequence[LabelledExample],
    *,
    batch_size: int,
    steps: int,
    seed: int,
    replay: Sequence[LabelledExample] = (),
    replay_ratio: float = 0.0,
    group_by_length: bool = False,
) -> list[list[LabelledExample]]:
    """``steps`` batches: epochs of ``train`` in seeded order; with replay, a fixed share of each
    batch is drawn from the earlier domains' examples (the batch size stays the same, so a
    replay run takes the same step budget as a naive one). ``group_by_length`` sorts each
    window of ``GROUP_WINDOW`` batches by length before cutting it, then shuffles the batches:
    far less padding, the same examples per window."""
    rng = random.Random(seed)
    n_old = round(batch_size * replay_ratio) if replay else 0
    n_new = batch_size - n_old
    new_stream = _epochs(list(train), rng)
    old_stream = _epochs(list(replay), rng) if n_old else iter(())
    batches: list[list[LabelledExample]] = []
    while len(batches) < steps:
        window = min(GROUP_WINDOW if group_by_length else 1, steps - len(batches))
        new = [next(new_stream) for _ in range(window * n_new)]
        old = [next(old_stream) for _ in range(window * n_old)]
        if group_by_length:
            new.sort(key=lambda e: len(e.text))
            old.sort(key=lambda e: len(e.text))
        chunk = [new[i * n_new : (i + 1) * n_new] + old[i * n_old : (i + 1) * n_old] for i in range(window)]
        if group_by_length:
            rng.shuffle(chunk)
        batches.extend(chunk)
    return batches


def _epochs(items: list[LabelledExample], rng: random.Random) -> Any:
    if not items:
        raise TrainingError("no training examples to plan batches from")
    while True:
        order = items[:]
        rng.shuffle(order)
        yield from order


@dataclass
class LoopResult:
    steps: int
    resumed_from: int
    sentences: int
    tokens: int
    seconds: float
    final_loss: float | None
    losses: list[float] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return round(self.tokens / self.seconds, 1) if self.seconds else 0.0


def _optimizer(model: Any, optim: OptimSection) -> Any:
    import torch

    # Standard BERT practice: no weight decay on biases and LayerNorm weights.
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, param in model.named_parameters():
        if param.requires_grad:
            (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=optim.lr)


def _save(path: Path, state: dict[str, Any]) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint intact


def run_loop(
    settings: Settings,
    model: Any,
    tokenizer: Any,
    batches: Sequence[Sequence[LabelledExample]],
    *,
    optim: OptimSection,
    max_length: int,
    run_dir: Path,
    every_steps: int,
    resume: bool,
    penalty: Penalty | None = None,
    show_progress: bool = True,
    desc: str = "sentiment",
) -> LoopResult:
    """Train ``model`` on ``batches`` in order; resumes from ``run_dir/checkpoint.pt`` if asked."""
    import torch
    from torch.utils.tensorboard import SummaryWriter
    from transformers import get_linear_schedule_with_warmup

    device = next(model.parameters()).device
    steps = len(batches)
    optimizer = _optimizer(model, optim)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(optim.warmup_ratio * steps), steps)
    start = 0
    checkpoint = run_dir / CHECKPOINT
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)  # never unpickle code
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        start = int(state["step"])
        log.info("resumed %s at step %d of %d", run_dir.name, start, steps)
    writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))
    result = LoopResult(steps=steps, resumed_from=start, sentences=0, tokens=0, seconds=0.0, final_loss=None)
    began = time.monotonic()
    model.train()
    with Progress(settings, total=steps, unit="step", desc=desc, show=show_progress) as progress:
        if start:
            progress.update(start)
        for step in range(start, steps):
            batch = batches[step]
            enc = tokenizer(
                [ex.text for ex in batch],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(device)
            labels = torch.tensor([ex.label for ex in batch], device=device)
            loss = model(**enc, labels=labels).loss
            total = loss + penalty(model) if penalty is not None else loss
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), optim.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainingError(
                    f"loss became {value} at step {step + 1}; lower optim.lr (got {optim.lr})"
                )
            result.losses.append(round(value, 4))
            result.sentences += len(batch)
            result.tokens += int(enc["attention_mask"].sum())
            result.seconds = time.monotonic() - began
            writer.add_scalar("train/loss", value, step + 1)
            writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step + 1)
            progress.update(1, loss=f"{value:.3f}", tok_s=f"{result.tokens_per_s:.0f}")
            if (step + 1) % every_steps == 0 and step + 1 < steps:
                _save(
                    checkpoint,
                    {
                        "step": step + 1,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "rng": torch.get_rng_state(),
                    },
                )
    writer.close()
    model.eval()
    result.final_loss = result.losses[-1] if result.losses else None
    result.seconds = round(time.monotonic() - began, 1)
    return result
