"""Run folders shared by the dialogue and sentiment trainers.

A run lives in ``<models_dir>/runs/<recipe>-<timestamp>/`` with ``recipe.yaml`` (the resolved
recipe), ``run.json`` (its recipe name and the version it continues from) and, once the
version is registered, a ``COMPLETE`` marker holding the version's name.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from infinstruct.core.settings import Settings

COMPLETE = "COMPLETE"
RUN_JSON = "run.json"


def new_run_dir(settings: Settings, recipe: str, *, continue_from: str | None) -> Path:
    """A fresh run folder for ``recipe`` with its ``run.json`` written."""
    run_dir = settings.models_dir / "runs" / f"{recipe}-{time.strftime('%Y%m%d-%H%M%S')}"
    while run_dir.exists():
        run_dir = run_dir.with_name(run_dir.name + "x")
    run_dir.mkdir(parents=True)
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
