"""Two CPU processes under ``accelerate launch`` (gloo) train tiny-scratch with the same
global batch as one process, reach the same validation loss, and the registry records the
world size (issue 19)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from infinstruct.core.registry import get_version
from infinstruct.core.settings import Settings
from tests.finetune.training.conftest import FAST

#: ``--multi_gpu`` is accelerate's torchrun launcher; without a GPU each process runs on the CPU
#: and they talk over gloo. Summation order differs (gradients are averaged across processes), so not bit-identical.
TOLERANCE = 0.02


def test_two_processes_match_one(tiny_store: Settings, tiny_trained: dict[str, Any]) -> None:
    bin_dir = Path(sys.executable).parent
    accelerate = shutil.which("accelerate", path=str(bin_dir)) or "accelerate"
    infinstruct = shutil.which("infinstruct", path=str(bin_dir)) or "infinstruct"
    sets = [arg for key, value in FAST.items() for arg in ("--set", f"{key}={value}")]
    env = {**os.environ, "INFINSTRUCT_DATA_DIR": str(tiny_store.data_dir), "OMP_NUM_THREADS": "1"}
    command = [
        accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "7857",
        infinstruct, "train", "run", "tiny-scratch", *sets, "--no-progress", "--json",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    version = get_version(tiny_store, result["version"])
    assert version.metrics["world_size"] == 2
    assert get_version(tiny_store, tiny_trained["version"]).metrics["world_size"] == 1
    assert result["train"]["steps"] == tiny_trained["train"]["steps"]
    one, two = tiny_trained["validation_loss"], result["validation_loss"]
    assert abs(one - two) <= TOLERANCE * one, (one, two)
