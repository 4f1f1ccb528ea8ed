"""The activation gate refuses a 1-step model against a longer-trained one; continual runs
report forgetting of every earlier domain."""

from __future__ import annotations

from typing import Any

import pytest

from infinstruct import services
from infinstruct.core.errors import RegistryGateError
from infinstruct.core.registry import activate, active_version, get_version
from infinstruct.core.settings import Settings
from infinstruct.finetune.training.run import run_recipe
from tests.finetune.training.conftest import FAST


def test_gate_refuses_a_one_step_model(tiny_store: Settings, tiny_trained: dict[str, Any]) -> None:
    activate(tiny_store, tiny_trained["version"], gate=services.build_gate(tiny_store))
    weak = run_recipe(
        tiny_store,
        "tiny-scratch",
        show_progress=False,
        overrides={
            **FAST,
            "pretrain.steps": 0,
            "optim.max_steps": 1,
            "optim.warmup_steps": 0,
            "eval.generate": 0,
        },
    )
    gate = services.build_gate(tiny_store)
    assert gate is not None
    with pytest.raises(RegistryGateError, match=r"refusing to activate .*loss_per_char.*--force"):
        activate(tiny_store, weak["version"], gate=gate)
    assert active_version(tiny_store, "dialogue").name == tiny_trained["version"]  # type: ignore[union-attr]
    version, verdict = activate(tiny_store, weak["version"], gate=gate, force=True)
    assert version.status == "active" and verdict is not None and not verdict.passed
    assert verdict.details["regression"] > tiny_store.finetune.gate_tolerance
    activate(tiny_store, tiny_trained["version"], force=True)  # leave the good one active


def test_continual_run_reports_forgetting(tiny_store: Settings, tiny_trained: dict[str, Any]) -> None:
    result = run_recipe(
        tiny_store,
        "tiny-continual",
        continue_from=tiny_trained["version"],
        show_progress=False,
        overrides={
            "data.max_train": 80,
            "data.max_eval": 12,
            "data.max_seq_len": 96,
            "optim.max_steps": 6,
            "optim.batch_size": 4,
            "eval.generate": 0,
        },
    )
    forgetting = result["forgetting"]
    assert forgetting["strategy"] == "replay"
    row = forgetting["domains"]["support"]
    assert {"loss_before", "loss_after", "forgetting"} <= set(row)
    version = get_version(tiny_store, result["version"])
    assert version.metrics["domains_seen"] == ["support", "finance"]
    assert version.parent_id == get_version(tiny_store, tiny_trained["version"]).id
