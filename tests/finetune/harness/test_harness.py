"""The shared training harness: overrides, the step loop, the EWC penalty."""

from __future__ import annotations

import pytest

from infinstruct.core.errors import ConfigError
from infinstruct.core.progress import Progress
from infinstruct.finetune.harness.continual import ewc_penalty
from infinstruct.finetune.harness.loop import StepOutcome, Tally, run_steps
from infinstruct.finetune.harness.overrides import apply_overrides, parse_sets


def test_sets_parse_as_yaml_and_apply_to_a_copy() -> None:
    sets = parse_sets(["optim.max_steps=3", "data.lang=zh", "eval.test=false"])
    assert sets == {"optim.max_steps": 3, "data.lang": "zh", "eval.test": False}
    raw = {"optim": {"lr": 0.1}}
    out = apply_overrides(raw, sets)
    assert out["optim"] == {"lr": 0.1, "max_steps": 3} and out["eval"] == {"test": False}
    assert raw == {"optim": {"lr": 0.1}}  # the recipe as read is untouched
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_sets(["optim.max_steps"])
    with pytest.raises(ConfigError, match="not a section"):
        apply_overrides({"domain": "x"}, {"domain.name": 1})


class _Recorder:
    """A StepRunner that trains nothing and records what the loop asked of it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def forward_backward(self, step: int) -> StepOutcome:
        self.calls.append(f"fb{step}")
        return StepOutcome(loss=float(step), tokens=10, examples=2)

    def optimizer_step(self) -> None:
        self.calls.append("opt")

    def log(self, step: int, outcome: StepOutcome, tally: Tally) -> dict[str, str]:
        return {"loss": f"{outcome.loss:.1f}"}

    def save(self, step: int, tally: Tally) -> None:
        self.calls.append(f"save{step}")


def test_loop_resumes_where_asked_and_never_checkpoints_the_last_step() -> None:
    runner = _Recorder()
    with Progress(None, total=5, unit="step", desc="t", show=False) as bar:
        tally = run_steps(runner, start=1, total=5, every_steps=2, progress=bar)
    # steps are 0-based; "saveN" is after N steps done: 2 and 4, never 5 (the artefact is saved)
    assert runner.calls == ["fb1", "opt", "save2", "fb2", "opt", "fb3", "opt", "save4", "fb4", "opt"]
    assert tally.losses == [1.0, 2.0, 3.0, 4.0] and tally.tokens == 40 and tally.examples == 8


def test_ewc_penalty_sees_through_the_ddp_wrapper() -> None:
    import torch

    model = torch.nn.Linear(3, 1)
    x = torch.ones(4, 3)
    penalty = ewc_penalty(model, [lambda: model(x).pow(2).mean()], lam=2.0)
    assert float(penalty(model)) == 0.0  # at the anchors
    with torch.no_grad():
        model.weight.add_(1.0)
    moved = float(penalty(model))
    assert moved > 0

    class Wrapped(torch.nn.Module):  # what DistributedDataParallel looks like: ``module.`` names
        def __init__(self) -> None:
            super().__init__()
            self.module = model

    assert float(penalty(Wrapped())) == pytest.approx(moved)
