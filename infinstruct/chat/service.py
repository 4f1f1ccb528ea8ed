"""Build the chat's objects from the settings (the composition root delegates here, and
the chat's own CLI uses it: platform code cannot import ``infinstruct.services``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infinstruct.chat.backends import BackendFactory, ModelProvider, default_factory
from infinstruct.chat.evidence import Recommender, index_searcher, platform_recommender
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from infinstruct.chat.router import ChatRouter
    from infinstruct.embeddings.embedder import Embedders
    from infinstruct.recommend.service import Recommenders
    from infinstruct.retrieval.index_store import IndexCache


def build_chat_router(
    settings: Settings,
    *,
    backend_factory: BackendFactory | None = None,
    recommender: Recommender | None = None,
    embedders: Embedders | None = None,
    indexes: IndexCache | None = None,
    recommenders: Recommenders | None = None,
) -> ChatRouter:
    """The router over the real embedder, retrieval index, registry and recommender; the
    caches are the process' shared ones from ``services.py`` (the router's own when not given:
    its question index, its searches and its recommendations then share one model)."""
    from infinstruct.chat.router import ChatRouter
    from infinstruct.embeddings.embedder import Embedders
    from infinstruct.recommend.service import Recommenders

    models = embedders if embedders is not None else Embedders()
    built = recommenders if recommenders is not None else Recommenders(models)
    return ChatRouter(
        settings,
        models=ModelProvider(settings, factory=backend_factory or default_factory),
        embedder=models.get(settings),
        searcher=index_searcher(settings, embedders=models, indexes=indexes),
        recommender=recommender
        if recommender is not None
        else platform_recommender(settings, recommenders=built),
    )
