"""What a run is made of: its data splits, its model (from a base, from scratch, or from
an earlier version), its phases of batches; and ``--dry-run``, which checks all of that
with one forward pass and trains nothing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from infinstruct.core.errors import ConfigError, InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.training import data
from infinstruct.finetune.training.config import FinetuneConfig
from infinstruct.finetune.training.loop import Phase, Stream
from infinstruct.finetune.training.methods import apply_method, check_remote_model, parameter_counts

log = logging.getLogger(__name__)


def accelerator_for(config: FinetuneConfig) -> Any:
    """The ``Accelerator`` a run trains under: a GPU if torch sees one (and the recipe allows
    it). Its mixed precision stays as ``accelerate launch`` set it: the loop applies the
    recipe's ``bf16`` itself (loop.py says why)."""
    import torch
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available() or config.model.device == "cpu")


# -- data and model ---------------------------------------------------------------------
def build_splits(settings: Settings, config: FinetuneConfig) -> dict[str, list[data.Example]]:
    d = config.data
    return {
        "train": data.require(
            data.load_split(settings, d, "train", limit=d.max_train, seed=config.optim.seed),
            split="train",
            data=d,
        ),
        "validation": data.load_split(settings, d, "validation", limit=d.max_eval),
        "test": data.load_split(settings, d, "test", limit=d.max_eval),
    }


def build_model_for(
    settings: Settings,
    config: FinetuneConfig,
    splits: dict[str, list[data.Example]],
    *,
    run_dir: Path | None,
    parent: ModelVersion | None,
) -> tuple[Any, Any, str]:
    """``(model, tokenizer, base)``: ``base`` is what the registry records (and reloads adapters on)."""
    from infinstruct.dialogue import is_adapter_folder, load_causal_lm, load_version
    from infinstruct.finetune.training.bottleneck import artefact_formats, is_bottleneck_folder

    if parent is not None:
        adapter_parent = is_adapter_folder(parent.artefact_path) or is_bottleneck_folder(parent.artefact_path)
        if config.continual.strategy == "adapter":
            if adapter_parent:
                raise ConfigError(
                    f"strategy 'adapter' needs a full-model parent; {parent.name} is an adapter"
                )
            model, tokenizer = load_causal_lm(settings, parent.artefact_path, device="cpu")
            forced = config.method.model_copy(update={"name": "lora"})
            return (
                apply_method(config.model_copy(update={"method": forced}), model),
                tokenizer,
                parent.artefact_path,
            )
        # a bottleneck parent goes back on its base with its adapters trainable
        model, tokenizer = load_version(
            settings, parent, device="cpu", trainable=True, formats=artefact_formats()
        )
        if adapter_parent:
            return model, tokenizer, parent.base
        return apply_method(config, model), tokenizer, parent.artefact_path
    if config.model.base == "scratch":
        from infinstruct.finetune.training.scratch import build_model, train_tokenizer

        assert config.model.scratch is not None
        import tempfile

        folder = (run_dir or Path(tempfile.mkdtemp(prefix="dry-run-"))) / "tokenizer"
        if (folder / "tokenizer.json").exists():
            from infinstruct.dialogue.loading import load_tokenizer

            tokenizer = load_tokenizer(str(folder))
        else:
            texts = data.pretrain_texts(
                settings,
                config.data,
                train=splits["train"],
                held_out=splits["validation"] + splits["test"],
                max_chars=config.pretrain.max_chars,
            )
            tokenizer = train_tokenizer(texts, config.model.scratch, folder)
        model = build_model(config.model.scratch, tokenizer, seed=config.optim.seed)
        return apply_method(config, model), tokenizer, "scratch"
    model, tokenizer = load_causal_lm(settings, config.model.base, device="cpu", dtype=config.model.dtype)
    return apply_method(config, model), tokenizer, config.model.base


def build_phases(
    settings: Settings,
    config: FinetuneConfig,
    tokenizer: Any,
    splits: dict[str, list[data.Example]],
    replay: list[data.Example],
) -> list[Phase]:
    d, seed = config.data, config.optim.seed
    phases = []
    if config.pretrain.steps:
        texts = data.pretrain_texts(
            settings,
            d,
            train=splits["train"],
            held_out=splits["validation"] + splits["test"],
            max_chars=config.pretrain.max_chars,
        )
        blocks = data.lm_blocks(tokenizer, texts, block=d.max_seq_len)
        phases.append(
            Phase(
                "pretrain",
                config.pretrain.steps,
                config.pretrain.lr / config.optim.lr,
                [(Stream(blocks, seed=seed), config.pretrain.batch_size)],
            )
        )
    features = data.encode_examples(tokenizer, splits["train"], max_len=d.max_seq_len)
    if not features:
        raise InputError(
            f"no training example of {config.name} keeps a reply within data.max_seq_len={d.max_seq_len}"
        )
    if d.packing:
        features = data.pack(features, max_len=d.max_seq_len)
    bs = config.optim.batch_size
    mix = [(Stream(features, seed=seed), bs)]
    if replay:
        n_old = max(1, min(bs - 1, round(bs * config.continual.replay_ratio)))
        old = data.encode_examples(tokenizer, replay, max_len=d.max_seq_len)
        mix = [(Stream(features, seed=seed), bs - n_old), (Stream(old, seed=seed + 1), n_old)]
    phases.append(Phase("sft", config.optim.max_steps, 1.0, mix))
    return phases


# -- dry run ----------------------------------------------------------------------------
def dry_run(settings: Settings, config: FinetuneConfig, parent: ModelVersion | None) -> dict[str, Any]:
    splits = build_splits(settings, config)
    report: dict[str, Any] = {
        "recipe": config.name,
        "dry_run": True,
        "method": config.method.name,
        "total_steps": config.total_steps,
        "examples": {k: len(v) for k, v in splits.items()},
        "config": config.model_dump(mode="json"),
    }
    base = config.model.base
    local = base in {"smollm2", "scratch"} or Path(base).expanduser().exists() or parent is not None
    if not local:
        report["model"] = check_remote_model(config)
        return report
    model, tokenizer, _ = build_model_for(settings, config, splits, run_dir=None, parent=parent)
    phases = build_phases(settings, config, tokenizer, splits, [])
    batch = data.collate(phases[-1].batch(0, 0, accum=1, rank=0, world=1), pad_id=tokenizer.pad_token_id)
    import torch

    with torch.inference_mode():
        loss = float(model(**batch).loss)
    report["model"] = {
        "status": "loaded",
        "base": base,
        "parameters": parameter_counts(model),
        "first_batch": {
            "shape": list(batch["input_ids"].shape),
            "loss": round(loss, 4),
            "label_tokens": int((batch["labels"] != data.IGNORE).sum()),
        },
    }
    return report
