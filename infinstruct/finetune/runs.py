"""Run folders shared by the dialogue and sentiment trainers.

A run lives in ``<models_dir>/runs/<recipe>-<timestamp>/`` with ``recipe.yaml`` (the resolved
recipe), ``run.json`` (its recipe name and the version it continues from) and, once the
version is registered, a ``COMPLETE`` marker holding the version's name.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infinstruct.core.settings import Settings
from infinstruct.finetune.harness.recipe import dump_config, read_recipe

log = logging.getLogger(__name__)

COMPLETE = "COMPLETE"
RUN_JSON = "run.json"


def new_run_dir(settings: Settings, recipe: str, *, continue_from: str | None) -> Path:
    """A fresh run folder for ``recipe`` with its ``run.json`` written."""
    run_dir = settings.models_dir / "runs" / f"{recipe}-{time.strftime('%Y%m%d-%H%M%S')}"
    while True:
        # mkdir is the claim, not an exists() check before it: two ranks of one `accelerate
        # launch` (or two runs) starting in the same second both passed that check, and one
        # died on FileExistsError (seen once in CI, tests/finetune/training/test_launch.py).
        try:
            run_dir.mkdir(parents=True)
            break
        except FileExistsError:
            run_dir = run_dir.with_name(run_dir.name + "x")
    (run_dir / RUN_JSON).write_text(
        json.dumps({"recipe": recipe, "continue_from": continue_from}), encoding="utf-8"
    )
    return run_dir


def run_info(run_dir: Path) -> dict[str, Any]:
    try:
        info = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def find_resumable(settings: Settings, recipe: str) -> Path | None:
    """The newest unfinished run of ``recipe`` (its resolved recipe saved, no COMPLETE marker)."""
    runs = sorted((settings.models_dir / "runs").glob(f"{recipe}-*"), key=lambda p: p.stat().st_mtime)
    unfinished = [
        r
        for r in runs
        if (r / "recipe.yaml").exists()
        and not (r / COMPLETE).exists()
        and run_info(r).get("recipe") == recipe  # "x-*" also matches runs of a recipe "x-y"
    ]
    return unfinished[-1] if unfinished else None


def mark_complete(run_dir: Path, version: str) -> None:
    (run_dir / COMPLETE).write_text(version, encoding="utf-8")


@dataclass(frozen=True)
class Resumed:
    """An unfinished run picked up by ``--resume``: it continues as it started."""

    run_dir: Path
    recipe: dict[str, Any]  # the resolved recipe the run was started with
    continue_from: str | None


def resume_run(settings: Settings, recipe: str, *, resume: bool) -> Resumed | None:
    """With ``resume``, the newest unfinished run of ``recipe`` (None, and a warning, if none)."""
    if not resume:
        return None
    run_dir = find_resumable(settings, recipe)
    if run_dir is None:
        log.warning("no unfinished run of %s to resume; starting a new one", recipe)
        return None
    return Resumed(run_dir, read_recipe(run_dir / "recipe.yaml"), run_info(run_dir).get("continue_from"))


def start_run(settings: Settings, config: BaseModel, *, name: str, continue_from: str | None) -> Path:
    """A new run folder for recipe ``name``, ``config`` (its resolved recipe) written in it."""
    run_dir = new_run_dir(settings, name, continue_from=continue_from)
    dump_config(config, run_dir / "recipe.yaml")
    return run_dir
