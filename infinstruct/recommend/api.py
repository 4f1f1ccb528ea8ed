"""``GET /api/recommend``: the HTTP face of ``recommend`` (mounted by ``services.build_app``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# FastAPI resolves endpoint annotations (``request: Request``) from module globals; only the
# web server imports this module.
from fastapi import Request

from infinstruct.core.errors import InfinstructError
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from fastapi import APIRouter

    from infinstruct.core.ratelimit import RateLimiter
    from infinstruct.recommend.service import Recommenders


def build_recommend_router(
    settings: Settings, *, limiter: RateLimiter | None = None, recommenders: Recommenders | None = None
) -> APIRouter:
    """A router serving ``GET /api/recommend?user=&likes=&text=&k=&corpus=``.

    Answers ``{"corpus": ..., "items": [{item_id, title, score, why}]}``; a request the
    service refuses (unknown user, ambiguous title, bad k) is a 400 with the message.
    ``user=ID`` explains picks from that user's history, so it needs that user's own login or
    token (username == ID) or the operator role: 401 anonymous, 403 anyone else. Requests
    count against the server's shared ``limiter`` (429 past it). Recommenders are built in
    and reused from ``recommenders`` (the process' shared cache from ``services.py``; a cache
    of the router's own when not given).
    """
    from fastapi import APIRouter, HTTPException, Query

    from infinstruct.auth.web import client_key, principal_of
    from infinstruct.core.errors import LimitError
    from infinstruct.recommend.service import Recommenders, load_recommender, recommend

    built = recommenders if recommenders is not None else Recommenders()
    router = APIRouter(tags=["recommend"])

    @router.get("/api/recommend")
    def get_recommendations(
        request: Request,
        user: str | None = Query(None, description="A user id with history in the corpus."),
        likes: str | None = Query(None, description="Item ids or exact titles separated by ';'."),
        text: str | None = Query(None, description="A free-text description of what to find."),
        k: int | None = Query(None, description="How many items (default recommend.default_k)."),
        corpus: str | None = Query(None, description="Item corpus (default: see recommend.corpus)."),
    ) -> dict[str, Any]:
        if user is not None:
            principal = principal_of(request)
            if principal is None:
                raise HTTPException(status_code=401, detail=f"user={user} needs that user's token or login")
            if principal.username != user and not principal.has_role("operator"):
                raise HTTPException(
                    status_code=403, detail=f"{principal.username} may not see user {user}'s recommendations"
                )
        if limiter is not None:
            try:
                limiter.check(client_key(request))
            except LimitError as exc:
                raise HTTPException(status_code=429, detail=str(exc)) from exc
        try:
            items = recommend(
                settings, user=user, likes=likes, text=text, k=k, corpus=corpus, recommenders=built
            )
            name = load_recommender(settings, corpus, user=user, recommenders=built).data.corpus
        except InfinstructError as exc:
            if exc.exit_code != 2:  # not the caller's fault: a real server error
                raise
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return {"corpus": name, "items": [item.as_dict() for item in items]}

    return router
