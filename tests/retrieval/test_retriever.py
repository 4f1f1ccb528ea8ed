"""The LangChain retriever returns Documents with metadata and scores."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document

from infinstruct.core.settings import Settings
from infinstruct.retrieval.index_store import build_index
from infinstruct.retrieval.retriever import InfinstructRetriever

pytestmark = pytest.mark.slow


def test_invoke_returns_documents_with_scores(store: Settings) -> None:
    build_index(store)
    retriever = InfinstructRetriever(settings=store, k=3, corpus="news-test")
    docs = retriever.invoke("recall of cars")
    assert docs and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert top.metadata["title"] == "Tesla recalls vehicles"
    assert top.metadata["corpus"] == "news-test" and top.metadata["meta_tickers"] == ["TSLA"]
    assert isinstance(top.metadata["score"], float) and top.metadata["doc_id"] == top.id
