"""The platform's HTTP core: a FastAPI app with ``/healthz``, logins and the access rules.

Parts mount onto it in ``services.build_app``; the access middleware wraps everything that
is mounted later too (see ``infinstruct.auth.web.ACCESS_RULES``). Outside it, a
body-size limit answers 413 before any handler (or Gradio) reads or stores an oversized
request: by its Content-Length when it says, else while the body streams in.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from infinstruct import __version__
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The Gradio upload routes of the role-guarded apps (the public chat's is refused outright).
UPLOAD_PATHS = ("/operator/gradio_api/upload", "/analyst/gradio_api/upload")


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 for a request body over ``server.max_body_kb`` (uploads: ``server.max_upload_mb``)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.default_limit = settings.server.max_body_kb * 1024
        self.upload_limit = settings.server.max_upload_mb * 1024 * 1024
        self.upload_mb = settings.server.max_upload_mb

    def _limit(self, path: str) -> tuple[int, str]:
        if path.startswith(UPLOAD_PATHS):
            return self.upload_limit, f"server.max_upload_mb={self.upload_mb} MiB"
        return self.default_limit, f"server.max_body_kb={self.default_limit // 1024} KiB"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, name = self._limit(scope.get("path", "/"))
        declared = next((v for k, v in scope.get("headers", []) if k.lower() == b"content-length"), b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, name)
            return
        seen, started = 0, False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(send, name)


async def _too_large(send: Send, name: str) -> None:
    body = json.dumps({"detail": f"request body too large (limit {name})"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": 413, "headers": [*headers, (b"connection", b"close")]}
    )
    await send({"type": "http.response.body", "body": body})


def build_api(settings: Settings) -> FastAPI:
    from fastapi import FastAPI

    from infinstruct.auth.web import AccessMiddleware, build_login_router
    from infinstruct.core.db import check_connection

    app = FastAPI(title="infinstruct", version=__version__)
    app.state.settings = settings
    app.add_middleware(AccessMiddleware, settings=settings)
    app.add_middleware(BodyLimitMiddleware, settings=settings)  # added last: the outermost
    app.include_router(build_login_router(settings))

    @app.get("/healthz", response_model=None)
    def healthz() -> Any:
        check_connection(settings)
        if not getattr(app.state, "ready", True):  # models still loading (warm_up_on_start)
            from fastapi.responses import JSONResponse

            return JSONResponse({"status": "loading", "version": __version__}, status_code=503)
        return {"status": "ok", "version": __version__}

    return app


def warm_up_on_start(app: FastAPI, warm: Callable[[], None]) -> FastAPI:
    """Run ``warm`` (load the dialogue model, embedder, index) in a thread when the app starts;
    ``/healthz`` answers 503 until it is done, so "ready" means the first reply is fast."""
    import contextlib
    import logging
    import threading

    outer = app.router.lifespan_context
    app.state.ready = False

    def run() -> None:
        try:
            warm()
        except Exception:  # a failed warm-up still serves: the first request loads instead
            logging.getLogger(__name__).exception("warm-up failed; models load on first use")
        app.state.ready = True

    @contextlib.asynccontextmanager
    async def lifespan(parent: Any) -> Any:
        async with outer(parent) as state:
            threading.Thread(target=run, name="warm-up", daemon=True).start()
            yield state

    app.router.lifespan_context = lifespan
    return app
