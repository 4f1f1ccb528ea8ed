"""Dotted recipe overrides (``--set optim.max_steps=10``): parsed once, applied once.

Every trainer and command goes through these two functions, so ``--set`` means the same
for a dialogue recipe, a sentiment recipe and ``train compare``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from infinstruct.core.errors import ConfigError


def parse_sets(pairs: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs into ``{dotted key: YAML-parsed value}`` (``"3"`` -> 3, ``"true"`` -> True)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"--set takes KEY=VALUE with a dotted key, e.g. optim.max_steps=10 (got {pair!r})"
            )
        out[key.strip()] = yaml.safe_load(value)
    return out


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Dotted keys (``optim.max_steps``) set into a deep copy of ``raw`` (``raw`` is untouched)."""
    out: dict[str, Any] = copy.deepcopy(dict(raw))
    for dotted, value in (overrides or {}).items():
        node = out
        *parents, leaf = dotted.split(".")
        for key in parents:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {dotted!r}: {key!r} is not a section of the recipe")
            node = child
        node[leaf] = value
    return out
