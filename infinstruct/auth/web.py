"""Web access: server-side sessions, CSRF, API tokens, login throttling, role rules.

One ASGI middleware guards the whole app from one table of rules (``ACCESS_RULES``), so a
route added later under a protected prefix is protected without anyone remembering to.
The same middleware refuses what no role may do through Gradio: uploads to the public
chat app and Gradio's deep links (``/gradio_api/deep_link`` returns any session's state
to whoever knows its hash). A customer's API token opens only ``CUSTOMER_TOKEN_PATHS``.
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
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

# FastAPI resolves route annotations from module globals, so these import at module level;
# this module is only imported when the web app is built, never by the CLI root.
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from infinstruct.auth.sessions import Session, create_session, end_session, load_session
from infinstruct.auth.users import LOGIN_FAILED, Principal, authenticate, principal_for_token
from infinstruct.core.errors import AuthError
from infinstruct.core.settings import Settings

log = logging.getLogger(__name__)

COOKIE = "infinstruct_session"
CSRF_HEADER = "x-csrf-token"
DEVICE_COOKIE = "infinstruct_device"
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

#: Where a customer's API token is accepted: the chat and the recommendations, nothing else.
CUSTOMER_TOKEN_PATHS = ("/api/chat", "/api/feedback", "/api/recommend", "/v1")
#: The public chat is mounted at "/": its Gradio upload route takes files from anyone.
PUBLIC_UPLOAD = "/gradio_api/upload"
DEEP_LINK_SUFFIX = "/gradio_api/deep_link"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def refused_everyone(path: str) -> tuple[int, str] | None:
    """Paths no identity may use: ``(status, reason)``, else ``None``."""
    if path == DEEP_LINK_SUFFIX or path.endswith(DEEP_LINK_SUFFIX):
        return 404, "Gradio deep links are off"
    if path == PUBLIC_UPLOAD or path.startswith(PUBLIC_UPLOAD + "_"):
        return 403, "the public chat accepts no uploads"
    return None


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


class Backoff:
    """Failures per key; past ``free`` of them each attempt waits 1, 2, 4 … ``cap_s`` seconds
    after the last failure. A key forgets its failures ``forget_s`` after the last one."""

    def __init__(self, *, free: int, cap_s: float, forget_s: float = 900.0) -> None:
        self.free, self.cap_s, self.forget_s = free, cap_s, forget_s
        self._state: dict[str, tuple[int, float]] = {}

    def wait_s(self, key: str) -> float:
        failures, last = self._state.get(key, (0, 0.0))
        now = time.monotonic()
        if failures and now - last > self.forget_s:
            del self._state[key]
            return 0.0
        if failures < self.free:
            return 0.0
        return max(0.0, last + min(self.cap_s, 2.0 ** (failures - self.free)) - now)

    def failed(self, key: str) -> None:
        now = time.monotonic()
        if len(self._state) > 50_000:  # bounded memory under a spray of usernames
            for stale in [k for k, (_, t) in self._state.items() if now - t > self.forget_s]:
                del self._state[stale]
        failures, _ = self._state.get(key, (0, 0.0))
        self._state[key] = (failures + 1, now)

    def clear(self, key: str) -> None:
        self._state.pop(key, None)


class LoginThrottle:
    """Login backoff per client address and per username; never a lock-out.

    A browser that has logged in as a user before carries a signed device cookie for that
    user, and the per-username backoff does not apply to it (it has its own): a stranger
    hammering a username slows strangers down, not the account's owner (OWASP "device
    cookies"). Unknown and real usernames are throttled alike, so the throttle reveals nothing.
    """

    def __init__(self, key: str) -> None:
        self.by_address = Backoff(free=20, cap_s=300.0)
        self.by_username = Backoff(free=5, cap_s=60.0)
        self.by_device = Backoff(free=5, cap_s=60.0)
        self._key = key.encode()

    def device_cookie(self, username: str) -> str:
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._sign(username, nonce)}"

    def _sign(self, username: str, nonce: str) -> str:
        import hashlib
        import hmac

        return hmac.new(self._key, f"device|{username}|{nonce}".encode(), hashlib.sha256).hexdigest()[:32]

    def known_device(self, username: str, cookie: str) -> str | None:
        """The device id when ``cookie`` was issued to this browser for ``username``."""
        nonce, _, signature = cookie.partition(".")
        if nonce and signature and secrets.compare_digest(signature, self._sign(username, nonce)):
            return nonce
        return None

    def wait_s(self, address: str, username: str, device: str | None) -> float:
        per_user = self.by_device.wait_s(device) if device else self.by_username.wait_s(username)
        return max(self.by_address.wait_s(address), per_user)

    def failed(self, address: str, username: str, device: str | None) -> None:
        self.by_address.failed(address)
        (self.by_device if device else self.by_username).failed(device or username)

    def succeeded(self, username: str, device: str | None) -> None:
        self.by_username.clear(username)
        if device:
            self.by_device.clear(device)


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", "/"), scope.get("method", "GET")
        blocked = refused_everyone(path)
        if blocked is not None:
            await _deny(send, *blocked)
            return
        principal, via_cookie, session = None, False, None
        bearer = _header(scope, b"authorization")
        if bearer.lower().startswith("bearer "):
            try:
                principal = principal_for_token(self.settings, bearer[7:].strip())
            except AuthError as exc:
                await _deny(send, 401, str(exc))
                return
            if principal.role == "customer" and not any(_under(path, p) for p in CUSTOMER_TOKEN_PATHS):
                await _deny(send, 403, f"a customer's token opens only {', '.join(CUSTOMER_TOKEN_PATHS)}")
                return
        else:
            session = load_session(self.settings, _cookie(scope, COOKIE))
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


def client_key(request: Request) -> str:
    """Who is asking, for the rate limiter: the bearer token's hash when one is sent, else the
    peer address (a forwarded header counts only from ``server.trusted_proxies``)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and len(auth) > 7:
        import hashlib

        return "token:" + hashlib.sha256(auth[7:].encode()).hexdigest()[:16]
    return f"ip:{request.client.host if request.client else 'unknown'}"


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
    throttle = LoginThrottle(secret_key(settings))

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
        address = request.client.host if request.client else "?"
        if throttle.by_address.wait_s(address) > 0:  # before reading the body at all
            return page("/", LOGIN_FAILED, status=429)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        field = {k: v[0] for k, v in form.items()}
        next_path = _safe_next(field.get("next", "/"))
        username = field.get("username", "")[:100]
        device = throttle.known_device(username, request.cookies.get(DEVICE_COOKIE, ""))
        if throttle.wait_s(address, username, device) > 0:
            return page(next_path, LOGIN_FAILED, status=429)
        expected = request.cookies.get(PRELOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(expected, field.get("csrf", "")):
            return page(next_path, "the form expired; try again", status=403)
        try:
            principal = authenticate(settings, username, field.get("password", ""))
        except AuthError:
            throttle.failed(address, username, device)
            return page(next_path, LOGIN_FAILED, status=401)
        throttle.succeeded(username, device)
        cookie, _ = create_session(settings, principal)
        response = RedirectResponse(next_path, status_code=303)
        secure = request.url.scheme == "https"
        max_age = settings.server.session_max_hours * 3600
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="lax", secure=secure, max_age=max_age)
        response.set_cookie(
            DEVICE_COOKIE,
            throttle.device_cookie(username),
            httponly=True,
            samesite="strict",
            secure=secure,
            max_age=90 * 86400,
        )
        response.delete_cookie(PRELOGIN_COOKIE)
        return response

    @router.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        end_session(settings, request.cookies.get(COOKIE, ""))
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
