"""Training recipes: ``<config>/finetune/<name>.yaml`` (packaged or the operator's) validated into a typed ``FinetuneConfig``.

The config converts to Hugging Face objects only at the edge (``to_peft_config()``,
``to_training_arguments()``); the resolved recipe (every default filled in) is written
beside each artefact so any model can be reproduced from its folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from infinstruct.core.devices import native_bf16, resolve_device
from infinstruct.core.settings import Settings
from infinstruct.finetune.harness.overrides import apply_overrides
from infinstruct.finetune.harness.recipe import Section as _Section
from infinstruct.finetune.harness.recipe import dump_config, read_recipe, recipe_path, validate

__all__ = ["FinetuneConfig", "build_config", "dump_config", "load_config", "read_recipe", "recipe_path"]

log = logging.getLogger(__name__)

Method = Literal["full", "lora", "adalora", "prefix", "ia3", "prompt", "bottleneck"]
Strategy = Literal["replay", "ewc", "adapter", "naive"]


class ScratchModel(_Section):
    arch: Literal["llama", "gpt2"] = Field(default="llama", description="Architecture family.")
    n_layer: int = Field(default=4, gt=0, description="Transformer blocks.")
    n_head: int = Field(default=4, gt=0, description="Attention heads.")
    n_embd: int = Field(default=128, gt=0, description="Hidden size (divisible by n_head).")
    n_positions: int = Field(default=512, gt=0, description="Longest sequence the model sees.")
    vocab_size: int = Field(default=4000, ge=300, description="Tokenizer vocabulary trained on the corpus.")
    min_frequency: int = Field(default=2, ge=1, description="Rarest pair the BPE trainer merges.")

    @model_validator(mode="after")
    def _heads(self) -> ScratchModel:
        if self.n_embd % self.n_head:
            raise ValueError(
                f"model.scratch.n_embd must be divisible by n_head (got {self.n_embd} / {self.n_head})"
            )
        return self


class ModelSection(_Section):
    base: str = Field(
        default="smollm2",
        description="'smollm2', a local folder, a hub id, or 'scratch' (built from model.scratch).",
    )
    scratch: ScratchModel | None = Field(default=None, description="Config of a model built from scratch.")
    dtype: str = Field(default="auto", description="'auto' (bf16 on GPU, fp32 on CPU), 'bf16', 'fp32'.")
    device: str = Field(
        default="auto",
        description="'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (accelerate decides under launch).",
    )
    gradient_checkpointing: bool = Field(default=False, description="Trade compute for activation memory.")

    @model_validator(mode="after")
    def _scratch(self) -> ModelSection:
        if self.base == "scratch" and self.scratch is None:
            self.scratch = ScratchModel()
        if self.base != "scratch" and self.scratch is not None:
            raise ValueError(f"model.scratch is only for model.base 'scratch' (got base {self.base!r})")
        return self


class DataSection(_Section):
    set_name: str = Field(default="default", description="Instruction set to train on.")
    set_version: int | None = Field(
        default=None, description="Its version; unset = the newest (the resolved recipe pins it)."
    )
    tasks: list[str] | None = Field(default=None, description="Only these instruction tasks (all if unset).")
    domains: list[str] | None = Field(default=None, description="Only these domains (all if unset).")
    lang: str | None = Field(default=None, description="Only this language ('en', 'zh').")
    max_train: int | None = Field(default=None, gt=0, description="Cap on training examples.")
    max_eval: int = Field(default=64, gt=0, description="Cap on validation/test examples evaluated.")
    max_seq_len: int = Field(
        default=256, ge=16, description="Tokens per example (longer are left-truncated)."
    )
    packing: bool = Field(default=False, description="Pack several examples into each sequence.")


class LoraSection(_Section):
    r: int = Field(default=8, description="LoRA rank.")
    alpha: int = Field(default=16, description="LoRA scaling numerator.")
    dropout: float = Field(default=0.05, ge=0, lt=1, description="Dropout on the LoRA path.")
    target_modules: list[str] | str = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"],
        description="Module names to adapt, or 'all-linear'.",
    )

    @field_validator("r")
    @classmethod
    def _r(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"lora.r must be > 0 (got {value})")
        return value


class MethodSection(_Section):
    name: Method = Field(
        default="lora", description="full, lora, adalora, prefix, ia3, prompt or bottleneck."
    )
    lora: LoraSection = Field(default_factory=LoraSection, description="LoRA / AdaLoRA shape.")
    adalora_target_r: int = Field(default=4, gt=0, description="AdaLoRA: average rank after pruning.")
    num_virtual_tokens: int = Field(default=16, gt=0, description="Prefix / prompt tuning: virtual tokens.")
    prompt_init_text: str | None = Field(
        default=None, description="Prompt tuning: initialise from this text."
    )
    ia3_target_modules: list[str] = Field(
        default_factory=lambda: ["k_proj", "v_proj", "down_proj"], description="IA3: scaled modules."
    )
    ia3_feedforward_modules: list[str] = Field(
        default_factory=lambda: ["down_proj"], description="IA3: which of those are feed-forward."
    )

    @model_validator(mode="after")
    def _ia3(self) -> MethodSection:
        extra = set(self.ia3_feedforward_modules) - set(self.ia3_target_modules)
        if extra:
            raise ValueError(
                f"method.ia3_feedforward_modules must be among ia3_target_modules (extra: {sorted(extra)})"
            )
        return self


class BottleneckSection(_Section):
    placement: Literal["houlsby", "pfeiffer"] = Field(
        default="houlsby",
        description="houlsby: an adapter after attention and after the MLP of each block; pfeiffer: after the MLP only.",
    )
    reduction_factor: int = Field(
        default=16, gt=0, description="Hidden size divided by the adapter's bottleneck width."
    )
    non_linearity: Literal["relu", "gelu", "silu", "tanh"] = Field(
        default="relu", description="Activation between the down- and up-projection."
    )


class OptimSection(_Section):
    optimizer: Literal["adamw", "sgd"] = Field(default="adamw", description="adamw or sgd.")
    lr: float = Field(default=2e-4, gt=0, description="Peak learning rate.")
    weight_decay: float = Field(default=0.0, ge=0, description="Decoupled weight decay.")
    momentum: float = Field(default=0.9, ge=0, lt=1, description="SGD momentum.")
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        default="cosine", description="Learning-rate schedule after warm-up."
    )
    warmup_steps: int = Field(default=0, ge=0, description="Linear warm-up steps.")
    batch_size: int = Field(default=8, gt=0, description="Examples per micro-batch (per device).")
    grad_accum: int = Field(default=1, gt=0, description="Micro-batches per optimiser step.")
    max_steps: int = Field(default=100, gt=0, description="Optimiser steps of instruction tuning.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    seed: int = Field(default=42, description="Seed for init, data order and dropout.")

    @model_validator(mode="after")
    def _warmup(self) -> OptimSection:
        if self.warmup_steps >= self.max_steps:
            raise ValueError(
                f"optim.warmup_steps must be < optim.max_steps (got {self.warmup_steps} >= {self.max_steps})"
            )
        return self


class PretrainSection(_Section):
    steps: int = Field(default=0, ge=0, description="Self-supervised steps on domain text before tuning.")
    lr: float = Field(default=1e-3, gt=0, description="Pretraining learning rate.")
    batch_size: int = Field(default=8, gt=0, description="Sequences per pretraining batch.")
    max_chars: int = Field(default=2_000_000, gt=0, description="Domain text read for pretraining.")


class EvalSection(_Section):
    generate: int = Field(
        default=8, ge=0, description="Held-out examples generated for chrf/rougeL/embed_sim."
    )
    max_new_tokens: int = Field(default=48, gt=0, description="Longest generated reply in evaluation.")
    batch_size: int = Field(default=16, gt=0, description="Examples per evaluation batch.")
    compare_base: bool = Field(default=True, description="Also score the untuned base (adapters only).")


class CheckpointSection(_Section):
    every_steps: int = Field(default=25, gt=0, description="Save a checkpoint every N optimiser steps.")
    keep: int = Field(default=2, gt=0, description="Checkpoints kept per run.")


class ContinualSection(_Section):
    strategy: Strategy = Field(default="replay", description="replay, ewc, adapter or naive.")
    replay_ratio: float = Field(
        default=0.5, ge=0, lt=1, description="Share of each batch from earlier domains."
    )
    ewc_lambda: float = Field(default=0.0, ge=0, description="EWC penalty weight (0 = off).")
    fisher_samples: int = Field(default=32, gt=0, description="Earlier-domain examples for the EWC Fisher.")


class FinetuneConfig(_Section):
    """A whole training recipe."""

    name: str = Field(description="Recipe name (the YAML file's stem).")
    kind: Literal["dialogue"] = Field(default="dialogue", description="Model kind registered.")
    description: str = Field(default="", description="What the recipe is for.")
    model: ModelSection = Field(default_factory=ModelSection, description="Base model.")
    data: DataSection = Field(default_factory=DataSection, description="Instruction data.")
    method: MethodSection = Field(default_factory=MethodSection, description="Fine-tuning method.")
    bottleneck: BottleneckSection = Field(
        default_factory=BottleneckSection, description="Bottleneck adapters (method.name bottleneck)."
    )
    optim: OptimSection = Field(default_factory=OptimSection, description="Optimiser and schedule.")
    pretrain: PretrainSection = Field(default_factory=PretrainSection, description="Self-supervised phase.")
    eval: EvalSection = Field(default_factory=EvalSection, description="Held-out evaluation.")
    checkpoint: CheckpointSection = Field(default_factory=CheckpointSection, description="Checkpoints.")
    continual: ContinualSection = Field(default_factory=ContinualSection, description="Continual learning.")
    bf16: bool | Literal["auto"] = Field(
        default=False,
        description="bf16 mixed precision: true, false, or 'auto' (where the device computes bf16 "
        "natively: a bf16 GPU, or a CPU with AVX512-BF16 or AMX; on a 2-core AVX512-BF16 EPYC a "
        "smollm2-lora step of 8 took 5.24 s instead of 6.91 s in fp32, bench/train/precision.py). "
        "It covers the training forward only: evaluation stays fp32.",
    )
    log_every: int = Field(default=5, gt=0, description="Log train loss every N steps (TensorBoard).")

    @model_validator(mode="after")
    def _consistent(self) -> FinetuneConfig:
        if self.pretrain.steps and self.model.base != "scratch":
            raise ValueError(f"pretrain.steps needs model.base 'scratch' (got base {self.model.base!r})")
        if self.model.base == "scratch" and self.method.name != "full" and self.pretrain.steps == 0:
            raise ValueError(
                "a scratch model has nothing to adapt: use method.name 'full' or pretrain.steps > 0"
            )
        return self

    @property
    def total_steps(self) -> int:
        return self.pretrain.steps + self.optim.max_steps

    def to_peft_config(self) -> Any:
        """The peft config of the method, or None (full fine-tuning; bottleneck adapters are ours)."""
        import peft

        m = self.method
        task = peft.TaskType.CAUSAL_LM
        if m.name in {"full", "bottleneck"}:
            return None
        if m.name == "lora":
            return peft.LoraConfig(
                task_type=task,
                r=m.lora.r,
                lora_alpha=m.lora.alpha,
                lora_dropout=m.lora.dropout,
                target_modules=m.lora.target_modules,
            )
        if m.name == "adalora":
            return peft.AdaLoraConfig(
                task_type=task,
                init_r=m.lora.r,
                target_r=m.adalora_target_r,
                lora_alpha=m.lora.alpha,
                lora_dropout=m.lora.dropout,
                target_modules=m.lora.target_modules,
                total_step=self.optim.max_steps,
                tinit=0,
                tfinal=0,
            )
        if m.name == "prefix":
            return peft.PrefixTuningConfig(task_type=task, num_virtual_tokens=m.num_virtual_tokens)
        if m.name == "ia3":
            return peft.IA3Config(
                task_type=task,
                target_modules=m.ia3_target_modules,
                feedforward_modules=m.ia3_feedforward_modules,
            )
        init = peft.PromptTuningInit.TEXT if m.prompt_init_text else peft.PromptTuningInit.RANDOM
        return peft.PromptTuningConfig(
            task_type=task,
            num_virtual_tokens=m.num_virtual_tokens,
            prompt_tuning_init=init,
            prompt_tuning_init_text=m.prompt_init_text,
            tokenizer_name_or_path=None,
        )

    def mixed_bf16(self, device: str) -> bool:
        """Whether training on ``device`` ('cpu', 'cuda', …) runs under bf16 autocast."""
        return native_bf16(device) if self.bf16 == "auto" else self.bf16

    def to_training_arguments(self, output_dir: str | Path, *, report_to: str = "none") -> Any:
        """The same settings as ``transformers.TrainingArguments`` (used by the Trainer baseline)."""
        from transformers import TrainingArguments

        o = self.optim
        device = resolve_device(self.model.device)
        return TrainingArguments(
            output_dir=str(output_dir),
            per_device_train_batch_size=o.batch_size,
            gradient_accumulation_steps=o.grad_accum,
            learning_rate=o.lr,
            weight_decay=o.weight_decay,
            lr_scheduler_type=o.scheduler,
            warmup_steps=o.warmup_steps,
            max_steps=o.max_steps,
            max_grad_norm=o.max_grad_norm,
            optim="adamw_torch" if o.optimizer == "adamw" else "sgd",
            seed=o.seed,
            bf16=self.mixed_bf16(device),
            activation_checkpointing=self.model.gradient_checkpointing,
            logging_steps=self.log_every,
            save_steps=self.checkpoint.every_steps,
            save_total_limit=self.checkpoint.keep,
            report_to=report_to,
            remove_unused_columns=False,
            per_device_eval_batch_size=self.eval.batch_size,
            use_cpu=device == "cpu",
        )


def build_config(raw: dict[str, Any], *, name: str, source: str = "recipe") -> FinetuneConfig:
    """Validate a raw recipe (a ``name`` inside it wins over ``name``)."""
    return validate(FinetuneConfig, {"name": name, **raw}, source=source)


def load_config(settings: Settings, recipe: str, **overrides: Any) -> FinetuneConfig:
    """Read and validate a recipe; ``overrides`` are dotted keys (``optim.max_steps=3``)."""
    path = recipe_path(settings, recipe)
    raw = apply_overrides(read_recipe(path), overrides)
    return build_config(raw, name=path.stem, source=str(path))
