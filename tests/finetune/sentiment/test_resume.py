"""Kill a real sentiment training process after a checkpoint; resume=True continues from it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infinstruct.core.settings import Settings
from infinstruct.finetune.sentiment.loop import CHECKPOINT
from infinstruct.finetune.sentiment.train import run_sentiment_recipe
from tests.conftest import REPO
from tests.finetune.sentiment.conftest import FAST

pytestmark = pytest.mark.slow

SLOW = {**FAST, "optim.max_steps": 14, "checkpoint.every_steps": 3, "data.max_eval": 40}
CHILD = """
import json, sys
from infinstruct.core.settings import load_settings
from infinstruct.finetune.sentiment.train import run_sentiment_recipe
run_sentiment_recipe(load_settings(data_dir=sys.argv[1]), "sentiment-minilm",
                     overrides=json.loads(sys.argv[2]), show_progress=False)
"""


def _wait_for(root: Path, pattern: str, proc: subprocess.Popen[bytes], timeout_s: float = 300) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = list(root.glob(pattern))
        if found:
            return found[0]
        assert proc.poll() is None, "training exited before its first checkpoint"
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def test_kill_then_resume(sentiment_store: Settings) -> None:
    proc = subprocess.Popen(  # our own code, argv list
        [sys.executable, "-c", CHILD, str(sentiment_store.data_dir), json.dumps(SLOW)],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        checkpoint = _wait_for(sentiment_store.models_dir / "runs", f"sentiment-minilm-2*/{CHECKPOINT}", proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    run_dir = checkpoint.parent
    assert not (run_dir / "COMPLETE").exists()

    import torch

    killed_at = int(torch.load(checkpoint, weights_only=False)["step"])
    result = run_sentiment_recipe(sentiment_store, "sentiment-minilm", resume=True, show_progress=False)
    assert result["run_dir"] == str(run_dir)
    assert result["train"]["resumed_from"] == killed_at > 0
    assert result["train"]["steps"] == 14  # the run's own recipe, not the file's defaults
    assert (run_dir / "COMPLETE").exists() and not (run_dir / CHECKPOINT).exists()
