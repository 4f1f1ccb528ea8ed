"""The instruction set: every corpus in the store turned into instruction examples.

Public API (light to import; the builder's heavy parts load on call):

- ``load_examples(settings, *, set_name="default", version=None, split="train", ...)``
- ``latest_set(settings, name)``, ``get_set``, ``list_sets``
- ``build_instruction_set(settings, *, name="default", ...)`` (see ``builder``)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infinstruct.finetune.instructions.store import (
    SPLITS,
    get_set,
    latest_set,
    list_sets,
    load_examples,
)

if TYPE_CHECKING:
    from infinstruct.core.settings import Settings

__all__ = [
    "SPLITS",
    "build_instruction_set",
    "get_set",
    "latest_set",
    "list_sets",
    "load_examples",
]


def build_instruction_set(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    """Build (or reuse, when the inputs are unchanged) a set version; returns its report
    (a ``report.BuildReport``, as the plain mapping ``core.protocols.InstructionBuilder`` names)."""
    from infinstruct.finetune.instructions.builder import build_instruction_set as _build

    return dict(_build(settings, **kwargs))
