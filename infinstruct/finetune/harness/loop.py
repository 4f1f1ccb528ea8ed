"""The step loop every trainer runs, in one screen (nanoGPT's shape):

    for step in range(start, total):
        forward + backward   -> the trainer's (micro-batches, autocast, EWC penalty)
        optimiser update     -> the trainer's (clip, step, schedule, zero grads)
        tally, log, progress
        checkpoint every N steps (never the last: the artefact is saved instead)

A trainer hands in a ``StepRunner`` holding what differs: its batches, its model call, its
optimiser and its checkpoint format. Resume is the trainer's too (it restores its state and
passes ``start``); the loop only never repeats a step.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from infinstruct.core.progress import Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepOutcome:
    """What one optimiser step trained on."""

    loss: float  # the data loss (the EWC penalty excluded), mean over micro-batches
    tokens: int  # non-pad tokens, over every process
    examples: int


@dataclass
class Tally:
    """Running totals of the steps this process ran (resumed steps excluded)."""

    tokens: int = 0
    examples: int = 0
    losses: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, outcome: StepOutcome) -> None:
        self.tokens += outcome.tokens
        self.examples += outcome.examples
        self.losses.append(outcome.loss)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)


class StepRunner(Protocol):
    """One trainer's side of the loop."""

    def forward_backward(self, step: int) -> StepOutcome:
        """Forward and backward of step ``step`` (0-based); gradients accumulate in the model."""
        ...

    def optimizer_step(self) -> None:
        """Clip, step the optimiser and the schedule, zero the gradients."""
        ...

    def log(self, step: int, outcome: StepOutcome, tally: Tally) -> dict[str, str]:
        """Metrics after ``step`` steps (TensorBoard); returns the progress bar's postfix."""
        ...

    def save(self, step: int, tally: Tally) -> None:
        """A resumable checkpoint after ``step`` steps."""
        ...


def run_steps(runner: StepRunner, *, start: int, total: int, every_steps: int, progress: Progress) -> Tally:
    """Steps ``start`` .. ``total - 1``; a checkpoint every ``every_steps`` (except after the last)."""
    tally = Tally()
    progress.update(start)  # resumed steps count as done
    for step in range(start, total):
        outcome = runner.forward_backward(step)
        runner.optimizer_step()
        tally.add(outcome)
        progress.update(1, **runner.log(step + 1, outcome, tally))
        if (step + 1) % every_steps == 0 and step + 1 < total:
            runner.save(step + 1, tally)
    return tally


def tensorboard_writer(run_dir: Path) -> Any:
    """A TensorBoard writer logging under ``run_dir/tensorboard`` (None without tensorboard)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a dependency, but a trimmed install still trains
        log.warning("tensorboard is not installed; no event logs for this run")
        return None
    return SummaryWriter(log_dir=str(run_dir / "tensorboard"))
