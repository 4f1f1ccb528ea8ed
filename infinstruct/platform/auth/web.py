"""Web access: signed session cookies, CSRF, API tokens, login throttling, role rules.

One ASGI middleware guards the whole app from one table of rules (``ACCESS_RULES``), so a
route added later under a protected prefix is protected without anyone remembering to.
Gradio's own XHRs cannot carry our CSRF header, so for cookie-authenticated unsafe requests
we accept either the ``X-CSRF-Token`` header or a same-origin ``Origin``/``Referer`` (the
OWASP "verify origin" defence); bearer-token requests are not cookie-borne and need neither.
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

# FastAPI resolves route annotations from module globals, so these import at module level;
# this module is only imported when the web app is built, never by the CLI root.
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from infinstruct.platform.auth.users import Principal, authenticate, principal_for_token
from infinstruct.platform.errors import AuthError
from infinstruct.platform.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "infinstruct_session"
CSRF_HEADER = "x-csrf-token"
SESSION_MAX_AGE_S = 12 * 3600
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Longest matching prefix wins; ``None`` means public. Admin passes every rule.
ACCESS_RULES: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("/operator", ("operator",)),
    ("/analyst", ("analyst",)),
    ("/api/operator", ("operator",)),
    ("/api/analyst", ("analyst",)),
    ("/api/admin", ("admin",)),
    ("/api/chat", None),
    ("/api/recommend", None),
    ("/api/feedback", None),
    ("/api", ("analyst", "operator")),
    ("/v1", None),
    ("/login", None),
    ("/logout", None),
    ("/healthz", None),
    ("/", None),
)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def required_roles(path: str) -> tuple[str, ...] | None:
    best: tuple[str, tuple[str, ...] | None] = ("", None)
    for prefix, roles in ACCESS_RULES:
        matches = path == prefix or path.startswith(prefix.rstrip("/") + "/") or prefix == "/"
        if matches and len(prefix) > len(best[0]):
            best = (prefix, roles)
    return best[1]


def secret_key(settings: Settings) -> str:
    """The configured key, or one generated once into the data dir (mode 0600)."""
    configured = settings.server.secret_key.get_secret_value()
    if configured:
        return configured
    path: Path = settings.data_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str


class SessionCodec:
    def __init__(self, key: str) -> None:
        from itsdangerous import URLSafeTimedSerializer

        self._signer = URLSafeTimedSerializer(key, salt="infinstruct-session")

    def dumps(self, session: Session) -> str:
        p = session.principal
        return self._signer.dumps({"uid": p.user_id, "u": p.username, "r": p.role, "c": session.csrf})

    def loads(self, value: str) -> Session | None:
        from itsdangerous import BadSignature

        try:
            data = self._signer.loads(value, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return None
        return Session(Principal(int(data["uid"]), str(data["u"]), str(data["r"])), str(data["c"]))


class LoginThrottle:
    """At most ``limit`` login attempts per client address per ``window_s``."""

    def __init__(self, limit: int = 10, window_s: float = 60.0) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        hits = self._hits[client]
        while hits and now - hits[0] > self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _cookie(scope: Scope, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(_header(scope, b"cookie"))
    except CookieError:  # a malformed Cookie header is the client's problem, not a crash
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel else ""


def _same_origin(scope: Scope) -> bool:
    host = _header(scope, b"host")
    for name in (b"origin", b"referer"):
        value = _header(scope, name)
        if value:
            return urlsplit(value).netloc == host
    return False


class AccessMiddleware:
    """Authenticate (bearer token or session cookie), enforce ``ACCESS_RULES`` and CSRF."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app, self.settings = app, settings
        self.codec = SessionCodec(secret_key(settings))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", "/"), scope.get("method", "GET")
        principal, via_cookie, session = None, False, None
        bearer = _header(scope, b"authorization")
        if bearer.lower().startswith("bearer "):
            try:
                principal = principal_for_token(self.settings, bearer[7:].strip())
            except AuthError as exc:
                await _deny(send, 401, str(exc))
                return
        else:
            session = self.codec.loads(_cookie(scope, COOKIE)) if _cookie(scope, COOKIE) else None
            principal, via_cookie = (session.principal if session else None), session is not None
        scope.setdefault("state", {})
        scope["state"]["principal"], scope["state"]["session"] = principal, session
        roles = required_roles(path)
        if roles is not None:
            if principal is None:
                if method == "GET" and "text/html" in _header(scope, b"accept"):
                    await _redirect(send, f"/login?next={quote(path)}")
                else:
                    await _deny(send, 401, "log in first (or send an API token as 'Authorization: Bearer …')")
                return
            if not principal.has_role(*roles):
                await _deny(send, 403, f"{principal.username} ({principal.role}) may not open {path}")
                return
        if via_cookie and method in UNSAFE and path not in ("/login", "/logout") and session is not None:
            token = _header(scope, CSRF_HEADER.encode())
            if not (secrets.compare_digest(token, session.csrf) if token else _same_origin(scope)):
                await _deny(send, 403, "missing or wrong CSRF token")
                return
        await self.app(scope, receive, send)


