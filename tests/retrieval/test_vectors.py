"""FAISS wrapper: stable ids, removal, filters and save/load for every index kind.

Synthetic vectors only check the bookkeeping; recall is measured on real embeddings in
the benchmark (HNSW on random vectors says nothing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import RetrievalSettings
from infinstruct.retrieval.vectors import VectorIndex


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, np.arange(3000, dtype=np.int64) * 7 + 5


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivfpq"])
def test_ids_remove_filter_and_reload(kind: str, data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    x, ids = data
    cfg = RetrievalSettings(index_kind=kind, pq_m=8, ivf_nlist=16, ivf_nprobe=16, use_gpu=False)
    index = VectorIndex.build(x, ids, dimension=32, cfg=cfg)
    assert index.kind == kind and len(index) == 3000
    _, found = index.search(x[:3], 1)
    assert found[:, 0].tolist() == ids[:3].tolist()
    assert index.remove(ids[:2]) == 2
    assert len(index) == 2998 and not set(ids[:2].tolist()) & set(index.ids().tolist())
    _, found = index.search(x[2:3], 3, allowed=np.array([ids[2], ids[50]]))
    assert set(found[0].tolist()) - {-1} <= {int(ids[2]), int(ids[50])} and found[0][0] == ids[2]
    index.save(tmp_path / "v.faiss")
    again = VectorIndex.load(tmp_path / "v.faiss", kind=kind, dimension=32, cfg=cfg)
    assert len(again) == 2998
    assert again.search(x[10:11], 1)[1][0][0] == ids[10]
    again.add(x[:1], np.array([99999]))
    assert again.search(x[:1], 1)[1][0][0] == 99999


def test_ivfpq_falls_back_to_flat_when_too_small(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, ids = data
    index = VectorIndex.build(
        x[:100], ids[:100], dimension=32, cfg=RetrievalSettings(index_kind="ivfpq", pq_m=8)
    )
    assert index.kind == "flat"


def test_pq_m_must_divide_dimension(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, ids = data
    with pytest.raises(ConfigError, match="pq_m"):
        VectorIndex.build(x, ids, dimension=32, cfg=RetrievalSettings(index_kind="ivfpq", pq_m=7))
