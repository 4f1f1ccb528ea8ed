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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infinstruct.core.errors import InputError
from infinstruct.core.registry import get_version, next_version_name, register_version
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.harness.continual import Penalty
from infinstruct.finetune.harness.overrides import apply_overrides
from infinstruct.finetune.harness.report import optional_sections
from infinstruct.finetune.runs import mark_complete, resume_run, start_run
from infinstruct.finetune.training import continual, data
from infinstruct.finetune.training.build import accelerator_for, build_model_for, build_phases, build_splits
from infinstruct.finetune.training.build import dry_run as check_wiring
from infinstruct.finetune.training.config import (
    FinetuneConfig,
    build_config,
    dump_config,
    read_recipe,
    recipe_path,
)
from infinstruct.finetune.training.evaluate import evaluate_model, score_loss, write_report
from infinstruct.finetune.training.loop import LoopResult, run_loop
from infinstruct.finetune.training.methods import base_view, parameter_counts, save_artefact
from infinstruct.finetune.training.reports import EvalReport, LossMetrics, RunResult

if TYPE_CHECKING:
    from infinstruct.finetune.sentiment.reports import RunResult as SentimentRunResult

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
) -> RunResult | SentimentRunResult | dict[str, Any]:
    """Train a recipe end to end; returns the registered version and its metrics (or, with
    ``dry_run``, what would be trained)."""
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
    raw = apply_overrides(raw, overrides)
    resumed = resume_run(settings, path.stem, resume=resume and not dry_run)
    if resumed is not None:  # the run continues under the recipe and parent it started with
        raw, continue_from = resumed.recipe, resumed.continue_from
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
    run_dir = (
        resumed.run_dir
        if resumed
        else start_run(settings, config, name=config.name, continue_from=continue_from)
    )
    return _train(
        settings, config, run_dir=run_dir, parent=parent, resume=resume, show_progress=show_progress
    )


def _run_sentiment(settings: Settings, path: Path, **kwargs: Any) -> SentimentRunResult | dict[str, Any]:
    from infinstruct.finetune.sentiment.train import run_sentiment_recipe

    return run_sentiment_recipe(settings, path, **kwargs)


# -- the run ----------------------------------------------------------------------------
@dataclass
class _Earlier:
    """What a continued run knows of its parent's domains before training on the new one."""

    domains: list[str] = field(default_factory=list)
    before: dict[str, LossMetrics] = field(default_factory=dict)  # held-out loss per domain
    replay: list[data.Example] = field(default_factory=list)
    penalty: Penalty | None = None


