"""Item profiles: one text per item (title, genres, description, tags, review text), embedded.

Vectors are cached on disk under ``<cache_dir>/recommend/`` keyed by the sha256 of each
profile text and the model name, so re-running an evaluation (or a server restart) embeds
only profiles whose text changed; embedding the 9.7k MovieLens profiles costs ~25 s on two
cores, reading them back ~10 ms.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.settings import Settings
from infinstruct.recommend.dataset import ItemData

log = logging.getLogger(__name__)

#: Longer profiles are cut: MiniLM reads 256 word pieces (~1,000 characters) at most.
MAX_PROFILE_CHARS = 1200
#: Notes shorter than this are tags (listed by frequency); longer ones are review text.
TAG_MAX_CHARS = 40


def profile_texts(data: ItemData, *, exclude: Collection[tuple[int, int]] = ()) -> list[str]:
    """One profile text per item; notes of the ``exclude`` (user, item) pairs are left out.

    Evaluation excludes the held-out pairs: a tag a user put on the very item we try to
    predict would otherwise leak into that item's profile.
    """
    skip = set(exclude)
    tags: dict[int, Counter[str]] = defaultdict(Counter)
    reviews: dict[int, list[str]] = defaultdict(list)
    for user, index, text in data.notes:
        if (user, index) in skip:
            continue
        if len(text) <= TAG_MAX_CHARS:
            tags[index][text.lower()] += 1
        else:
            reviews[index].append(text)
    out = []
    for i, item in enumerate(data.items):
        parts = [item.title.strip()]
        lowered = item.text.lower()
        missing = [k for k in item.keywords if k.lower() not in lowered]
        if missing:
            parts.append("Genres: " + ", ".join(missing))
        if item.text.strip():
            parts.append(item.text.strip())
        if tags[i]:
            # Most-applied tags first: they survive the length cut.
            ranked = sorted(tags[i].items(), key=lambda kv: (-kv[1], kv[0]))
            parts.append("Tags: " + ", ".join(t for t, _ in ranked))
        if reviews[i]:
            parts.append("Reviews: " + " ".join(reviews[i]))
        text = ". ".join(p.rstrip(". ") for p in parts if p)
        out.append(text[:MAX_PROFILE_CHARS])
    return out


def embed_profiles(settings: Settings, texts: Sequence[str], *, embedder: Any | None = None) -> np.ndarray:
    """Unit vectors for ``texts``, read from and added to the on-disk cache."""
    if embedder is None:
        from infinstruct.embeddings.embedder import load_embedder

        embedder = load_embedder(settings)
    model_name = str(getattr(embedder, "model_name", type(embedder).__name__))
    path = cache_path(settings, model_name)
    keys = [hashlib.sha256(t.encode("utf-8")).digest() for t in texts]
    cached = _read_cache(path)
    missing = list(dict.fromkeys(k for k in keys if k not in cached))
    if missing:
        first: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            first.setdefault(key, text)
        log.info("embedding %d item profiles (%d cached)", len(missing), len(keys) - len(missing))
        vectors = np.asarray(embedder.embed([first[k] for k in missing]), dtype=np.float32)
        for key, vec in zip(missing, vectors, strict=True):
            cached[key] = vec
        _write_cache(path, cached)
    if not keys:
        return np.zeros((0, int(getattr(embedder, "dimension", 0))), dtype=np.float32)
    return np.stack([cached[k] for k in keys]).astype(np.float32, copy=False)


def cache_path(settings: Settings, model_name: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_name).strip("_") or "model"
    return settings.cache_dir / "recommend" / f"profiles-{slug}.npz"


def _read_cache(path: Path) -> dict[bytes, np.ndarray]:
    if not path.exists():
        return {}
    try:
        with np.load(path) as npz:
            keys, vectors = npz["keys"], npz["vectors"]
    except (OSError, ValueError, KeyError) as exc:
        # A torn or foreign file is only a cache: rebuild it instead of failing.
        log.warning("ignoring unreadable profile cache %s: %s", path, exc)
        return {}
    return {k.tobytes(): v for k, v in zip(keys, vectors, strict=True)}


def _write_cache(path: Path, cached: dict[bytes, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Raw digests as uint8 rows: numpy's bytes dtype would strip trailing NUL bytes.
    keys = np.frombuffer(b"".join(cached), dtype=np.uint8).reshape(len(cached), 32)
    vectors = np.stack(list(cached.values())).astype(np.float32)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        np.savez(fh, keys=keys, vectors=vectors)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old or the new file
