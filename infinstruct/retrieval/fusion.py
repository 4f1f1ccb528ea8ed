"""Reciprocal-rank fusion of dense and BM25 rankings, with a weight per language.

The weight is fitted on a validation split by ``infinstruct eval retrieval`` and stored in
``<index_dir>/hybrid-weights.json``; until then the ``retrieval.dense_weight_<lang>``
settings apply.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infinstruct.core.settings import Settings

log = logging.getLogger(__name__)

WEIGHTS_FILE = "hybrid-weights.json"
#: The grid a weight is fitted on: 0 is BM25 only, 1 is dense only.
WEIGHT_GRID = tuple(round(x * 0.1, 1) for x in range(11))


def rrf(
    dense: Sequence[tuple[int, float]],
    lexical: Sequence[tuple[int, float]],
    *,
    dense_weight: float,
    k: int = 60,
) -> list[tuple[int, float]]:
    """Fuse two ranked ``(id, score)`` lists: ``w/(k+rank_dense) + (1-w)/(k+rank_bm25)``."""
    fused: dict[int, float] = {}
    for rank, (doc, _) in enumerate(dense, start=1):
        fused[doc] = fused.get(doc, 0.0) + dense_weight / (k + rank)
    for rank, (doc, _) in enumerate(lexical, start=1):
        fused[doc] = fused.get(doc, 0.0) + (1.0 - dense_weight) / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


def weights_path(settings: Settings) -> Path:
    return settings.index_dir / WEIGHTS_FILE


def load_weights(settings: Settings) -> dict[str, Any]:
    """The fitted weights per language (``{}`` when none were fitted yet)."""
    path = weights_path(settings)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable %s (%s)", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def dense_weight(settings: Settings, lang: str) -> float:
    """The fitted weight for ``lang`` when there is one, else the setting."""
    fitted = load_weights(settings).get(lang)
    if isinstance(fitted, dict) and isinstance(fitted.get("dense_weight"), int | float):
        return float(fitted["dense_weight"])
    return settings.retrieval.dense_weight_zh if lang == "zh" else settings.retrieval.dense_weight_en


def save_weights(settings: Settings, weights: dict[str, Any]) -> Path:
    """Merge ``weights`` (per language) into the weights file, atomically."""
    path = weights_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = {**load_weights(settings), **weights}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(merged, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