def _train(
    settings: Settings,
    config: FinetuneConfig,
    *,
    run_dir: Path,
    parent: ModelVersion | None,
    resume: bool,
    show_progress: bool,
) -> RunResult:
    started = time.monotonic()
    accelerator = accelerator_for(config)
    splits = build_splits(settings, config)
    model, tokenizer, base = build_model_for(settings, config, splits, run_dir=run_dir, parent=parent)
    model.to(accelerator.device)
    earlier = _earlier(settings, config, parent, model, tokenizer) if parent else _Earlier()
    phases = build_phases(settings, config, tokenizer, splits, earlier.replay)
    result = run_loop(
        settings,
        config,
        model=model,
        pad_id=tokenizer.pad_token_id,
        phases=phases,
        run_dir=run_dir,
        resume=resume,
        accelerator=accelerator,
        penalty=earlier.penalty,
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
    report = _evaluate(settings, config, model, tokenizer, splits, parent=parent, before=earlier.before)
    report["train"] = _train_summary(result, model, started=started)
    version = _register(
        settings,
        config,
        report,
        final=final,
        base=base,
        parent=parent,
        examples=splits["train"],
        earlier=earlier.domains,
    )
    report["version"] = version.name
    write_report(final, report)
    mark_complete(run_dir, version.name)
    return {"version": version.name, "artefact_path": str(final), "run_dir": str(run_dir), **_summary(report)}


def _earlier(
    settings: Settings, config: FinetuneConfig, parent: ModelVersion, model: Any, tokenizer: Any
) -> _Earlier:
    """The parent's other domains: their loss before training, the replay pool, the EWC penalty."""
    domains = [d for d in continual.domains_seen(parent) if d not in (config.data.domains or [])]
    out = _Earlier(domains=domains)
    if not domains:
        return out
    cfg = config.data
    for domain in domains:
        held = data.load_split(settings, cfg, "test", limit=cfg.max_eval, domains=[domain])
        out.before[domain] = score_loss(
            model, tokenizer, held, max_len=cfg.max_seq_len, batch_size=config.eval.batch_size
        )
    old_train = data.load_split(
        settings, cfg, "train", limit=cfg.max_train, seed=config.optim.seed, domains=domains
    )
    strategy = config.continual
    if strategy.strategy == "replay":
        out.replay = old_train
    if strategy.strategy in {"ewc", "replay"} and strategy.ewc_lambda > 0:
        out.penalty = continual.ewc_penalty(
            model,
            tokenizer,
            old_train[: strategy.fisher_samples],
            lam=strategy.ewc_lambda,
            max_len=cfg.max_seq_len,
        )
    return out


def _evaluate(
    settings: Settings,
    config: FinetuneConfig,
    model: Any,
    tokenizer: Any,
    splits: dict[str, list[data.Example]],
    *,
    parent: ModelVersion | None,
    before: dict[str, LossMetrics],
) -> EvalReport:
    """The held-out report: validation and test, the untuned base, forgetting of earlier domains."""
    ev = config.eval
    kw = {"max_len": config.data.max_seq_len, "batch_size": ev.batch_size}
    report: EvalReport = {"recipe": config.name, "splits": {}}
    report["splits"]["validation"] = {**score_loss(model, tokenizer, splits["validation"], **kw)}
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
            report["splits"]["base_validation"] = {**score_loss(model, tokenizer, splits["validation"], **kw)}
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
    return report


def _train_summary(result: LoopResult, model: Any, *, started: float) -> dict[str, Any]:
    """The loop's numbers as the report's ``train`` block (the loss curve, not every loss)."""
    loop = asdict(result)
    loop.pop("losses")
    return {
        **loop,
        "first_loss": result.losses[0] if result.losses else None,
        "loss_curve": loss_curve(result.losses, start=result.steps - len(result.losses)),
        "wall_s": round(time.monotonic() - started, 1),
        "parameters": parameter_counts(model),
    }


def _register(
    settings: Settings,
    config: FinetuneConfig,
    report: EvalReport,
    *,
    final: Path,
    base: str,
    parent: ModelVersion | None,
    examples: list[data.Example],
    earlier: list[str],
) -> ModelVersion:
    metrics: dict[str, Any] = {k: v for k, v in report["splits"]["test"].items() if k != "samples"}
    metrics["splits"] = {
        k: {m: x for m, x in v.items() if m != "samples"} for k, v in report["splits"].items()
    }
    metrics["domains_seen"] = earlier + [d for d in (config.data.domains or []) if d not in earlier]
    if "val_loss_drop" in report:
        metrics["val_loss_drop"] = report["val_loss_drop"]
    if "forgetting" in report:
        metrics["forgetting"] = report["forgetting"]
    if "train" in report:
        metrics["train"] = report["train"]
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


def _summary(report: EvalReport) -> RunResult:
    test, validation = report["splits"]["test"], report["splits"]["validation"]
    out: RunResult = {
        "loss": test.get("loss"),
        "perplexity": test.get("perplexity"),
        "loss_per_char": test.get("loss_per_char"),
        "chrf": test.get("chrf"),
        "rougeL": test.get("rougeL"),
        "embed_sim": test.get("embed_sim"),
        "validation_loss": validation.get("loss"),
    }
    out.update(optional_sections(report, "val_loss_drop"))  # type: ignore[typeddict-item]  # keys of RunResult
    return out


def _world_size() -> int:
    """Processes that trained together (``accelerate launch --num_processes``); 1 without it."""
    from accelerate import PartialState

    return int(PartialState().num_processes)
