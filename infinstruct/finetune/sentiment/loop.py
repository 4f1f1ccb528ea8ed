"""The sentiment side of the harness loop (``infinstruct.finetune.harness.loop``): planned
batches, AdamW + warm-up, the one-file checkpoint.

Every batch of the run is planned up front from the seed, so a resumed run skips exactly the
batches it already took and sees the same data order as an uninterrupted one. A checkpoint
(model, optimiser, schedule, step, RNG) is written atomically every ``every_steps`` steps.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infinstruct.core.errors import TrainingError
from infinstruct.core.progress import Progress
from infinstruct.core.settings import Settings
from infinstruct.finetune.harness.checkpoint import load_state_file, save_state_file
from infinstruct.finetune.harness.loop import StepOutcome, Tally, run_steps, tensorboard_writer
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
    from transformers import get_linear_schedule_with_warmup

    steps = len(batches)
    optimizer = _optimizer(model, optim)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(optim.warmup_ratio * steps), steps)
    runner = _SentimentSteps(
        model, tokenizer, batches, optimizer, scheduler, optim=optim, max_length=max_length, penalty=penalty
    )
    runner.checkpoint = run_dir / CHECKPOINT
    start = runner.restore() if resume else 0
    runner.writer = tensorboard_writer(run_dir)
    model.train()
    with Progress(settings, total=steps, unit="step", desc=desc, show=show_progress) as progress:
        tally = run_steps(runner, start=start, total=steps, every_steps=every_steps, progress=progress)
    if runner.writer is not None:
        runner.writer.close()
    model.eval()
    losses = [round(x, 4) for x in tally.losses]
    return LoopResult(
        steps=steps,
        resumed_from=start,
        sentences=tally.examples,
        tokens=tally.tokens,
        seconds=round(tally.seconds, 1),
        final_loss=losses[-1] if losses else None,
        losses=losses,
    )


class _SentimentSteps:
    """The sentiment side of the harness loop: one planned batch a step, plain torch."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        batches: Sequence[Sequence[LabelledExample]],
        optimizer: Any,
        scheduler: Any,
        *,
        optim: OptimSection,
        max_length: int,
        penalty: Penalty | None,
    ) -> None:
        self.model, self.tokenizer, self.batches = model, tokenizer, batches
        self.optimizer, self.scheduler, self.optim, self.max_length = optimizer, scheduler, optim, max_length
        self.device = next(model.parameters()).device
        self.penalty = penalty
        self.checkpoint = Path(CHECKPOINT)  # set to the run's before ``restore`` / ``save``
        self.writer: Any = None  # TensorBoard, opened once resumed

    def restore(self) -> int:
        """The step a checkpoint left off at (0 without one); model, optimiser, schedule, RNG restored."""
        import torch

        if not self.checkpoint.exists():
            return 0
        state = load_state_file(self.checkpoint, device=self.device)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        log.info(
            "resumed %s at step %d of %d", self.checkpoint.parent.name, int(state["step"]), len(self.batches)
        )
        return int(state["step"])

    def forward_backward(self, step: int) -> StepOutcome:
        import torch

        batch = self.batches[step]
        enc = self.tokenizer(
            [ex.text for ex in batch],
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(self.device)
        labels = torch.tensor([ex.label for ex in batch], device=self.device)
        loss = self.model(**enc, labels=labels).loss
        (loss + self.penalty(self.model) if self.penalty is not None else loss).backward()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingError(
                f"loss became {value} at step {step + 1}; lower optim.lr (got {self.optim.lr})"
            )
        return StepOutcome(loss=value, tokens=int(enc["attention_mask"].sum()), examples=len(batch))

    def optimizer_step(self) -> None:
        import torch

        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.optim.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def log(self, step: int, outcome: StepOutcome, tally: Tally) -> dict[str, str]:
        if self.writer is not None:
            self.writer.add_scalar("train/loss", outcome.loss, step)
            self.writer.add_scalar("train/lr", self.scheduler.get_last_lr()[0], step)
        rate = round(tally.tokens_per_s, 1)
        return {"loss": f"{outcome.loss:.3f}", "tok_s": f"{rate:.0f}"}

    def save(self, step: int, tally: Tally) -> None:
        import torch

        state = {
            "step": step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        }
        save_state_file(self.checkpoint, state)
