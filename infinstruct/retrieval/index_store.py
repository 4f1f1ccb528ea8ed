"""Build, save, load and repair the on-disk retrieval index.

Layout under ``settings.index_dir``::

    manifest.json         the commit point: model, dimension, kind, count, corpus versions,
                          and which generation folder is current
    gen-<stamp>/vectors.faiss   FAISS index keyed by Chunk.id
    gen-<stamp>/hashes.npy      (id, content hash) of every vector, to detect changed text
    gen-<stamp>/bm25/           the BM25 index over the same chunk ids

A build writes a new generation folder, then replaces ``manifest.json`` atomically (temp
file + ``os.replace``); a crash mid-build leaves the previous index in force. Builds are
incremental: the diff between the index's (id, hash) pairs and the live chunks says what
to add and what to remove, and vectors come from the embedding cache when present.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.db import session_scope
from infinstruct.core.errors import IndexStoreError
from infinstruct.core.settings import Settings
from infinstruct.embeddings.embedder import Embedders, SentenceEmbedder, embed_cached, load_embedder
from infinstruct.retrieval.chunks import (
    ChunkSync,
    LiveChunk,
    corpus_versions,
    live_chunk_hashes,
    live_chunks,
    sync_chunks,
    unchunked_documents,
)
from infinstruct.retrieval.lexical import LexicalIndex
from infinstruct.retrieval.vectors import VectorIndex

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
_EMBED_BATCH = 2048


@dataclass
class RetrievalIndex:
    """A loaded index: FAISS vectors, BM25, and the manifest that describes them."""

    manifest: dict[str, Any]
    vectors: VectorIndex
    lexical: LexicalIndex
    hashes: dict[int, str]
    folder: Path

    @property
    def generation(self) -> str:
        return str(self.manifest["generation"])


def _read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("unreadable %s (%s); the index will be rebuilt", path, exc)
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def _load_files(settings: Settings, manifest: dict[str, Any]) -> RetrievalIndex:
    folder = settings.index_dir / str(manifest["generation"])
    vectors = VectorIndex.load(
        folder / "vectors.faiss",
        kind=manifest["kind"],
        dimension=int(manifest["dimension"]),
        cfg=settings.retrieval,
    )
    pairs = np.load(folder / "hashes.npy", allow_pickle=False)
    hashes = {
        int(i): h.decode() if isinstance(h, bytes) else str(h)
        for i, h in zip(pairs["id"], pairs["hash"], strict=True)
    }
    lexical = LexicalIndex.load(folder / "bm25")
    return RetrievalIndex(manifest=manifest, vectors=vectors, lexical=lexical, hashes=hashes, folder=folder)


def _compatible(settings: Settings, manifest: dict[str, Any], model_name: str, dimension: int) -> str | None:
    """Why an existing index cannot be updated in place (None when it can)."""
    if manifest.get("model") != model_name:
        return f"model changed ({manifest.get('model')!r} -> {model_name!r})"
    if int(manifest.get("dimension", -1)) != dimension:
        return f"dimension changed ({manifest.get('dimension')} -> {dimension})"
    if manifest.get("requested_kind") != settings.retrieval.index_kind:
        return f"index kind changed ({manifest.get('requested_kind')} -> {settings.retrieval.index_kind})"
    return None


class IndexBuildReport(ChunkSync):
    """``infinstruct index build --json``: what the build did, the chunk sync's counts included."""

    model: str
    kind: str
    count: int
    added: int
    removed: int
    rebuilt: bool
    reason: str  # why the index was rebuilt from scratch ("" when it was updated in place)
    seconds: float


