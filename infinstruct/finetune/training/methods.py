"""Build the model a recipe trains: load (or build) the base, then wrap it with the method.

Also the dry-run's model check for a base that is not on this machine: the config alone
(when cached) is instantiated on the ``meta`` device, which allocates nothing, so a 7B
recipe can be wired and counted on a laptop.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from infinstruct.core.errors import ConfigError
from infinstruct.finetune.training.config import FinetuneConfig

log = logging.getLogger(__name__)


def apply_method(config: FinetuneConfig, model: Any) -> Any:
    """Wrap ``model`` with the recipe's method (peft, our bottleneck adapters, or full: as is)."""
    if config.model.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    if config.method.name == "bottleneck":
        from infinstruct.finetune.training.bottleneck import apply_bottleneck

        return apply_bottleneck(config, model)
    peft_config = config.to_peft_config()
    if peft_config is None:
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import get_peft_model

    if config.model.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need a grad-carrying input
    try:
        return get_peft_model(model, peft_config)
    except ValueError as exc:  # e.g. target modules that this architecture does not have
        raise ConfigError(
            f"recipe {config.name}: method {config.method.name} does not fit the model: {exc}"
        ) from exc


def save_artefact(model: Any, folder: Path, *, base: str) -> None:
    """What a version keeps: a peft adapter, bottleneck adapters (+ the base's identity), or the model."""
    from infinstruct.finetune.training import bottleneck

    if bottleneck.has_adapters(model):
        bottleneck.save(model, folder, base=base)
    else:
        model.save_pretrained(str(folder))


def base_view(model: Any) -> AbstractContextManager[Any] | None:
    """A context in which ``model`` computes as its untuned base, or None for a full model."""
    from infinstruct.finetune.training import bottleneck

    if bottleneck.has_adapters(model):
        return bottleneck.disabled(model)
    if hasattr(model, "disable_adapter"):
        return model.disable_adapter()  # peft's context manager
    return None


def parameter_counts(model: Any) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": int(total), "trainable": int(trainable)}


def check_remote_model(config: FinetuneConfig) -> dict[str, Any]:
    """What would load for a hub-id base, without downloading: its config if cached."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    base = config.model.base
    try:
        hf_config = AutoConfig.from_pretrained(base)
    except (OSError, ValueError) as exc:
        return {
            "status": "not cached",
            "would_load": base,
            "detail": f"{base!r} is not in the local HF cache ({str(exc).splitlines()[0][:160]}); "
            "training downloads it on a machine with hub access, or set model.base to a local folder",
        }
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config)
    model = apply_method(config, model)
    return {
        "status": "config only (meta device)",
        "would_load": base,
        "architecture": hf_config.model_type,
        "parameters": parameter_counts(model),
    }
