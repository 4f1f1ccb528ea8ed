"""``models export``: a LoRA version merged into an hf folder and written as GGUF, each
reloaded and checked to compute the same logits as the version itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.settings import Settings


@pytest.fixture
def lora_version(settings: Settings, tiny_folder: Path) -> str:
    """A registered dialogue version: a LoRA adapter (non-zero, so merging matters) on the tiny model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from infinstruct.core.registry import register_version
    from infinstruct.core.tables import ModelVersion

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(str(tiny_folder)),
        LoraConfig(r=4, target_modules=["q_proj", "k_proj", "v_proj"], lora_alpha=8),
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    folder = settings.data_dir / "models" / "dialogue-v1"
    model.save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(str(tiny_folder)).save_pretrained(str(folder))
    register_version(
        settings,
        ModelVersion(
            name="dialogue-v1",
            kind="dialogue",
            base=str(tiny_folder),
            method="lora",
            recipe="tiny-lora",
            recipe_resolved={"method": "lora", "lora": {"r": 4}},
            metrics={"validation_loss": 1.234},
            artefact_path=str(folder),
            status="candidate",
        ),
    )
    return "dialogue-v1"


def _logits(model: object, ids: object) -> object:
    import torch

    with torch.no_grad():
        return model(input_ids=ids).logits  # type: ignore[operator]


def test_export_hf_and_gguf_compute_the_versions_logits(
    settings: Settings, cli_env: dict[str, str], lora_version: str, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from infinstruct.core.registry import get_version
    from infinstruct.dialogue.loading import load_version

    runner = CliRunner()
    for fmt in ("hf", "gguf"):
        result = runner.invoke(
            app,
            ["models", "export", lora_version, "--format", fmt, "--out", str(tmp_path / fmt), "--json"],
            env=cli_env,
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout.strip().splitlines()[-1])["format"] == fmt
        card = (tmp_path / fmt / "README.md").read_text(encoding="utf-8")
        assert "tiny-lora" in card and "1.234" in card  # recipe and metrics travel with it

    reference, tokenizer = load_version(settings, get_version(settings, lora_version), device="cpu")
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hello there"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]
    expected = _logits(reference.eval(), ids)

    merged = AutoModelForCausalLM.from_pretrained(str(tmp_path / "hf")).eval()
    assert not (tmp_path / "hf" / "adapter_config.json").exists()
    assert (_logits(merged, ids) - expected).abs().max() < 1e-4  # type: ignore[operator]
    assert AutoTokenizer.from_pretrained(str(tmp_path / "hf")).chat_template == tokenizer.chat_template

    gguf_file = next((tmp_path / "gguf").glob("*.gguf")).name
    from_gguf = AutoModelForCausalLM.from_pretrained(str(tmp_path / "gguf"), gguf_file=gguf_file).eval()
    assert (_logits(from_gguf, ids) - expected).abs().max() < 1e-4  # type: ignore[operator]
    gguf_tokenizer = AutoTokenizer.from_pretrained(str(tmp_path / "gguf"), gguf_file=gguf_file)
    assert gguf_tokenizer("hello there")["input_ids"] == tokenizer("hello there")["input_ids"]


def test_export_refuses_a_non_empty_folder_and_unknown_format(
    cli_env: dict[str, str], lora_version: str, tmp_path: Path
) -> None:
    (tmp_path / "taken.txt").write_text("x")
    runner = CliRunner()
    result = runner.invoke(
        app, ["models", "export", lora_version, "--format", "hf", "--out", str(tmp_path)], env=cli_env
    )
    assert result.exit_code == 2 and "not empty" in result.output
    result = runner.invoke(
        app, ["models", "export", lora_version, "--format", "onnx", "--out", str(tmp_path / "x")], env=cli_env
    )
    assert result.exit_code == 2 and "hf, gguf" in result.output


@pytest.mark.parametrize("method", ["bottleneck", "prompt", "prefix"])
def test_export_refuses_a_version_whose_training_cannot_be_merged(
    cli_env: dict[str, str], settings: Settings, lora_version: str, tmp_path: Path, method: str
) -> None:
    """A bottleneck, prompt or prefix version saved as a plain folder would load as the bare
    base model: the export refuses, says why, and writes nothing."""
    from sqlmodel import select

    from infinstruct.core.db import session_scope
    from infinstruct.core.tables import ModelVersion

    with session_scope(settings) as session:
        row = session.exec(select(ModelVersion).where(ModelVersion.name == lora_version)).one()
        row.method = method
        session.add(row)
    out = tmp_path / "export"
    result = CliRunner().invoke(
        app, ["models", "export", lora_version, "--format", "hf", "--out", str(out)], env=cli_env
    )
    assert result.exit_code == 2, result.output
    assert "cannot be merged" in result.output and "dialogue.backend: local" in result.output
    assert not out.exists()