def build_index(
    settings: Settings, *, full: bool = False, show_progress: bool = False, embedders: Embedders | None = None
) -> IndexBuildReport:
    """Bring the index in line with the store; returns what was done.

    Incremental unless ``full``, the model/dimension/kind changed, or the files are broken.
    """
    started = time.monotonic()
    embedder = load_embedder(settings, embedders)
    with session_scope(settings) as session:
        chunk_report = sync_chunks(session, settings)
    with session_scope(settings) as session:
        live = live_chunks(session)
        versions = corpus_versions(session)
    wanted = {c.id: c.content_hash for c in live}

    previous = None if full else _read_manifest(settings.index_dir)
    current, reason = _reusable(settings, previous, embedder, full=full)
    if current is not None:
        stale = [i for i, h in current.hashes.items() if wanted.get(i) != h]
        todo = [c for c in live if current.hashes.get(c.id) != c.content_hash]
    else:
        log.info("building the index from scratch: %s", reason)
        stale, todo = [], live
    new_vectors = _embed(settings, todo, embedder, show_progress=show_progress)
    new_ids = np.asarray([c.id for c in todo], dtype=np.int64)

    if current is None:
        vectors = VectorIndex.build(
            new_vectors, new_ids, dimension=embedder.dimension, cfg=settings.retrieval
        )
        removed = 0
    else:
        vectors = current.vectors
        removed = vectors.remove(np.asarray(stale, dtype=np.int64))
        vectors.add(new_vectors, new_ids)
    changed = current is None or bool(stale) or bool(todo)
    lexical = (
        LexicalIndex.build([c.id for c in live], (c.text for c in live))
        if changed or current is None
        else current.lexical
    )
    manifest = _manifest(
        settings,
        embedder,
        vectors,
        versions,
        generation=previous["generation"] if previous and not changed else _new_generation(),
    )
    if changed or previous is None or manifest["corpus_versions"] != previous.get("corpus_versions"):
        _save(settings, manifest, vectors, lexical, wanted, write_files=changed or current is None)
    if len(vectors) != len(wanted):
        raise IndexStoreError(
            f"index holds {len(vectors)} vectors but the store has {len(wanted)} live chunks; "
            "run `infinstruct index build --full`"
        )
    return {
        "model": embedder.model_name,
        "kind": vectors.kind,
        "count": len(vectors),
        "added": len(todo),
        "removed": removed,
        "rebuilt": current is None,
        "reason": reason if current is None else "",
        **chunk_report,
        "seconds": round(time.monotonic() - started, 2),
    }


def _reusable(
    settings: Settings, previous: dict[str, Any] | None, embedder: SentenceEmbedder, *, full: bool
) -> tuple[RetrievalIndex | None, str]:
    """The index on disk when it can be updated in place, else None and why not."""
    if previous is None:
        return None, "full rebuild requested" if full else "no index yet"
    reason = _compatible(settings, previous, embedder.model_name, embedder.dimension)
    if reason:
        return None, reason
    try:
        return _load_files(settings, previous), ""
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        return None, f"index files unreadable ({exc})"


def _embed(
    settings: Settings, todo: list[LiveChunk], embedder: SentenceEmbedder, *, show_progress: bool
) -> np.ndarray:
    """Vectors of the chunks to add, in batches (from the embedding cache when present)."""
    from infinstruct.core.progress import Progress

    vectors = np.zeros((len(todo), embedder.dimension), dtype=np.float32)
    with Progress(settings, total=len(todo), unit="chunk", desc="embed", show=show_progress) as bar:
        for start in range(0, len(todo), _EMBED_BATCH):
            part = todo[start : start + _EMBED_BATCH]
            vectors[start : start + len(part)] = embed_cached(
                settings, [c.text for c in part], embedder=embedder, hashes=[c.content_hash for c in part]
            )
            bar.update(len(part))
    return vectors


def _manifest(
    settings: Settings,
    embedder: SentenceEmbedder,
    vectors: VectorIndex,
    versions: dict[str, int],
    *,
    generation: str,
) -> dict[str, Any]:
    """The commit point's content (see the module doc)."""
    return {
        "format": FORMAT,
        "model": embedder.model_name,
        "dimension": embedder.dimension,
        "kind": vectors.kind,
        "requested_kind": settings.retrieval.index_kind,
        "count": len(vectors),
        "corpus_versions": versions,
        "chunking": {"chars": settings.retrieval.chunk_chars, "overlap": settings.retrieval.chunk_overlap},
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "generation": generation,
    }


def _new_generation() -> str:
    return f"gen-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{os.getpid()}-{time.monotonic_ns() % 10**6}"


def _save(
    settings: Settings,
    manifest: dict[str, Any],
    vectors: VectorIndex,
    lexical: LexicalIndex,
    hashes: dict[int, str],
    *,
    write_files: bool,
) -> None:
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    folder = index_dir / str(manifest["generation"])
    if write_files:
        tmp = index_dir / f".tmp-{manifest['generation']}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        vectors.save(tmp / "vectors.faiss")
        pairs = (
            np.array(list(hashes.items()), dtype=[("id", np.int64), ("hash", "S64")])
            if hashes
            else np.zeros(0, dtype=[("id", np.int64), ("hash", "S64")])
        )
        np.save(tmp / "hashes.npy", pairs, allow_pickle=False)
        lexical.save(tmp / "bm25")
        os.replace(tmp, folder)
    manifest_tmp = index_dir / f".{MANIFEST}.{os.getpid()}.tmp"
    manifest_tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(manifest_tmp, index_dir / MANIFEST)  # the commit point
    for old in index_dir.glob("gen-*"):
        if old.name != folder.name:
            shutil.rmtree(old, ignore_errors=True)
    log.info("index saved: %s vectors (%s) in %s", manifest["count"], manifest["kind"], folder)


