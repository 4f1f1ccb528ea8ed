"""The retriever as a LangChain ``BaseRetriever`` (Documents with metadata and score).

Imported only by code that wants LangChain; ``langchain_core`` is light (no torch).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from infinstruct.core.settings import Settings
from infinstruct.embeddings.embedder import Embedders
from infinstruct.retrieval.index_store import IndexCache
from infinstruct.retrieval.search import Hit, Mode, search


def hit_to_document(hit: Hit) -> LCDocument:
    """A LangChain document: the chunk text as content, provenance and score in metadata."""
    return LCDocument(
        page_content=hit.snippet if not hit.title else f"{hit.title}\n{hit.snippet}",
        id=hit.doc_id,
        metadata={
            "doc_id": hit.doc_id,
            "chunk_id": hit.chunk_id,
            "corpus": hit.corpus,
            "domain": hit.domain,
            "kind": hit.kind,
            "lang": hit.lang,
            "label": hit.label,
            "title": hit.title,
            "score": hit.score,
            **{f"meta_{k}": v for k, v in hit.meta.items()},
        },
    )


class InfinstructRetriever(BaseRetriever):
    """``InfinstructRetriever(settings=s, k=5).invoke("my card is lost")``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: Settings
    k: int = 5
    mode: Mode = "hybrid"
    corpus: str | list[str] | None = None
    filters: dict[str, Any] | None = None
    #: The model and index this retriever loads once and reuses (pass shared ones to share).
    embedders: Embedders = Field(default_factory=Embedders)
    indexes: IndexCache = Field(default_factory=IndexCache)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = search(
            self.settings,
            query,
            self.k,
            corpus=self.corpus,
            filters=self.filters,
            mode=self.mode,
            embedders=self.embedders,
            indexes=self.indexes,
        )
        return [hit_to_document(h) for h in hits]
