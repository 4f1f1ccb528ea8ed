"""``eval.json`` and a human ``eval.md`` beside an artefact; each trainer renders its markdown."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def write_report(folder: Path, report: Mapping[str, Any], render: Callable[[Any], str]) -> tuple[Path, Path]:
    """Write ``report`` as ``eval.json`` and ``render(report)`` as ``eval.md``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "eval.json", folder / "eval.md"
    json_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    md_path.write_text(render(report), encoding="utf-8")
    return json_path, md_path


#: Report sections a run's result repeats when the evaluation produced them (continual runs
#: add ``forgetting``; every trainer adds ``train``).
SHARED_SECTIONS = ("forgetting", "train")


def optional_sections(report: Mapping[str, Any], *extra: str) -> dict[str, Any]:
    """The sections of ``report`` a run result carries: ``extra`` then the shared ones, each
    only when present (an absent key stays absent in the JSON, not ``null``)."""
    return {key: report[key] for key in (*extra, *SHARED_SECTIONS) if key in report}
