"""``method: bottleneck``: Houlsby / Pfeiffer bottleneck adapters in every decoder block.

An adapter is ``x + up(act(down(x)))`` with ``down: hidden -> hidden / reduction_factor``.
Houlsby et al. (2019) put one after the attention and one after the feed-forward sublayer
of each block; Pfeiffer et al. (2021) keep only the one after the feed-forward sublayer.
The adapter sits on the sublayer's output before the block adds its residual, which is
where both papers place it.

Why written here: peft 0.21 has no bottleneck adapter and the ``adapters`` library pins an
older transformers. The adapters are attached with forward hooks, so the base model's
modules and parameter names stay untouched; they live in one child module
(``model.bottleneck_adapters``) whose parameters are the only ones that train. The
up-projection starts at zero, so an untrained adapter is the identity and the wrapped
model's logits equal the base model's.

A saved version is ``bottleneck_config.json`` (the shape and what identifies the base) +
``bottleneck.safetensors`` (the adapter weights only) + the tokenizer; the dialogue loader
puts it back on its base with :func:`artefact_formats` (``load_version(..., formats=...)``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infinstruct.core.errors import ConfigError, ModelLoadError

if TYPE_CHECKING:
    from infinstruct.dialogue.loading import ArtefactFormats

log = logging.getLogger(__name__)

#: The file that marks a bottleneck version's folder (the loader dispatches on it).
MARKER = "bottleneck_config.json"
WEIGHTS = "bottleneck.safetensors"
FORMAT = "infinstruct-bottleneck/1"
ATTR = "bottleneck_adapters"
_ATTENTION = ("self_attn", "attn", "attention", "self_attention")
_FEED_FORWARD = ("mlp", "feed_forward", "ffn")


def _activation(name: str) -> Any:
    import torch

    table = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "silu": torch.nn.SiLU, "tanh": torch.nn.Tanh}
    if name not in table:
        raise ConfigError(f"bottleneck.non_linearity must be one of {sorted(table)} (got {name!r})")
    return table[name]()


def _decoder_blocks(model: Any) -> list[tuple[Any, str, str]]:
    """``(block, attention child name, feed-forward child name)`` for every decoder block."""
    import torch

    n_layers = getattr(model.config, "num_hidden_layers", None)
    for module in model.modules():
        if not isinstance(module, torch.nn.ModuleList) or len(module) != n_layers:
            continue
        found = []
        for block in module:
            attn = next((a for a in _ATTENTION if hasattr(block, a)), None)
            ffn = next((f for f in _FEED_FORWARD if hasattr(block, f)), None)
            if attn is None or ffn is None:
                break
            found.append((block, attn, ffn))
        if len(found) == n_layers:
            return found
    raise ConfigError(
        f"method bottleneck found no decoder blocks with attention and MLP children in "
        f"{getattr(model.config, 'model_type', type(model).__name__)!r}; use a Llama- or GPT-2-style model"
    )


def build_adapters(model: Any, spec: dict[str, Any]) -> Any:
    """The adapter container for ``model`` (not yet attached), parameters on the model's device."""
    import torch

    hidden = int(model.config.hidden_size)
    width = max(1, hidden // int(spec["reduction_factor"]))
    names = ["attn", "mlp"] if spec["placement"] == "houlsby" else ["mlp"]
    n_layers = len(_decoder_blocks(model))

    class Adapter(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.down = torch.nn.Linear(hidden, width)
            self.act = _activation(spec["non_linearity"])
            self.up = torch.nn.Linear(width, hidden)
            torch.nn.init.zeros_(self.up.weight)  # identity at start: the base's outputs unchanged
            torch.nn.init.zeros_(self.up.bias)

        def forward(self, x: Any) -> Any:
            return x + self.up(self.act(self.down(x)))

    class Adapters(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = torch.nn.ModuleList(
                torch.nn.ModuleDict({n: Adapter() for n in names}) for _ in range(n_layers)
            )
            self.enabled = True
            self.spec = dict(spec)  # saved with the weights: a continued run keeps its parent's shape
            self.handles: list[Any] = []

    param = next(model.parameters())
    return Adapters().to(device=param.device, dtype=param.dtype)


def attach(model: Any, spec: dict[str, Any], *, trainable: bool = True) -> Any:
    """Put adapters of ``spec`` into every block of ``model``; only they train (if ``trainable``)."""
    if hasattr(model, ATTR):
        raise ConfigError("this model already carries bottleneck adapters; attach them once")
    adapters = build_adapters(model, spec)
    for p in model.parameters():
        p.requires_grad_(False)
    model.add_module(ATTR, adapters)
    for index, (block, attn, ffn) in enumerate(_decoder_blocks(model)):
        for name, child in (("attn", attn), ("mlp", ffn)):
            if name in adapters.blocks[index]:
                hook = _hook(adapters, adapters.blocks[index][name])
                adapters.handles.append(getattr(block, child).register_forward_hook(hook))
    for p in adapters.parameters():
        p.requires_grad_(trainable)
    return model


def _hook(adapters: Any, adapter: Any) -> Any:
    def run(_module: Any, _inputs: Any, output: Any) -> Any:
        if not adapters.enabled:
            return output
        if isinstance(output, tuple):  # attention returns (output, weights, ...)
            return (adapter(output[0]), *output[1:])
        return adapter(output)

    return run


def apply_bottleneck(config: Any, model: Any) -> Any:
    """``attach`` with the recipe's ``bottleneck`` section (called by ``methods.apply_method``)."""
    if config.model.gradient_checkpointing:
        model.enable_input_require_grads()  # frozen embeddings would cut the checkpointed graph
    return attach(model, config.bottleneck.model_dump())


def has_adapters(model: Any) -> bool:
    return hasattr(model, ATTR)


@contextmanager
def disabled(model: Any) -> Iterator[None]:
    """The base model's view: adapters bypassed inside the block, restored after."""
    adapters = getattr(model, ATTR)
    adapters.enabled = False
    try:
        yield
    finally:
        adapters.enabled = True


def _identity(model: Any) -> dict[str, Any]:
    c = model.config
    return {
        "model_type": getattr(c, "model_type", None),
        "hidden_size": int(c.hidden_size),
        "num_hidden_layers": int(c.num_hidden_layers),
        "vocab_size": int(c.vocab_size),
    }


def save(model: Any, folder: Path, *, base: str) -> None:
    """Adapter weights + their shape + what identifies the base; nothing of the base itself."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    adapters = getattr(model, ATTR)
    state = {k: v.detach().cpu().contiguous() for k, v in adapters.state_dict().items()}
    save_file(state, str(folder / WEIGHTS))
    meta = {"format": FORMAT, "base": base, "base_identity": _identity(model), **adapters.spec}
    (folder / MARKER).write_text(json.dumps(meta, indent=2), encoding="utf-8")


def is_bottleneck_folder(path: str | Path) -> bool:
    return (Path(path) / MARKER).exists()


def read_spec(folder: str | Path) -> dict[str, Any]:
    return dict(json.loads((Path(folder) / MARKER).read_text(encoding="utf-8")))


def load_into(model: Any, folder: str | Path, *, trainable: bool = False) -> Any:
    """Attach the adapters saved in ``folder`` to ``model`` (its base) and load their weights."""
    from safetensors.torch import load_file

    meta = read_spec(folder)
    if meta.get("format") != FORMAT:
        raise ModelLoadError(f"{folder}/{MARKER} has format {meta.get('format')!r}; expected {FORMAT!r}")
    want, have = meta.get("base_identity", {}), _identity(model)
    wrong = {k: (v, have.get(k)) for k, v in want.items() if have.get(k) != v}
    if wrong:
        raise ModelLoadError(
            f"the bottleneck adapters in {folder} were trained on base {meta.get('base')!r}; "
            f"this base differs in {wrong} (saved, loaded): load them on the base they were trained on"
        )
    spec = {k: meta[k] for k in ("placement", "reduction_factor", "non_linearity")}
    attach(model, spec, trainable=trainable)
    state = load_file(str(Path(folder) / WEIGHTS), device=str(next(model.parameters()).device))
    getattr(model, ATTR).load_state_dict(state, strict=True)
    model.train(trainable)
    return model


def artefact_formats() -> ArtefactFormats:
    """What the dialogue loader needs to put bottleneck versions on their base (``formats=``)."""
    return {MARKER: load_into}
