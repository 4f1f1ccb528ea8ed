"""``infinstruct train RECIPE``: data, model, loop, save, evaluate, register — in that order.

A run lives in ``<models_dir>/runs/<recipe>-<timestamp>/``: the resolved recipe, the
tokenizer (scratch models), checkpoints, TensorBoard logs, and ``final/`` (the artefact a
model version points at). ``--resume`` picks the newest unfinished run of the recipe.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from infinstruct.finetune.training import continual, data
from infinstruct.finetune.training.config import (
    FinetuneConfig,
    build_config,
    dump_config,
    read_recipe,
    recipe_path,
)
from infinstruct.finetune.training.evaluate import evaluate_model, score_loss, write_report
from infinstruct.finetune.training.loop import Phase, Stream, run_loop
from infinstruct.finetune.training.methods import apply_method, check_remote_model, parameter_counts
from infinstruct.platform.errors import ConfigError, InputError, TrainingError
from infinstruct.platform.registry import get_version, next_version_name, register_version
from infinstruct.platform.settings import Settings
from infinstruct.platform.tables import ModelVersion

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"


def run_recipe(
    settings: Settings,
    recipe: str,
    *,
    resume: bool = False,
    continue_from: str | None = None,
    dry_run: bool = False,
    show_progress: bool = True,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a recipe end to end; returns the registered version and its metrics."""
    path = recipe_path(settings, recipe)
    raw = read_recipe(path)
    if raw.get("kind") == "sentiment":
        return _run_sentiment(settings, path, resume=resume, continue_from=continue_from, dry_run=dry_run)
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    run_dir = _find_resumable(settings, path.stem) if resume and not dry_run else None
    if run_dir is not None:  # the run continues under the recipe it started with
        raw = read_recipe(run_dir / "recipe.yaml")
        continue_from = json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("continue_from")
    elif resume and not dry_run:
        log.warning("no unfinished run of %s to resume; starting a new one", path.stem)
    config = build_config({k: v for k, v in raw.items() if k != "name"}, name=path.stem, source=str(path))
    parent = get_version(settings, continue_from) if continue_from else None
    if parent is not None and parent.kind != config.kind:
        raise InputError(
            f"--continue-from {parent.name} is a {parent.kind} model; {config.name} trains {config.kind}"
        )
    if parent is not None and config.pretrain.steps:
        config = config.model_copy(update={"pretrain": config.pretrain.model_copy(update={"steps": 0})})
    if dry_run:
        return _dry_run(settings, config, parent)
    if run_dir is None:
        run_dir = settings.models_dir / "runs" / f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        while run_dir.exists():
            run_dir = run_dir.with_name(run_dir.name + "x")
        run_dir.mkdir(parents=True)
        dump_config(config, run_dir / "recipe.yaml")
        (run_dir / "run.json").write_text(json.dumps({"continue_from": continue_from}), encoding="utf-8")
    return _train(
        settings, config, run_dir=run_dir, parent=parent, resume=resume, show_progress=show_progress
    )


def _run_sentiment(settings: Settings, path: Path, **kwargs: Any) -> dict[str, Any]:
    try:
        from infinstruct.finetune.sentiment.train import (  # type: ignore[import-not-found,unused-ignore]
            run_sentiment_recipe,
        )
    except ImportError as exc:
        raise TrainingError(
            f"{path} is a sentiment recipe but the sentiment trainer "
            "(infinstruct.finetune.sentiment.train.run_sentiment_recipe) is not installed in this build"
        ) from exc
    result: dict[str, Any] = run_sentiment_recipe(settings, path, **kwargs)
    return result


def _find_resumable(settings: Settings, name: str) -> Path | None:
    runs = sorted((settings.models_dir / "runs").glob(f"{name}-*"), key=lambda p: p.stat().st_mtime)
    unfinished = [r for r in runs if (r / "recipe.yaml").exists() and not (r / COMPLETE).exists()]
    return unfinished[-1] if unfinished else None


# -- data and model ---------------------------------------------------------------------
def _splits(settings: Settings, config: FinetuneConfig) -> dict[str, list[data.Example]]:
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


