"""The platform's HTTP core: a FastAPI app with ``/healthz``, logins and the access rules.

Parts mount onto it in ``services.build_app``; the access middleware wraps everything that
is mounted later too (see ``infinstruct.platform.auth.web.ACCESS_RULES``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infinstruct import __version__
from infinstruct.platform.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def build_api(settings: Settings) -> FastAPI:
    from fastapi import FastAPI

    from infinstruct.platform.auth.web import AccessMiddleware, build_login_router
    from infinstruct.platform.db import check_connection

    app = FastAPI(title="infinstruct", version=__version__)
    app.state.settings = settings
    app.add_middleware(AccessMiddleware, settings=settings)
    app.include_router(build_login_router(settings))

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        check_connection(settings)
        return {"status": "ok", "version": __version__}

    return app
