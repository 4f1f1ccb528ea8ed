"""``infinstruct train RECIPE``: data, model, loop, save, evaluate, register — in that order.

A run lives in ``<models_dir>/runs/<recipe>-<timestamp>/``: the resolved recipe, the
tokenizer (scratch models), checkpoints, TensorBoard logs, and ``final/`` (the artefact a
model version points at). ``--resume`` picks the newest unfinished run of the recipe.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from infinstruct.core.errors import InputError
from infinstruct.core.registry import get_version, next_version_name, register_version
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.runs import find_resumable, mark_complete, new_run_dir, run_info
from infinstruct.finetune.training import continual, data
from infinstruct.finetune.training.build import build_model_for, build_phases, build_splits
from infinstruct.finetune.training.build import dry_run as check_wiring
from infinstruct.finetune.training.config import (
    FinetuneConfig,
    build_config,
    dump_config,
    read_recipe,
    recipe_path,
)
from infinstruct.finetune.training.evaluate import evaluate_model, score_loss, write_report
from infinstruct.finetune.training.loop import run_loop
from infinstruct.finetune.training.methods import base_view, parameter_counts, save_artefact

log = logging.getLogger(__name__)


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
        return _run_sentiment(
            settings,
            path,
            resume=resume,
            continue_from=continue_from,
            dry_run=dry_run,
            overrides=overrides,
            show_progress=show_progress,
        )
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    run_dir = find_resumable(settings, path.stem) if resume and not dry_run else None
    if run_dir is not None:  # the run continues under the recipe it started with
        raw = read_recipe(run_dir / "recipe.yaml")
        continue_from = run_info(run_dir).get("continue_from")
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
        return check_wiring(settings, config, parent)
    if run_dir is None:
        run_dir = new_run_dir(settings, config.name, continue_from=continue_from)
        dump_config(config, run_dir / "recipe.yaml")
    return _train(
        settings, config, run_dir=run_dir, parent=parent, resume=resume, show_progress=show_progress
    )


def _run_sentiment(settings: Settings, path: Path, **kwargs: Any) -> dict[str, Any]:
    from infinstruct.finetune.sentiment.train import run_sentiment_recipe

    return run_sentiment_recipe(settings, path, **kwargs)


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
    splits = build_splits(settings, config)
    model, tokenizer, base = build_model_for(settings, config, splits, run_dir=run_dir, parent=parent)
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
    phases = build_phases(settings, config, tokenizer, splits, replay)
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
    save_artefact(model, final, base=base)
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
    as_base = base_view(model)
    if ev.compare_base and as_base is not None and parent is None and splits["validation"]:
        with as_base:
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
        "loss_curve": loss_curve(result.losses, start=result.steps - len(result.losses)),
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
    mark_complete(run_dir, version.name)
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
    method: str = (
        "lora" if parent is not None and config.continual.strategy == "adapter" else config.method.name
    )
    from infinstruct.finetune.training.bottleneck import is_bottleneck_folder

    if is_bottleneck_folder(final):  # a continued bottleneck parent stays bottleneck whatever the recipe says
        method = "bottleneck"
    elif method == "bottleneck" and parent is not None:  # ... and a continued peft parent stays its method
        method = parent.method
    set_ids = sorted({e.set_id for e in examples})
    resolved = config.model_dump(mode="json")
    if set_ids:  # pin the set version so re-evaluation and the gate read the same examples
        from infinstruct.core.db import session_scope
        from infinstruct.core.tables import InstructionSet

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
        metrics=json.loads(json.dumps({**metrics, "world_size": _world_size()}, default=str)),
        artefact_path=str(final.resolve()),
    )
    return register_version(settings, version)


def loss_curve(losses: list[float], *, start: int = 0, points: int = 200) -> list[list[float]]:
    """``[step, loss]`` pairs of this run's training loss, at most ``points`` of them.

    The console draws the curve from the job's result, so it is whole however rarely the page
    polled (a fast run can finish between two polls).
    """
    every = max(1, math.ceil(len(losses) / points))
    picked = [i for i in range(len(losses)) if i % every == 0 or i == len(losses) - 1]
    return [[start + i + 1, round(losses[i], 4)] for i in picked]


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


def _world_size() -> int:
    """Processes that trained together (``accelerate launch --num_processes``); 1 without it."""
    from accelerate import PartialState

    return int(PartialState().num_processes)