def _build(
    settings: Settings,
    config: FinetuneConfig,
    splits: dict[str, list[data.Example]],
    *,
    run_dir: Path | None,
    parent: ModelVersion | None,
) -> tuple[Any, Any, str]:
    """``(model, tokenizer, base)``: ``base`` is what the registry records (and reloads adapters on)."""
    from infinstruct.platform.dialogue import is_adapter_folder, load_causal_lm, load_version

    if parent is not None:
        if config.continual.strategy == "adapter":
            if is_adapter_folder(parent.artefact_path):
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
        model, tokenizer = load_version(settings, parent, device="cpu", trainable=True)
        if is_adapter_folder(parent.artefact_path):
            return model, tokenizer, parent.base
        return apply_method(config, model), tokenizer, parent.artefact_path
    if config.model.base == "scratch":
        from infinstruct.finetune.training.scratch import build_model, train_tokenizer

        assert config.model.scratch is not None
        import tempfile

        folder = (run_dir or Path(tempfile.mkdtemp(prefix="dry-run-"))) / "tokenizer"
        if (folder / "tokenizer.json").exists():
            from infinstruct.platform.dialogue.loading import load_tokenizer

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


def _phases(
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
def _dry_run(settings: Settings, config: FinetuneConfig, parent: ModelVersion | None) -> dict[str, Any]:
    from pathlib import Path as _Path

    splits = _splits(settings, config)
    report: dict[str, Any] = {
        "recipe": config.name,
        "dry_run": True,
        "method": config.method.name,
        "total_steps": config.total_steps,
        "examples": {k: len(v) for k, v in splits.items()},
        "config": config.model_dump(mode="json"),
    }
    base = config.model.base
    local = base in {"smollm2", "scratch"} or _Path(base).expanduser().exists() or parent is not None
    if not local:
        report["model"] = check_remote_model(config)
        return report
    model, tokenizer, _ = _build(settings, config, splits, run_dir=None, parent=parent)
    phases = _phases(settings, config, tokenizer, splits, [])
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


# -- the run ----------------------------------------------------------------------------
def _train(
    settings: Settings,
    config: FinetuneConfig,
    *,
    run_dir: Path,
    parent: ModelVersion | None,
    resume: bool,
    show_progress: bool,
) -> dict[str, Any]:
    from accelerate import Accelerator

    started = time.monotonic()
    cuda = _cuda()
    accelerator = Accelerator(
        mixed_precision="bf16" if config.bf16 and cuda else "no", cpu=config.model.device == "cpu" or not cuda
    )
    splits = _splits(settings, config)
    model, tokenizer, base = _build(settings, config, splits, run_dir=run_dir, parent=parent)
    model.to(accelerator.device)
    earlier = (
        [d for d in continual.domains_seen(parent) if d not in (config.data.domains or [])] if parent else []
    )
    ev = config.eval
    before: dict[str, dict[str, Any]] = {}
    replay: list[data.Example] = []
    penalty = None
    if earlier:
        for domain in earlier:
            held = data.load_split(
                settings, config.data, "test", limit=config.data.max_eval, domains=[domain]
            )
            before[domain] = score_loss(
                model, tokenizer, held, max_len=config.data.max_seq_len, batch_size=ev.batch_size
            )
        old_train = data.load_split(
            settings,
            config.data,
            "train",
            limit=config.data.max_train,
            seed=config.optim.seed,
            domains=earlier,
        )
        if config.continual.strategy == "replay":
            replay = old_train
        if config.continual.strategy in {"ewc", "replay"} and config.continual.ewc_lambda > 0:
            penalty = continual.ewc_penalty(
                model,
                tokenizer,
                old_train[: config.continual.fisher_samples],
                lam=config.continual.ewc_lambda,
                max_len=config.data.max_seq_len,
            )
    phases = _phases(settings, config, tokenizer, splits, replay)
    result = run_loop(
        settings,
        config,
        model=model,
        pad_id=tokenizer.pad_token_id,
        phases=phases,
        run_dir=run_dir,
        resume=resume,
        accelerator=accelerator,
        penalty=penalty,
        show_progress=show_progress,
    )
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return {}
    model = accelerator.unwrap_model(model)
    final = run_dir / "final"
    model.save_pretrained(str(final))
    tokenizer.save_pretrained(str(final))
    dump_config(config, final / "recipe.yaml")
    # -- evaluation on the held-out splits --
    kw = {"max_len": config.data.max_seq_len, "batch_size": ev.batch_size}
    report: dict[str, Any] = {"recipe": config.name, "splits": {}}
    report["splits"]["validation"] = score_loss(model, tokenizer, splits["validation"], **kw)
    report["splits"]["test"] = evaluate_model(
        settings,
        model,
        tokenizer,
        splits["test"],
        generate=ev.generate,
        max_new_tokens=ev.max_new_tokens,
        **kw,
    )
    if ev.compare_base and hasattr(model, "disable_adapter") and parent is None and splits["validation"]:
        with model.disable_adapter():
            report["splits"]["base_validation"] = score_loss(model, tokenizer, splits["validation"], **kw)
        base_loss, loss = (
            report["splits"]["base_validation"].get("loss"),
            report["splits"]["validation"].get("loss"),
        )
        if base_loss and loss is not None:
            report["val_loss_drop"] = round(1 - loss / base_loss, 4)
    if before:
        after = {
            d: score_loss(
                model,
                tokenizer,
                data.load_split(settings, config.data, "test", limit=config.data.max_eval, domains=[d]),
                **kw,
            )
            for d in before
        }
        report["forgetting"] = continual.forgetting_report(before, after)
        report["forgetting"]["strategy"] = config.continual.strategy
    loop = asdict(result)
    loop.pop("losses")
    report["train"] = {
        **loop,
        "first_loss": result.losses[0] if result.losses else None,
        "wall_s": round(time.monotonic() - started, 1),
        "parameters": parameter_counts(model),
    }
    version = _register(
        settings,
        config,
        report,
        final=final,
        base=base,
        parent=parent,
        examples=splits["train"],
        earlier=earlier,
    )
    report["version"] = version.name
    write_report(final, report)
    (run_dir / COMPLETE).write_text(version.name, encoding="utf-8")
    return {"version": version.name, "artefact_path": str(final), "run_dir": str(run_dir), **_summary(report)}


def _register(
    settings: Settings,
    config: FinetuneConfig,
    report: dict[str, Any],
    *,
    final: Path,
    base: str,
    parent: ModelVersion | None,
    examples: list[data.Example],
    earlier: list[str],
) -> ModelVersion:
    test = {k: v for k, v in report["splits"]["test"].items() if k != "samples"}
    metrics = {
        **test,
        "splits": {k: {m: x for m, x in v.items() if m != "samples"} for k, v in report["splits"].items()},
        "domains_seen": earlier + [d for d in (config.data.domains or []) if d not in earlier],
    }
    for key in ("val_loss_drop", "forgetting", "train"):
        if key in report:
            metrics[key] = report[key]
    method = "lora" if parent is not None and config.continual.strategy == "adapter" else config.method.name
    set_ids = sorted({e.set_id for e in examples})
    resolved = config.model_dump(mode="json")
    if set_ids:  # pin the set version so re-evaluation and the gate read the same examples
        from infinstruct.platform.db import session_scope
        from infinstruct.platform.tables import InstructionSet

        with session_scope(settings) as session:
            found = session.get(InstructionSet, set_ids[-1])
            resolved["data"]["set_version"] = found.version if found else None
    version = ModelVersion(
        name=next_version_name(settings, config.kind),
        kind=config.kind,
        base=base,
        method=method,
        recipe=config.name,
        recipe_resolved=config.model_dump(mode="json"),
        instruction_set_id=set_ids[-1] if set_ids else None,
        parent_id=parent.id if parent else None,
        metrics=json.loads(json.dumps(metrics, default=str)),
        artefact_path=str(final.resolve()),
    )
    return register_version(settings, version)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    test = report["splits"]["test"]
    out = {k: test.get(k) for k in ("loss", "perplexity", "loss_per_char", "chrf", "rougeL", "embed_sim")}
    out["validation_loss"] = report["splits"]["validation"].get("loss")
    for key in ("val_loss_drop", "forgetting", "train"):
        if key in report:
            out[key] = report[key]
    return out


def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())