class IndexCache:
    """Loaded indexes by folder, each reused while its manifest on disk is unchanged.

    ``services.py`` builds one per process and passes it (with the ``Embedders``) to the
    searches of the server; a caller without one loads the index for itself. A build writes
    a new manifest, so the next ``load_index`` through the cache sees it and loads again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[Path, RetrievalIndex] = {}

    def current(self, folder: Path, manifest: dict[str, Any] | None) -> RetrievalIndex | None:
        with self._lock:
            cached = self._loaded.get(folder)
        return cached if cached is not None and manifest is not None and cached.manifest == manifest else None

    def keep(self, folder: Path, index: RetrievalIndex) -> None:
        with self._lock:
            self._loaded[folder] = index


def load_index(
    settings: Settings,
    *,
    repair: bool = True,
    cache: IndexCache | None = None,
    embedders: Embedders | None = None,
) -> RetrievalIndex:
    """The current index: ``cache``'s copy while the manifest is unchanged, else read from disk.

    On first load the index is compared with the store; a mismatch (documents loaded or
    rolled back since, a changed model, broken files) is repaired by an incremental build
    when ``repair`` is on, else reported as ``IndexStoreError``.
    """
    key = settings.index_dir.resolve()
    manifest = _read_manifest(settings.index_dir)
    if cache is not None and (cached := cache.current(key, manifest)) is not None:
        return cached
    if manifest is None and not repair:
        raise IndexStoreError(f"no index at {settings.index_dir}; run `infinstruct index build` first")
    problem = "no index" if manifest is None else _store_mismatch(settings, manifest)
    if problem:
        if not repair:
            raise IndexStoreError(
                f"the index at {settings.index_dir} is out of date ({problem}); run `infinstruct index build`"
            )
        log.warning("repairing the index at %s: %s", settings.index_dir, problem)
        build_index(settings, embedders=embedders)  # the server's model, not a second copy
        manifest = _read_manifest(settings.index_dir)
        if manifest is None:
            raise IndexStoreError(f"could not write an index to {settings.index_dir}; check the folder")
    assert manifest is not None
    try:
        loaded = _load_files(settings, manifest)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise IndexStoreError(
            f"the index at {settings.index_dir} is unreadable ({exc}); run `infinstruct index build --full`"
        ) from exc
    if cache is not None:
        cache.keep(key, loaded)
    return loaded


def _store_mismatch(settings: Settings, manifest: dict[str, Any]) -> str:
    """What differs between the manifest's index and the store ('' when in step)."""
    folder = settings.index_dir / str(manifest["generation"])
    if not (folder / "vectors.faiss").exists() or not (folder / "bm25" / "ids.npy").exists():
        return f"files missing in {folder}"
    if manifest.get("model") != settings.embeddings.model and not str(manifest.get("model", "")).startswith(
        settings.embeddings.model + "#"
    ):
        return f"built with {manifest.get('model')!r}, settings say {settings.embeddings.model!r}"
    with session_scope(settings) as session:
        unchunked = unchunked_documents(session)
        live = live_chunk_hashes(session)
    if unchunked:
        return f"{unchunked} documents not indexed yet"
    if len(live) != int(manifest.get("count", -1)):
        return f"{manifest.get('count')} vectors for {len(live)} live chunks"
    return ""


def index_status(settings: Settings) -> dict[str, Any]:
    """The manifest plus how the index compares with the store right now."""
    manifest = _read_manifest(settings.index_dir)
    with session_scope(settings) as session:
        live = live_chunk_hashes(session)
        unchunked = unchunked_documents(session)
        versions = corpus_versions(session)
    out: dict[str, Any] = {
        "path": str(settings.index_dir),
        "exists": manifest is not None,
        "store_live_chunks": len(live),
        "unindexed_documents": unchunked,
    }
    if manifest is None:
        return {**out, "in_sync": False, "missing": len(live), "extra": 0}
    try:
        pairs = np.load(settings.index_dir / str(manifest["generation"]) / "hashes.npy", allow_pickle=False)
        indexed = {int(i): h.decode() for i, h in zip(pairs["id"], pairs["hash"], strict=True)}
    except (OSError, ValueError) as exc:
        return {**out, **manifest, "in_sync": False, "error": str(exc)}
    missing = sum(1 for i, h in live.items() if indexed.get(i) != h)
    extra = sum(1 for i, h in indexed.items() if live.get(i) != h)
    return {
        **out,
        **{
            k: manifest[k]
            for k in ("model", "dimension", "kind", "count", "built_at", "generation")
            if k in manifest
        },
        "corpus_versions": manifest.get("corpus_versions", {}),
        "store_corpus_versions": versions,
        "missing": missing,
        "extra": extra,
        "in_sync": missing == 0 and extra == 0 and unchunked == 0,
    }