async def _deny(send: Send, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def principal_of(request: Request) -> Principal | None:
    """The caller the middleware authenticated (``None`` for anonymous customers)."""
    return getattr(request.state, "principal", None)


def gradio_username(request: Request) -> str | None:
    """For ``gr.mount_gradio_app(auth_dependency=…)``: handlers then read ``request.username``."""
    principal = principal_of(request)
    return principal.username if principal else None


_LOGIN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>infinstruct — log in</title>
<style>body{{font-family:system-ui;max-width:22rem;margin:4rem auto}}label,input,button{{display:block;width:100%;margin:.4rem 0}}
.err{{color:#b00}}</style></head><body><h1>Log in</h1><p class="err">{error}</p>
<form method="post" action="/login"><input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button></form></body></html>"""
PRELOGIN_COOKIE = "infinstruct_prelogin"


def _safe_next(value: str) -> str:
    # Only local paths: an attacker-supplied absolute URL must not become an open redirect.
    return value if value.startswith("/") and not value.startswith("//") else "/"


def build_login_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    codec = SessionCodec(secret_key(settings))
    throttle = LoginThrottle()

    def page(next_path: str, error: str = "", status: int = 200) -> Response:
        csrf = secrets.token_urlsafe(24)
        body = _LOGIN_PAGE.format(
            error=html.escape(error), csrf=csrf, next=html.escape(_safe_next(next_path))
        )
        response = HTMLResponse(body, status_code=status)
        response.set_cookie(PRELOGIN_COOKIE, csrf, httponly=True, samesite="strict", max_age=900)
        return response

    @router.get("/login", include_in_schema=False)
    def login_form(next: str = "/") -> Response:  # noqa: A002  (the query parameter is called next)
        return page(next)

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        field = {k: v[0] for k, v in form.items()}
        next_path = _safe_next(field.get("next", "/"))
        client = request.client.host if request.client else "?"
        if not throttle.allow(client):
            return page(next_path, "too many attempts; wait a minute", status=429)
        expected = request.cookies.get(PRELOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, field.get("csrf", "")):
            return page(next_path, "the form expired; try again", status=403)
        try:
            principal = authenticate(settings, field.get("username", ""), field.get("password", ""))
        except AuthError as exc:
            return page(next_path, str(exc), status=401)
        response = RedirectResponse(next_path, status_code=303)
        session = Session(principal, secrets.token_urlsafe(24))
        response.set_cookie(
            COOKIE,
            codec.dumps(session),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            max_age=SESSION_MAX_AGE_S,
        )
        response.delete_cookie(PRELOGIN_COOKIE)
        return response

    @router.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.get("/api/whoami")
    def whoami(request: Request) -> JSONResponse:
        principal = principal_of(request)
        session: Session | None = getattr(request.state, "session", None)
        return JSONResponse(
            {
                "username": principal.username if principal else None,
                "role": principal.role if principal else None,
                "csrf": session.csrf if session else None,
            }
        )

    return router
