"""The dialogue side of the harness loop (``infinstruct.finetune.harness.loop``): phases,
their seeded batches, the optimiser and schedule, ``accelerate``.

One loop serves every method and phase (self-supervised pretraining, then instruction
tuning). The batch of each step is a pure function of (seed, step, rank), so a resumed run
sees exactly the batches the killed run would have seen next. ``accelerate`` handles device
placement and DDP under ``accelerate launch``; on one CPU it is a no-op. bf16 autocast is the
loop's own (the recipe's ``bf16``), around the training forward only: accelerate's
``mixed_precision`` is one process-wide state (a later fp32 run in the same process would be
refused) and it wraps ``model.forward``, so evaluation after training would run in bf16 too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from infinstruct.core.progress import Progress
from infinstruct.core.settings import Settings
from infinstruct.finetune.harness.checkpoint import (
    Resumed,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from infinstruct.finetune.harness.loop import StepOutcome, Tally, run_steps, tensorboard_writer
from infinstruct.finetune.training.config import FinetuneConfig
from infinstruct.finetune.training.data import collate

log = logging.getLogger(__name__)

Features = list[dict[str, list[int]]]


class Stream:
    """An endless, seeded, epoch-wise shuffled walk over ``features``."""

    def __init__(self, features: Features, *, seed: int) -> None:
        if not features:
            raise ValueError("a data stream needs at least one example")
        self.features, self.seed = features, seed
        self._perms: dict[int, list[int]] = {}

    def take(self, start: int, count: int) -> Features:
        import random

        n = len(self.features)
        out = []
        for pos in range(start, start + count):
            epoch, offset = divmod(pos, n)
            if epoch not in self._perms:
                perm = list(range(n))
                random.Random(self.seed * 1_000_003 + epoch).shuffle(perm)
                self._perms = {epoch: perm}  # one epoch at a time is all a walk needs
            out.append(self.features[self._perms[epoch][offset]])
        return out


@dataclass
class Phase:
    """A stretch of steps with its own data mix and learning-rate scale."""

    name: str
    steps: int
    lr_scale: float
    mix: list[tuple[Stream, int]]  # (stream, examples per micro-batch)

    def batch(self, step_in_phase: int, micro: int, *, accum: int, rank: int, world: int) -> Features:
        slot = (step_in_phase * accum + micro) * world + rank
        return [f for stream, count in self.mix for f in stream.take(slot * count, count)]


def split_over_processes(phases: Sequence[Phase], world: int) -> list[Phase]:
    """Under ``accelerate launch`` each of ``world`` processes takes 1/world of every
    micro-batch, so a step sees the same examples, and the same global batch, as one process."""
    if world == 1:
        return list(phases)
    uneven = sorted({count for phase in phases for _, count in phase.mix if count % world})
    if uneven:
        from infinstruct.core.errors import ConfigError

        raise ConfigError(
            f"batch sizes {uneven} do not split evenly over {world} processes; "
            f"use batch sizes that are multiples of {world}"
        )
    return [replace(phase, mix=[(stream, count // world) for stream, count in phase.mix]) for phase in phases]


@dataclass
class LoopResult:
    steps: int
    tokens: int
    seconds: float
    tokens_per_s: float
    last_loss: float | None
    resumed_from: int | None
    peak_memory_mb: float
    losses: list[float] = field(default_factory=list)
    #: Whether the training forward ran under bf16 autocast (the recipe's ``bf16``, resolved).
    bf16: bool = False


def lr_multiplier(kind: str, step: int, *, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / max(warmup, 1)
    if kind in {"constant", "constant_with_warmup"}:
        return 1.0
    progress = (step - warmup) / max(total - warmup, 1)
    if kind == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def build_optimizer(config: FinetuneConfig, model: Any, phases: Sequence[Phase]) -> tuple[Any, Any]:
    """Optimiser + a LambdaLR whose multiplier follows the phase of each step."""
    import torch

    o = config.optim
    params = [p for p in model.parameters() if p.requires_grad]
    if o.optimizer == "sgd":
        optimizer: Any = torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    else:
        optimizer = torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    bounds = []
    start = 0
    for phase in phases:
        bounds.append((start, phase))
        start += phase.steps

    def multiplier(step: int) -> float:
        for begin, phase in reversed(bounds):
            if step >= begin:
                warm = min(o.warmup_steps, max(phase.steps - 1, 0))
                return phase.lr_scale * lr_multiplier(
                    o.scheduler, step - begin, warmup=warm, total=phase.steps
                )
        return 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


def peak_memory_mb() -> float:
    import resource

    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_loop(
    settings: Settings | None,
    config: FinetuneConfig,
    *,
    model: Any,
    pad_id: int,
    phases: Sequence[Phase],
    run_dir: Path,
    resume: bool,
    accelerator: Any,
    penalty: Callable[[Any], Any] | None = None,
    show_progress: bool = True,
) -> LoopResult:
    """Train ``model`` through ``phases``; checkpoints under ``run_dir/checkpoints``."""
    import torch

    torch.manual_seed(config.optim.seed)
    optimizer, scheduler = build_optimizer(config, model, phases)
    model, optimizer = accelerator.prepare(model, optimizer)
    total = sum(p.steps for p in phases)
    steps = _DialogueSteps(
        config,
        model,
        optimizer,
        scheduler,
        accelerator,
        phases=split_over_processes(phases, accelerator.num_processes),
        penalty=penalty,
        run_dir=run_dir,
        pad_id=pad_id,
    )
    resumed = steps.restore() if resume else None
    start = resumed.step if resumed else 0
    main = accelerator.is_main_process
    model.train()
    with Progress(
        settings if main else None,
        total=total,
        unit="step",
        desc=f"train {config.name}",
        show=show_progress and main,
    ) as bar:
        tally = run_steps(
            steps, start=start, total=total, every_steps=config.checkpoint.every_steps, progress=bar
        )
    if steps.writer is not None:
        steps.writer.close()
    seconds = tally.seconds
    return LoopResult(
        steps=total,
        tokens=steps.resumed_tokens + tally.tokens,
        seconds=round(seconds, 2),
        tokens_per_s=round(tally.tokens / max(seconds, 1e-9), 1),
        last_loss=tally.losses[-1] if tally.losses else None,
        resumed_from=resumed.step if resumed else None,
        peak_memory_mb=round(peak_memory_mb(), 1),
        losses=tally.losses,
        bf16=steps.bf16,
    )


class _DialogueSteps:
    """The dialogue side of the harness loop: phased micro-batches under ``accelerate``."""

    def __init__(
        self,
        config: FinetuneConfig,
        model: Any,
        optimizer: Any,
        scheduler: Any,
        accelerator: Any,
        *,
        phases: Sequence[Phase],
        penalty: Callable[[Any], Any] | None,
        run_dir: Path,
        pad_id: int,
    ) -> None:
        self.config, self.model, self.optimizer, self.scheduler = config, model, optimizer, scheduler
        self.accelerator, self.phases, self.penalty, self.pad_id = accelerator, phases, penalty, pad_id
        self.total = sum(p.steps for p in phases)
        self.ckpt_dir = run_dir / "checkpoints"
        self.writer = tensorboard_writer(run_dir) if accelerator.is_main_process else None
        self.phase_name = ""
        self.resumed_tokens = 0
        self.bf16 = config.mixed_bf16(accelerator.device.type)

    def restore(self) -> Resumed | None:
        found = list_checkpoints(self.ckpt_dir)
        if not found:
            return None
        unwrapped = self.accelerator.unwrap_model(self.model)
        state = load_checkpoint(
            found[-1], model=unwrapped, optimizer=self.optimizer, scheduler=self.scheduler
        )
        self.resumed_tokens = state.tokens
        return state

    def forward_backward(self, step: int) -> StepOutcome:
        import torch

        acc, accum = self.accelerator, self.config.optim.grad_accum
        phase, begin = _phase_at(self.phases, step)
        self.phase_name = phase.name
        loss_sum, tokens = 0.0, 0
        for micro in range(accum):
            examples = phase.batch(
                step - begin, micro, accum=accum, rank=acc.process_index, world=acc.num_processes
            )
            batch = {k: v.to(acc.device) for k, v in collate(examples, pad_id=self.pad_id).items()}
            with torch.autocast(acc.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                loss = self.model(**batch).loss
                if self.penalty is not None and phase.name != "pretrain":
                    loss = loss + self.penalty(self.model)
            acc.backward(loss / accum)
            loss_sum += float(loss.detach()) / accum
            tokens += int(batch["attention_mask"].sum()) * acc.num_processes
        return StepOutcome(loss=loss_sum, tokens=tokens, examples=0)

    def optimizer_step(self) -> None:
        self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.optim.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def log(self, step: int, outcome: StepOutcome, tally: Tally) -> dict[str, str]:
        rate = tally.tokens_per_s
        if self.writer is not None and (step % self.config.log_every == 0 or step == self.total):
            self.writer.add_scalar(f"{self.phase_name}/loss", outcome.loss, step)
            self.writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], step)
            self.writer.add_scalar("train/tokens_per_s", rate, step)
        return {"phase": self.phase_name, "loss": f"{outcome.loss:.3f}", "tok_s": f"{rate:.0f}"}

    def save(self, step: int, tally: Tally) -> None:
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            save_checkpoint(
                self.ckpt_dir,
                model=self.accelerator.unwrap_model(self.model),
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                step=step,
                tokens=self.resumed_tokens + tally.tokens,
                keep=self.config.checkpoint.keep,
            )


def _phase_at(phases: Sequence[Phase], step: int) -> tuple[Phase, int]:
    begin = 0
    for phase in phases:
        if step < begin + phase.steps:
            return phase, begin
        begin += phase.steps
    raise IndexError(step)
