"""Item recommendations from item text, user history and co-occurrence.

The API for the chat, the web app and scripts::

    from infinstruct.recommend import recommend
    recommend(settings, user="1")                      # a known user
    recommend(settings, likes="Toy Story (1995);260")  # cold start from liked items
    recommend(settings, text="a light sci-fi comedy")  # cold start from a description
    # -> [Recommendation(item_id, title, score, why), ...]

``build_recommend_router(settings)`` serves the same as ``GET /api/recommend``. The names
are resolved lazily so that importing this package (the CLI does) loads no numpy/scipy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Recommendation", "build_recommend_router", "recommend"]


def __getattr__(name: str) -> Any:
    if name in {"Recommendation", "recommend"}:
        from infinstruct.recommend import service

        return getattr(service, name)
    if name == "build_recommend_router":
        from infinstruct.recommend.api import build_recommend_router

        return build_recommend_router
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
