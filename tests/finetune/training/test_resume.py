"""Kill a real training subprocess after its first checkpoint; --resume continues from it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from infinstruct.core.settings import Settings
from infinstruct.finetune.training.run import run_recipe
from tests.conftest import REPO
from tests.finetune.training.conftest import FAST

SLOWER = {**FAST, "pretrain.steps": 2, "optim.max_steps": 40, "eval.generate": 0}


def _wait_for_checkpoint(runs: Path, proc: subprocess.Popen[bytes], timeout_s: float = 300) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [p for p in runs.glob("*/checkpoints/step-*") if not p.name.endswith(".tmp")]
        if found:
            return found[0]
        assert proc.poll() is None, "training exited before its first checkpoint"
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def test_kill_then_resume(seeded: Settings) -> None:
    sets = [arg for key, value in SLOWER.items() for arg in ("--set", f"{key}={value}")]
    env = {**os.environ, "INFINSTRUCT_DATA_DIR": str(seeded.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "infinstruct", "train", "tiny-scratch", *sets, "--no-progress", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        checkpoint = _wait_for_checkpoint(seeded.models_dir / "runs", proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    run_dir = checkpoint.parent.parent
    assert not (run_dir / "COMPLETE").exists()
    killed_at = max(
        int(p.name.removeprefix("step-"))
        for p in (run_dir / "checkpoints").glob("step-*")
        if not p.name.endswith(".tmp")
    )

    result = run_recipe(seeded, "tiny-scratch", resume=True, show_progress=False)
    assert result["run_dir"] == str(run_dir)
    assert result["train"]["resumed_from"] == killed_at > 0
    assert result["train"]["steps"] == 42  # the run's own recipe (2 + 40), not the file's defaults
    assert (run_dir / "COMPLETE").exists()
