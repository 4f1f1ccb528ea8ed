"""tiny-scratch end to end: tokenizer, pretraining, instruction tuning, evaluation, registry,
artefact folder, the streaming backend over the version, and `eval model`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.registry import get_version
from infinstruct.core.settings import Settings


def test_run_registers_a_version_with_every_metric(
    tiny_store: Settings, tiny_trained: dict[str, Any]
) -> None:
    version = get_version(tiny_store, tiny_trained["version"])
    assert (version.kind, version.method, version.recipe, version.base) == (
        "dialogue",
        "full",
        "tiny-scratch",
        "scratch",
    )
    for key in ("loss", "perplexity", "loss_per_char", "chrf", "rougeL", "embed_sim"):
        assert version.metrics[key] is not None, key
    assert version.metrics["splits"]["validation"]["n"] > 0
    assert version.metrics["domains_seen"] == ["support"]
    assert version.instruction_set_id is not None
    train = tiny_trained["train"]
    assert train["steps"] == 16 and train["tokens"] > 0 and train["tokens_per_s"] > 0
    assert train["last_loss"] < train["first_loss"]  # it learned something


def test_artefact_folder_reproduces_the_run(tiny_trained: dict[str, Any]) -> None:
    final = Path(tiny_trained["artefact_path"])
    run_dir = Path(tiny_trained["run_dir"])
    for name in ("config.json", "model.safetensors", "tokenizer.json", "recipe.yaml", "eval.json", "eval.md"):
        assert (final / name).exists(), name
    assert "pretrain" in (final / "recipe.yaml").read_text() and "| test |" in (final / "eval.md").read_text()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert (run_dir / "COMPLETE").read_text() == tiny_trained["version"]
    report = json.loads((final / "eval.json").read_text())
    assert report["splits"]["test"]["samples"][0]["reference"]


def test_backend_streams_from_the_version(tiny_store: Settings, tiny_trained: dict[str, Any]) -> None:
    from infinstruct.core.protocols import DialogueBackend
    from infinstruct.dialogue import LocalDialogueBackend

    backend = LocalDialogueBackend.from_version(tiny_store, tiny_trained["version"], device="cpu")
    assert isinstance(backend, DialogueBackend)
    pieces = list(backend.stream([{"role": "user", "content": "my order is late"}], max_new_tokens=8))
    assert backend.version == tiny_trained["version"]
    assert pieces and all(isinstance(p, str) for p in pieces)


def test_eval_model_cli(tiny_store: Settings, tiny_trained: dict[str, Any]) -> None:
    result = CliRunner().invoke(
        app, ["--data-dir", str(tiny_store.data_dir), "eval", "model", tiny_trained["version"], "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["version"] == tiny_trained["version"] and data["n"] > 0
    assert abs(data["loss"] - tiny_trained["loss"]) < 1e-3  # the same examples, the same model


def test_dry_run_of_the_gpu_recipe_downloads_nothing(tiny_store: Settings) -> None:
    result = CliRunner().invoke(
        app, ["--data-dir", str(tiny_store.data_dir), "train", "gpu-qwen2.5-1.5b-lora", "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["dry_run"] and data["examples"]["train"] > 0
    assert data["config"]["bf16"] and data["config"]["data"]["packing"]
    assert data["model"]["would_load"] == "Qwen/Qwen2.5-1.5B-Instruct"
    assert data["model"]["status"] in {"not cached", "config only (meta device)"}


def test_a_bf16_run_then_an_fp32_run_in_one_process(seeded: Settings) -> None:
    """bf16 autocast covers the training forward only: evaluation is fp32 (``eval model``
    reproduces the registered loss), and a later fp32 run in the same process is not refused
    (accelerate's mixed precision is process-wide state, so the loop does its own autocast)."""
    from infinstruct.finetune.training.run import run_recipe
    from tests.finetune.training.conftest import FAST

    short = {**FAST, "optim.max_steps": 4, "pretrain.steps": 2, "eval.generate": 0}
    bf16 = run_recipe(seeded, "tiny-scratch", overrides={**short, "bf16": True}, show_progress=False)
    fp32 = run_recipe(seeded, "tiny-scratch", overrides={**short, "bf16": False}, show_progress=False)
    assert bf16["train"]["bf16"] is True and fp32["train"]["bf16"] is False
    result = CliRunner().invoke(
        app, ["--data-dir", str(seeded.data_dir), "eval", "model", bf16["version"], "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert abs(data["loss"] - bf16["loss"]) < 1e-3, (data["loss"], bf16["loss"])
