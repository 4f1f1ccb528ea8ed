"""The instruction build report: what ``instructions build --json`` (and ``import``) prints
and what each set version stores in ``InstructionSet.report``. A TypedDict, so the JSON
stays exactly these keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast


class BuildReport(TypedDict, total=False):
    examples: int
    by_task_lang: dict[str, dict[str, int]]  # task -> language -> examples
    by_domain: dict[str, int]
    by_split: dict[str, int]
    by_corpus: dict[str, int]
    diversity: dict[str, Any]  # distinct-1/2 per language and per task (quality.diversity)
    candidates: int
    rejects: dict[str, int]  # reason -> candidates dropped
    rejects_by_task: dict[str, dict[str, int]]
    reject_samples: dict[str, list[str]]
    skipped: dict[str, int]
    grounded: int
    # written with the set version
    name: str
    version: int
    set_id: int
    input_hash: str
    # of this call
    unchanged: bool  # the inputs were identical: the latest version is returned, nothing built
    seconds: float


def stored_report(report: Mapping[str, Any], **update: Any) -> BuildReport:
    """A set version's stored report (JSON written from a ``BuildReport``) with ``update``."""
    return cast(BuildReport, {**report, **update})
