"""Leak-free, deterministic splits: the split is a function of the group key alone.

Every example carries a group key (``brand:…``, ``thread:…``, ``user:…``, ``item:…``,
``sent:<normalised sentence hash>``); hashing it with a salt puts every member of a group,
from whichever corpus or file, on the same side. Rebuilding never moves a group.
"""

from __future__ import annotations

from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import InstructionSettings
from infinstruct.finetune.instructions.textnorm import unit_interval


def check_shares(opts: InstructionSettings) -> None:
    if opts.validation_share + opts.test_share >= 1.0:
        raise ConfigError(
            "instructions.validation_share + instructions.test_share must be < 1 "
            f"(got {opts.validation_share} + {opts.test_share}); lower one of them"
        )


def assign_split(group_key: str, opts: InstructionSettings) -> str:
    """``train``, ``validation`` or ``test`` for every example of ``group_key``."""
    point = unit_interval(opts.split_salt, group_key)
    if point < opts.test_share:
        return "test"
    if point < opts.test_share + opts.validation_share:
        return "validation"
    return "train"
