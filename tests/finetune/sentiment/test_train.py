"""A short real sentiment-minilm run: artefact, reports, registry entry, and it learns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from infinstruct.core.registry import get_version
from infinstruct.core.settings import Settings
from infinstruct.finetune.sentiment.train import run_sentiment_recipe

pytestmark = pytest.mark.slow


def test_dry_run_checks_data_and_model_without_training(sentiment_store: Settings) -> None:
    result = run_sentiment_recipe(sentiment_store, "sentiment-minilm", dry_run=True)
    assert result["dry_run"] is True
    assert result["examples"]["train"] > result["examples"]["test"] > 0
    assert result["model"]["architecture"] == "BertModel" and result["model"]["pooling"] == "mean"
    assert result["steps"] > 0
    assert not (sentiment_store.models_dir / "runs").exists() or not any(
        p.name.startswith("sentiment-minilm-") and not (p / "COMPLETE").exists()
        for p in (sentiment_store.models_dir / "runs").iterdir()
    )


def test_run_registers_a_version_with_its_reports(sentiment_store: Settings, trained: dict[str, Any]) -> None:
    version = get_version(sentiment_store, trained["version"])
    assert version.kind == "sentiment" and version.method == "full" and version.recipe == "sentiment-minilm"
    final = Path(version.artefact_path)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "recipe.yaml", "eval.json", "eval.md"):
        assert (final / name).exists(), name
    resolved = yaml.safe_load((final / "recipe.yaml").read_text(encoding="utf-8"))
    assert resolved["optim"]["max_steps"] == 40 and resolved["kind"] == "sentiment"
    assert version.recipe_resolved["domains"][-1]["domain"] == "phrasebank"
    report = json.loads((final / "eval.json").read_text(encoding="utf-8"))
    assert report["test"]["n"] == trained["n"] > 0
    assert set(report["test"]["per_class"]) == {"negative", "neutral", "positive"}
    assert set(trained["subsets"]) == {"AllAgree", "50Agree"}
    assert "| test |" in (final / "eval.md").read_text(encoding="utf-8")
    for key in ("accuracy", "macro_f1", "per_class"):
        assert key in version.metrics
    assert trained["train"]["steps"] == 40 and trained["train"]["tokens_per_s"] > 0
    assert not (Path(trained["run_dir"]) / "checkpoint.pt").exists()
    assert (Path(trained["run_dir"]) / "COMPLETE").read_text(encoding="utf-8") == version.name


def test_short_run_clearly_beats_chance(trained: dict[str, Any]) -> None:
    # The slice is class-balanced: chance and the majority class are both ~1/3 accuracy and
    # a one-class model has macro-F1 ~0.17. 40 steps of 16 sentences clear both by far.
    majority = max(row["support"] for row in trained["per_class"].values()) / trained["n"]
    assert majority < 0.45
    assert trained["accuracy"] >= majority + 0.2, trained
    assert trained["macro_f1"] >= 0.5, trained


def test_probe_init_puts_the_fitted_probe_in_the_head(tmp_path: Path) -> None:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from infinstruct.core.bundled_models import minilm_path
    from infinstruct.finetune.sentiment.data import LabelledExample
    from infinstruct.finetune.sentiment.train import probe_init
    from infinstruct.sentiment.meanpool import head_on_encoder

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(tmp_path)
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    model = head_on_encoder(str(tmp_path), num_labels=3)
    words = ["loss", "flat", "gain"]
    train = [
        LabelledExample(text=f"{words[label]} {i} {words[label]}", label=label, group=str(i))
        for i in range(30)
        for label in range(3)
    ]
    accuracy = probe_init(model, tokenizer, train, max_length=16, batch_size=8, seed=0)
    assert accuracy > 0.9  # one word decides the label: the probe separates it
    with torch.inference_mode():
        enc = tokenizer([ex.text for ex in train], padding=True, return_tensors="pt")
        predicted = model(**enc).logits.argmax(dim=-1).tolist()
    # The head now predicts exactly what the probe scored (weights copied, not transposed).
    assert np.mean([p == ex.label for p, ex in zip(predicted, train, strict=True)]) == pytest.approx(accuracy)
