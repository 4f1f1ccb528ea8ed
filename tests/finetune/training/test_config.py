"""Recipes validate into FinetuneConfig; validators name the rule; HF objects at the edge."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import Settings
from infinstruct.finetune.training.config import build_config, load_config
from tests.conftest import REPO


def test_every_dialogue_recipe_validates(settings: Settings) -> None:
    recipes = [
        p
        for p in (REPO / "infinstruct" / "config" / "finetune").glob("*.yaml")
        if not p.stem.startswith("sentiment")
    ]
    assert {"smollm2-lora", "tiny-scratch", "tiny-continual", "gpu-qwen2.5-1.5b-lora"} <= {
        p.stem for p in recipes
    }
    for path in recipes:
        config = load_config(settings, path.stem)
        assert config.name == path.stem


def test_validators_state_the_rule() -> None:
    with pytest.raises(ConfigError, match=r"lora.r must be > 0 \(got 0\)"):
        build_config({"method": {"lora": {"r": 0}}}, name="x")
    with pytest.raises(ConfigError, match="warmup_steps must be < optim.max_steps"):
        build_config({"optim": {"warmup_steps": 10, "max_steps": 5}}, name="x")
    with pytest.raises(ConfigError, match="pretrain.steps needs model.base 'scratch'"):
        build_config({"pretrain": {"steps": 3}}, name="x")
    with pytest.raises(ConfigError, match="n_embd must be divisible by n_head"):
        build_config(
            {
                "model": {"base": "scratch", "scratch": {"n_embd": 100, "n_head": 3}},
                "method": {"name": "full"},
            },
            name="x",
        )
    with pytest.raises(ConfigError, match="unknown_key"):
        build_config({"optim": {"unknown_key": 1}}, name="x")


@pytest.mark.parametrize("method", ["full", "lora", "adalora", "prefix", "ia3", "prompt"])
def test_peft_config_per_method(method: str) -> None:
    config = build_config({"method": {"name": method}}, name="x")
    peft_config = config.to_peft_config()
    if method == "full":
        assert peft_config is None
    else:
        assert peft_config.task_type == "CAUSAL_LM"
        assert method.replace("prefix", "prefix_tuning").replace("prompt", "prompt_tuning").upper() in str(
            peft_config.peft_type
        )


def test_bf16_auto_follows_the_hardware(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from infinstruct.finetune.training import config as config_module

    auto = load_config(settings, "smollm2-lora")
    assert auto.bf16 == "auto"  # the default recipe trains in bf16 where that is native
    for native in (True, False):
        monkeypatch.setattr(config_module, "native_bf16", lambda device, native=native: native)
        assert auto.mixed_bf16("cpu") is native
    monkeypatch.undo()
    assert auto.mixed_bf16("mps") is False  # no native bf16 known there: fp32
    assert load_config(settings, "smollm2-lora", bf16=False).mixed_bf16("cpu") is False
    assert load_config(settings, "smollm2-lora", bf16=True).mixed_bf16("cpu") is True
    with pytest.raises(ConfigError, match="bf16"):
        load_config(settings, "smollm2-lora", bf16="sometimes")


def test_training_arguments_carry_the_recipe(tmp_path: Path, settings: Settings) -> None:
    config = load_config(settings, "smollm2-lora", **{"optim.grad_accum": 3})
    args = config.to_training_arguments(tmp_path)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (8, 3)
    assert args.learning_rate == config.optim.lr and args.max_steps == config.optim.max_steps
    assert args.lr_scheduler_type.value == "cosine" and args.warmup_steps == 5


def test_sentiment_recipe_dispatches(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infinstruct.finetune.training.run import run_recipe

    recipe = tmp_path / "my-sentiment.yaml"
    recipe.write_text("kind: sentiment\n", encoding="utf-8")
    calls = []
    fake = types.ModuleType("infinstruct.finetune.sentiment.train")
    fake.run_sentiment_recipe = lambda s, path, **kw: calls.append((path, kw)) or {"version": "sentiment-v1"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "infinstruct.finetune.sentiment.train", fake)
    overrides = {"optim.max_steps": 3}
    assert run_recipe(settings, str(recipe), dry_run=True, overrides=overrides) == {"version": "sentiment-v1"}
    expected = {"resume": False, "continue_from": None, "dry_run": True, "overrides": overrides}
    assert calls == [(recipe, {**expected, "show_progress": True})]  # the overrides reach it


def test_unknown_recipe_names_the_known_ones(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="known: .*tiny-scratch"):
        load_config(settings, "no-such-recipe")
