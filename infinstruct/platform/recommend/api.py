"""``GET /api/recommend``: the HTTP face of ``recommend`` (mounted by ``services.build_app``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infinstruct.platform.errors import InfinstructError
from infinstruct.platform.settings import Settings

if TYPE_CHECKING:
    from fastapi import APIRouter


def build_recommend_router(settings: Settings) -> APIRouter:
    """A router serving ``GET /api/recommend?user=&likes=&text=&k=&corpus=``.

    Answers ``{"corpus": ..., "items": [{item_id, title, score, why}]}``; a request the
    service refuses (unknown user, ambiguous title, bad k) is a 400 with the message.
    """
    from fastapi import APIRouter, HTTPException, Query

    from infinstruct.platform.recommend.service import load_recommender, recommend

    router = APIRouter(tags=["recommend"])

    @router.get("/api/recommend")
    def get_recommendations(
        user: str | None = Query(None, description="A user id with history in the corpus."),
        likes: str | None = Query(None, description="Item ids or exact titles separated by ';'."),
        text: str | None = Query(None, description="A free-text description of what to find."),
        k: int | None = Query(None, description="How many items (default recommend.default_k)."),
        corpus: str | None = Query(None, description="Item corpus (default: see recommend.corpus)."),
    ) -> dict[str, Any]:
        try:
            items = recommend(settings, user=user, likes=likes, text=text, k=k, corpus=corpus)
            name = load_recommender(settings, corpus, user=user).data.corpus
        except InfinstructError as exc:
            if exc.exit_code != 2:  # not the caller's fault: a real server error
                raise
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"corpus": name, "items": [item.as_dict() for item in items]}

    return router
