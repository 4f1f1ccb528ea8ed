"""``infinstruct train compare RECIPE --methods …``: every training method on the same data,
steps, seed and validation split, one row each: trainable parameters, validation loss before
and after, tokens/s, peak memory, artifact size and wall time (and, with ``--continual``,
how much a second domain makes each method forget the first).

Each method trains in its own spawned process: peak memory on a CPU is the process's
resident high-water mark, which never goes down, so methods sharing a process would each
report the largest so far. Nothing is registered; the artefacts are measured on disk and
removed. The last comparison is kept as ``<models_dir>/compare/last.json``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

from infinstruct.core.errors import ConfigError, InfinstructError
from infinstruct.core.settings import Settings
from infinstruct.finetune.training import data
from infinstruct.finetune.training.build import accelerator_for
from infinstruct.finetune.training.config import FinetuneConfig, Method, load_config

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = get_args(Method)
ROW_KEYS = (
    "method",
    "trainable",
    "total",
    "trainable_share",
    "val_loss_before",
    "val_loss_after",
    "tokens_per_s",
    "peak_memory_mb",
    "artifact_mb",
    "seconds",
)


def parse_methods(text: str) -> list[str]:
    names = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in names if m not in METHODS]
    if bad or not names:
        raise ConfigError(f"--methods takes a comma list of {', '.join(METHODS)} (got {text!r})")
    return list(dict.fromkeys(names))


def _config(settings: Settings, recipe: str, method: str, overrides: dict[str, Any]) -> FinetuneConfig:
    config = load_config(settings, recipe, **{**overrides, "method.name": method})
    # No mid-run checkpoints: a full model's optimiser state is ~1.6 GB a save, and nothing resumes.
    return config.model_copy(
        update={"checkpoint": config.checkpoint.model_copy(update={"every_steps": config.total_steps + 1})}
    )


def _second(
    settings: Settings, recipe: str, first: FinetuneConfig, overrides: dict[str, Any]
) -> FinetuneConfig:
    """RECIPE2's data and schedule, continuing the first's model (its model section, no pretraining)."""
    same_model = {"model": first.model.model_dump(mode="json"), "pretrain.steps": first.pretrain.steps}
    config = _config(settings, recipe, first.method.name, {**overrides, **same_model})
    return config.model_copy(update={"pretrain": config.pretrain.model_copy(update={"steps": 0})})


def run_compare(
    settings: Settings,
    recipe: str,
    *,
    methods: list[str],
    overrides: dict[str, Any] | None = None,
    continual: str | None = None,
    show_progress: bool = False,
    isolate: bool = True,
) -> dict[str, Any]:
    """Train each method in turn (same data, steps, seed, split); store and return the table.

    ``isolate=False`` trains in this process: faster to start (tests), but peak memory is
    then this process's high-water mark, not the method's own.
    """
    overrides = overrides or {}
    configs = {m: _config(settings, recipe, m, overrides) for m in methods}
    then = {m: _second(settings, continual, configs[m], overrides) for m in methods} if continual else {}
    first = configs[methods[0]]
    from infinstruct.finetune.training.build import build_splits

    splits = build_splits(settings, first)
    second_splits = build_splits(settings, then[methods[0]]) if continual else None
    if not splits["validation"]:
        raise ConfigError(f"recipe {first.name} has no validation examples to compare methods on")
    work = settings.models_dir / "compare" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    result: dict[str, Any] = {
        "recipe": first.name,
        "continual": then[methods[0]].name if continual else None,
        "steps": first.optim.max_steps,
        "pretrain_steps": first.pretrain.steps,
        "seed": first.optim.seed,
        "batch_size": first.optim.batch_size,
        "examples": {"train": len(splits["train"]), "validation": len(splits["validation"])},
        "overrides": dict(overrides),
        "isolated": isolate,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # The CPU is shared with other work: timings are comparable within one comparison only.
        "load_avg": {"before": list(os.getloadavg()), "after": None},
        "finished": False,
        "methods": [],
    }
    for method in methods:
        log.info("compare %s: training %s", first.name, method)
        row = _in_child(
            settings,
            configs[method],
            splits,
            work=work / method,
            second=(then[method], second_splits) if continual else None,
            show_progress=show_progress,
            isolate=isolate,
        )
        result["methods"].append(row)
        save_comparison(settings, result)  # rows so far: a long comparison shows (and keeps) progress
    shutil.rmtree(work, ignore_errors=True)
    result["load_avg"]["after"] = list(os.getloadavg())
    result["finished"] = True
    save_comparison(settings, result)
    return result


def _in_child(
    settings: Settings,
    config: FinetuneConfig,
    splits: dict[str, list[data.Example]],
    *,
    work: Path,
    second: tuple[FinetuneConfig, dict[str, list[data.Example]] | None] | None,
    show_progress: bool,
    isolate: bool,
) -> dict[str, Any]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    kwargs: dict[str, Any] = {"work": work, "second": second, "show": show_progress}
    try:
        if not isolate:
            return measure_method(settings, config, splits, **kwargs)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(measure_method, settings, config, splits, **kwargs).result()
    except (InfinstructError, RuntimeError, ValueError, OSError) as exc:
        # One method that does not fit (e.g. its modules are absent here) keeps the rest.
        log.warning("compare: %s failed: %s", config.method.name, exc)
        return {**dict.fromkeys(ROW_KEYS), "method": config.method.name, "error": str(exc)}


def measure_method(
    settings: Settings,
    config: FinetuneConfig,
    splits: dict[str, list[data.Example]],
    *,
    work: Path,
    second: tuple[FinetuneConfig, dict[str, list[data.Example]] | None] | None = None,
    show: bool = False,
) -> dict[str, Any]:
    """One row: build, score, train, score, save and measure (runs in its own process)."""
    from infinstruct.finetune.training.build import build_model_for
    from infinstruct.finetune.training.evaluate import score_loss
    from infinstruct.finetune.training.loop import peak_memory_mb
    from infinstruct.finetune.training.methods import parameter_counts, save_artefact

    started = time.monotonic()
    model, tokenizer, base = build_model_for(settings, config, splits, run_dir=work, parent=None)
    accelerator = accelerator_for(config)
    model.to(accelerator.device)
    kw = {"max_len": config.data.max_seq_len, "batch_size": config.eval.batch_size}
    before = score_loss(model, tokenizer, splits["validation"], **kw)
    loop = _train(settings, config, model, tokenizer, splits, work=work, accelerator=accelerator, show=show)
    after = score_loss(model, tokenizer, splits["validation"], **kw)
    counts = parameter_counts(model)
    save_artefact(model, work / "artefact", base=base)
    row: dict[str, Any] = {
        "method": config.method.name,
        "trainable": counts["trainable"],
        "total": counts["total"],
        "trainable_share": round(counts["trainable"] / max(counts["total"], 1), 6),
        "val_loss_before": before.get("loss"),
        "val_loss_after": after.get("loss"),
        "tokens_per_s": loop.tokens_per_s,
        "peak_memory_mb": None,
        "artifact_mb": round(_size(work / "artefact") / 2**20, 2),
        "seconds": None,
    }
    if second is not None:
        config2, splits2 = second
        assert splits2 is not None
        before2 = score_loss(model, tokenizer, splits2["validation"], **kw)
        _train(
            settings,
            config2,
            model,
            tokenizer,
            splits2,
            work=work / "second",
            accelerator=accelerator,
            show=show,
        )
        forgot = score_loss(model, tokenizer, splits["validation"], **kw).get("loss")
        row["forgetting"] = {
            "first_val_loss_before": after.get("loss"),
            "first_val_loss_after": forgot,
            "forgetting": round(forgot - after["loss"], 5) if forgot is not None else None,
            "second_val_loss_before": before2.get("loss"),
            "second_val_loss_after": score_loss(model, tokenizer, splits2["validation"], **kw).get("loss"),
        }
    row["peak_memory_mb"] = round(peak_memory_mb(), 1)
    row["seconds"] = round(time.monotonic() - started, 1)
    return row


def _train(
    settings: Settings,
    config: FinetuneConfig,
    model: Any,
    tokenizer: Any,
    splits: dict[str, list[data.Example]],
    *,
    work: Path,
    accelerator: Any,
    show: bool,
) -> Any:
    from infinstruct.finetune.training.build import build_phases
    from infinstruct.finetune.training.loop import run_loop

    phases = build_phases(settings, config, tokenizer, splits, [])
    return run_loop(
        None,
        config,
        model=model,
        pad_id=tokenizer.pad_token_id,
        phases=phases,
        run_dir=work,
        resume=False,
        accelerator=accelerator,
        show_progress=show,
    )


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


# -- the stored last comparison ---------------------------------------------------------
def _last_path(settings: Settings) -> Path:
    return settings.models_dir / "compare" / "last.json"


def save_comparison(settings: Settings, result: dict[str, Any]) -> None:
    path = _last_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file


def load_last_comparison(settings: Settings) -> dict[str, Any] | None:
    path = _last_path(settings)
    if not path.exists():
        return None
    return dict(json.loads(path.read_text(encoding="utf-8")))


def render_table(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table (CLI output, docs, the console)."""
    head = "| method | trainable | share | val loss before | val loss after | tokens/s | peak MB | artifact MB | seconds |"
    lines = [head, "|---" * 9 + "|"]
    for r in result["methods"]:
        if r.get("error"):
            lines.append(f"| {r['method']} | failed: {r['error'][:80]} |" + " |" * 7)
            continue
        share = f"{100 * r['trainable_share']:.2f}%"
        cells = [r["method"], f"{r['trainable']:,}", share, r["val_loss_before"], r["val_loss_after"]]
        cells += [r["tokens_per_s"], r["peak_memory_mb"], r["artifact_mb"], r["seconds"]]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if any("forgetting" in r for r in result["methods"]):
        lines += ["", "| method | first-domain val loss before | after | forgetting |", "|---|---|---|---|"]
        for r in result["methods"]:
            f = r.get("forgetting") or {}
            cells = [f.get("first_val_loss_before"), f.get("first_val_loss_after"), f.get("forgetting")]
            lines.append(f"| {r['method']} | " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)
