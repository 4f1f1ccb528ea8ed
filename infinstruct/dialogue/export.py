"""``infinstruct models export``: a registered dialogue version in a form serving engines load.

- ``hf``: the adapter merged into the base weights, saved as a plain transformers folder
  with the tokenizer and its chat template (vLLM, ``transformers serve``, TGI load it);
- ``gguf``: one GGUF file (llama.cpp, Ollama) written with the ``gguf`` package, for
  Llama-architecture models (SmolLM2 and its fine-tunes): tensor names mapped to llama.cpp's,
  the q/k projections permuted the way llama.cpp's converter does, the BPE vocabulary,
  merges, special tokens and chat template in the metadata, weights in f32 or f16.

Both get a ``README.md`` model card with the recipe and the metrics from the registry.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.dialogue.loading import NO_FORMATS, ArtefactFormats

log = logging.getLogger(__name__)

FORMATS = ("hf", "gguf")
#: Methods whose training ends in the base architecture's own tensors (full weights, or a
#: LoRA/AdaLoRA/IA3 adapter that peft folds into them). The others add parts no engine's
#: architecture has: soft prompt or prefix key/value vectors, or bottleneck layers
#: (down -> activation -> up after a sublayer), whose non-linearity cannot be folded into a
#: weight matrix. Saving those as a plain folder would silently drop what was trained.
MERGEABLE = ("full", "scratch", "lora", "adalora", "ia3")


def export_version(
    settings: Settings,
    name: str,
    fmt: str,
    out: Path,
    *,
    dtype: str = "f32",
    formats: ArtefactFormats = NO_FORMATS,
) -> dict[str, Any]:
    """Write version ``name`` to folder ``out`` in ``fmt``; returns what was written
    (``formats``: the parts' version formats it may be saved in)."""
    from infinstruct.core.registry import get_version
    from infinstruct.dialogue.loading import load_version

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if dtype not in ("f32", "f16"):
        raise InputError(f"--dtype must be f32 or f16 (got {dtype!r})")
    version = get_version(settings, name)
    if version.kind != "dialogue":
        raise InputError(f"{name} is a {version.kind} model; only dialogue versions export to {fmt}")
    if version.method not in MERGEABLE:
        raise InputError(
            f"{name} was trained with method {version.method!r}, whose trained parts cannot be "
            f"merged into the base weights, so no serving engine would load what it learned; "
            f"serve it with the built-in backend (dialogue.backend: local), or train a recipe with "
            f"method lora (e.g. smollm2-lora) to export ({', '.join(MERGEABLE)} export)"
        )
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty; give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load_version(settings, version, device="cpu", formats=formats)
    if hasattr(model, "merge_and_unload"):  # a peft adapter: fold it into the base weights
        model = model.merge_and_unload()
    if fmt == "hf":
        model.save_pretrained(str(out))
        tokenizer.save_pretrained(str(out))
        files = sorted(p.name for p in out.iterdir())
    else:
        path = out / f"{version.name}.{dtype}.gguf"
        write_gguf(model, tokenizer, path, dtype=dtype, name=version.name)
        files = [path.name]
    (out / "README.md").write_text(model_card(version, fmt), encoding="utf-8")
    return {"version": version.name, "format": fmt, "out": str(out), "files": [*files, "README.md"]}


def model_card(version: ModelVersion, fmt: str) -> str:
    """A Hugging Face-style card: what the model is, how it was trained, how it scored."""
    recipe = json.dumps(version.recipe_resolved, indent=2, ensure_ascii=False, default=str)
    metrics = json.dumps(version.metrics, indent=2, ensure_ascii=False, default=str)
    return (
        f"---\nlibrary_name: {'transformers' if fmt == 'hf' else 'gguf'}\npipeline_tag: text-generation\n---\n\n"
        f"# {version.name}\n\n"
        f"A customer-support dialogue model exported by `infinstruct models export {version.name} "
        f"--format {fmt}`.\n\n"
        f"- base: `{version.base}`\n- method: `{version.method}`"
        f"{' (adapter merged into the base weights)' if version.method not in ('full', 'scratch') else ''}\n"
        f"- recipe: `{version.recipe}`\n- registered: {version.created_at:%Y-%m-%d %H:%M} UTC\n\n"
        f"## Metrics (from the registry)\n\n```json\n{metrics}\n```\n\n"
        f"## Recipe (resolved)\n\n```json\n{recipe}\n```\n"
    )


def write_gguf(model: Any, tokenizer: Any, path: Path, *, dtype: str = "f32", name: str = "model") -> None:
    """One GGUF file of a Llama-architecture causal LM (llama.cpp's tensor layout)."""
    import gguf

    config = model.config
    if getattr(config, "model_type", "") != "llama":
        raise InputError(
            f"gguf export supports Llama-architecture models (SmolLM2 and its fine-tunes); this one is "
            f"{getattr(config, 'model_type', '?')!r}: export --format hf and convert it with llama.cpp's "
            "convert_hf_to_gguf.py"
        )
    writer = gguf.GGUFWriter(str(path), "llama")
    _write_config(writer, config, name, dtype)
    _write_tokenizer(writer, tokenizer)
    for tensor_name, data in _llama_tensors(model, dtype):
        writer.add_tensor(tensor_name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _write_config(writer: Any, config: Any, name: str, dtype: str) -> None:
    import gguf

    heads = config.num_attention_heads
    writer.add_name(name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(heads)
    writer.add_head_count_kv(getattr(config, "num_key_value_heads", None) or heads)
    writer.add_rope_dimension_count(getattr(config, "head_dim", None) or config.hidden_size // heads)
    writer.add_rope_freq_base(float(getattr(config, "rope_theta", None) or _rope_theta(config)))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32)


def _rope_theta(config: Any) -> float:
    params = getattr(config, "rope_parameters", None) or {}
    return float(params.get("rope_theta", 10000.0))


def _write_tokenizer(writer: Any, tokenizer: Any) -> None:
    """The byte-level BPE vocabulary as llama.cpp's ``gpt2`` tokenizer model."""
    import gguf

    vocab = tokenizer.get_vocab()
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [gguf.TokenType.UNUSED] * size
    special = set(tokenizer.all_special_ids) | {
        i for tok, i in vocab.items() if tok in getattr(tokenizer, "added_tokens_encoder", {})
    }
    for token, index in vocab.items():
        tokens[index] = token
        types[index] = gguf.TokenType.CONTROL if index in special else gguf.TokenType.NORMAL
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"].get("merges", [])]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm" if size == 49152 else "default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for key, value in (
        ("bos", tokenizer.bos_token_id),
        ("eos", tokenizer.eos_token_id),
        ("unk", tokenizer.unk_token_id),
        ("pad", tokenizer.pad_token_id),
    ):
        if value is not None:
            getattr(writer, f"add_{key}_token_id")(int(value))
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def _llama_tensors(model: Any, dtype: str) -> Any:
    """(gguf name, numpy array) per weight; q/k permuted for llama.cpp's rotary layout."""
    import gguf
    import numpy as np

    config = model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config.num_hidden_layers)
    for hf_name, tensor in model.state_dict().items():
        if hf_name == "lm_head.weight" and getattr(config, "tie_word_embeddings", False):
            continue  # llama.cpp reuses token_embd when output.weight is absent
        if "rotary_emb" in hf_name:
            continue
        data = tensor.detach().float().cpu().numpy()
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, heads, heads)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, heads, kv_heads)
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise InputError(f"no GGUF name for tensor {hf_name}; export --format hf instead")
        # llama.cpp keeps norms (1-D) in f32 whatever the file type
        if dtype == "f16" and data.ndim > 1:
            data = data.astype(np.float16)
        yield gguf_name, data


def _permute(weights: Any, heads: int, kv_heads: int) -> Any:
    """llama.cpp's ``LlamaModel.permute``: interleaved rotary halves, per head."""
    if kv_heads != heads:
        heads = kv_heads
    return (
        weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )
