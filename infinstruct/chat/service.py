"""Build the chat's objects from the settings (the composition root delegates here, and
the chat's own CLI uses it: platform code cannot import ``infinstruct.services``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infinstruct.chat.backends import BackendFactory, ModelProvider, default_factory
from infinstruct.chat.evidence import Recommender, index_searcher, platform_recommender
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from infinstruct.chat.router import ChatRouter


def build_chat_router(
    settings: Settings,
    *,
    backend_factory: BackendFactory | None = None,
    recommender: Recommender | None = None,
) -> ChatRouter:
    """The router over the real embedder, retrieval index, registry and recommender."""
    from infinstruct.chat.router import ChatRouter
    from infinstruct.embeddings.embedder import load_embedder

    return ChatRouter(
        settings,
        models=ModelProvider(settings, factory=backend_factory or default_factory),
        embedder=load_embedder(settings),
        searcher=index_searcher(settings),
        recommender=recommender if recommender is not None else platform_recommender(settings),
    )
