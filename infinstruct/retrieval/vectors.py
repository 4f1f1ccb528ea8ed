"""The FAISS index: inner product over unit vectors, rows keyed by ``Chunk.id``.

- ``flat``: exact search (``IndexIDMap2`` over ``IndexFlatIP``), the default.
- ``hnsw``: a graph index for large corpora (``IndexIDMap2`` over ``IndexHNSWFlat``).
  HNSW cannot delete nodes, so a removal rebuilds the graph from the stored vectors
  (no re-embedding).
- ``ivfpq``: compressed inverted lists for very large corpora; trained on the vectors
  present at the first build (too few vectors falls back to flat, logged).

GPU FAISS is used for searching when the ``gpu`` extra is installed, a GPU is visible and
``retrieval.use_gpu`` is on; the CPU copy stays the one that is edited and saved.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import RetrievalSettings

log = logging.getLogger(__name__)

#: IVF-PQ needs enough points to train its quantisers (FAISS warns below ~39 per list).
_MIN_TRAIN_PER_LIST = 39
_PQ_CENTROIDS = 256
#: Filtered HNSW searches over at most this many ids are computed exactly instead.
_EXACT_FILTER_MAX = 50_000


def _faiss() -> Any:
    import faiss

    return faiss


class VectorIndex:
    """A FAISS index with stable int64 ids; ``kind`` is what was actually built."""

    def __init__(self, index: Any, *, kind: str, dimension: int, cfg: RetrievalSettings) -> None:
        self.index = index
        self.kind = kind
        self.dimension = dimension
        self._cfg = cfg
        self._gpu: Any | None = None
        self._apply_search_params()

    # -- construction --------------------------------------------------------------
    @classmethod
    def build(
        cls, vectors: np.ndarray, ids: np.ndarray, *, dimension: int, cfg: RetrievalSettings
    ) -> VectorIndex:
        """A new index of ``cfg.index_kind`` over ``vectors`` (rows) with ``ids``."""
        faiss = _faiss()
        kind = cfg.index_kind
        n = len(ids)
        if kind == "ivfpq":
            nlist = min(cfg.ivf_nlist, max(1, n // _MIN_TRAIN_PER_LIST))
            if dimension % cfg.pq_m:
                raise ConfigError(
                    f"retrieval.pq_m must divide the embedding dimension {dimension} (got {cfg.pq_m})"
                )
            if n < max(_PQ_CENTROIDS, nlist * _MIN_TRAIN_PER_LIST):
                log.warning("only %d vectors: too few to train IVF-PQ, building a flat index", n)
                kind = "flat"
            else:
                quantizer = faiss.IndexFlatIP(dimension)
                index = faiss.IndexIVFPQ(quantizer, dimension, nlist, cfg.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
                index.train(np.ascontiguousarray(vectors, dtype=np.float32))
        if kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
        elif kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dimension, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index = faiss.IndexIDMap2(inner)
        elif kind != "ivfpq":
            raise ConfigError(f"retrieval.index_kind must be flat, hnsw or ivfpq (got {kind!r})")
        out = cls(index, kind=kind, dimension=dimension, cfg=cfg)
        out.add(vectors, ids)
        return out

    @classmethod
    def load(cls, path: Path, *, kind: str, dimension: int, cfg: RetrievalSettings) -> VectorIndex:
        index = _faiss().read_index(str(path))
        if index.d != dimension:
            raise ValueError(f"{path} holds {index.d}-dim vectors, expected {dimension}")
        return cls(index, kind=kind, dimension=dimension, cfg=cfg)

    def save(self, path: Path) -> None:
        _faiss().write_index(self.index, str(path))

    # -- edits ---------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.index.ntotal)

    def ids(self) -> np.ndarray:
        """Every id in the index (order unspecified)."""
        faiss = _faiss()
        if self.kind == "ivfpq":
            invlists = self.index.invlists
            parts = [
                faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                for i in range(self.index.nlist)
                if invlists.list_size(i)
            ]
            return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self.index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(ids, dtype=np.int64)
        )
        self._gpu = None

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids`` (absent ones are ignored); returns how many were removed."""
        if len(ids) == 0:
            return 0
        faiss = _faiss()
        if self.kind == "hnsw":
            return self._rebuild_without(ids)
        removed = int(self.index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))))
        self._gpu = None
        return removed

    def _rebuild_without(self, ids: np.ndarray) -> int:
        faiss = _faiss()
        current = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        keep = ~np.isin(current, ids)
        removed = int((~keep).sum())
        if removed == 0:
            return 0
        vectors = self.index.index.reconstruct_n(0, len(current))[keep]
        inner = faiss.IndexHNSWFlat(self.dimension, self._cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        self.index = faiss.IndexIDMap2(inner)
        self._apply_search_params()
        self.add(vectors, current[keep])
        return removed

    # -- search --------------------------------------------------------------------
    def _apply_search_params(self) -> None:
        if self.kind == "hnsw":
            _faiss().downcast_index(self.index.index).hnsw.efSearch = self._cfg.hnsw_ef_search
        elif self.kind == "ivfpq":
            self.index.nprobe = self._cfg.ivf_nprobe

    def _searcher(self) -> Any:
        """The GPU copy when GPU FAISS can serve this kind, else the CPU index."""
        if self._gpu is not None:
            return self._gpu
        faiss = _faiss()
        if (
            self._cfg.use_gpu
            and self.kind != "hnsw"  # GPU FAISS has no HNSW; the CPU graph is fast anyway
            and hasattr(faiss, "StandardGpuResources")
            and faiss.get_num_gpus() > 0
        ):
            try:
                resources = faiss.StandardGpuResources()
                self._gpu = faiss.index_cpu_to_gpu(resources, 0, self.index)
                self._gpu_resources = resources  # keep alive as long as the GPU index
                return self._gpu
            except RuntimeError as exc:  # an index type this FAISS build cannot move
                log.warning("GPU FAISS unavailable for %s (%s); searching on the CPU", self.kind, exc)
        return self.index

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` of shape ``(len(queries), k)``; missing slots have id -1."""
        faiss = _faiss()
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if len(self) == 0 or k <= 0:
            return np.zeros((len(q), max(k, 0)), np.float32), np.full((len(q), max(k, 0)), -1, np.int64)
        if allowed is None:
            scores, ids = self._searcher().search(q, k)
            return scores, ids
        if self.kind == "hnsw" and len(allowed) <= _EXACT_FILTER_MAX:
            # A graph walk restricted to a few ids misses most of them; score those exactly.
            return self._exact_among(q, k, allowed)
        # A filter runs on the CPU index: FAISS' ID selectors are CPU-only.
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = self._search_params(selector)
        scores, ids = self.index.search(q, k, params=params)
        return scores, ids

    def _search_params(self, selector: Any) -> Any:
        faiss = _faiss()
        if self.kind == "ivfpq":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self._cfg.ivf_nprobe)
        # IndexIDMap translates the selector from external ids to its row numbers.
        if self.kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self._cfg.hnsw_ef_search)
        return faiss.SearchParameters(sel=selector)

    def _exact_among(self, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        all_ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        rows = np.nonzero(np.isin(all_ids, allowed))[0]
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        if len(rows) == 0:
            return scores, ids
        vectors = self.index.index.reconstruct_batch(rows.astype(np.int64))
        sims = q @ vectors.T
        top = min(k, len(rows))
        order = np.argsort(-sims, axis=1)[:, :top]
        scores[:, :top] = np.take_along_axis(sims, order, axis=1)
        ids[:, :top] = all_ids[rows][order]
        return scores, ids
