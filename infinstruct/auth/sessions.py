"""Server-side web sessions: the cookie holds a random id, the ``websession`` table its hash.

A session ends when it has been idle for ``server.session_idle_minutes``, when
``server.session_max_hours`` have passed since the login, on logout, and at once when its
user is removed, gets a new password or a new role (``users.py`` calls
:func:`end_user_sessions` inside the same transaction).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session as DbSession
from sqlmodel import col, delete, select

from infinstruct.auth.users import Principal
from infinstruct.core.db import session_scope
from infinstruct.core.settings import Settings
from infinstruct.core.tables import User, WebSession
from infinstruct.core.tables._columns import utcnow

#: ``last_seen_at`` is written at most this often, so a busy page is not one write per request.
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str


def _key(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def create_session(settings: Settings, principal: Principal) -> tuple[str, Session]:
    """A new session for ``principal``; returns the cookie value (shown once) and the session."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = utcnow()
    with session_scope(settings) as db:
        # Sessions past their absolute end are never presented again: drop them at each login.
        db.exec(delete(WebSession).where(col(WebSession.expires_at) <= now))
        db.add(
            WebSession(
                id=_key(cookie),
                user_id=principal.user_id,
                role=principal.role,
                csrf=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=settings.server.session_max_hours),
            )
        )
    return cookie, Session(principal, csrf)


def load_session(settings: Settings, cookie: str) -> Session | None:
    """The live session behind ``cookie``, or ``None`` (unknown, expired, idle, user changed)."""
    if not cookie:
        return None
    now = utcnow()
    with session_scope(settings) as db:
        row = db.get(WebSession, _key(cookie))
        if row is None:
            return None
        user = db.get(User, row.user_id)
        idle = timedelta(minutes=settings.server.session_idle_minutes)
        ended = (
            user is None
            or user.disabled
            or user.role != row.role
            or _aware(row.expires_at) <= now
            or _aware(row.last_seen_at) + idle <= now
        )
        if ended:
            db.delete(row)
            return None
        assert user is not None and user.id is not None
        if now - _aware(row.last_seen_at) >= TOUCH_EVERY:
            row.last_seen_at = now
            db.add(row)
        return Session(Principal(user.id, user.username, user.role), row.csrf)


def end_session(settings: Settings, cookie: str) -> None:
    """Logout: the session behind ``cookie`` stops working at once."""
    if cookie:
        with session_scope(settings) as db:
            db.exec(delete(WebSession).where(col(WebSession.id) == _key(cookie)))


def end_user_sessions(db: DbSession, user_id: int) -> int:
    """End every session of ``user_id`` inside the caller's transaction; returns how many."""
    rows = db.exec(select(WebSession).where(WebSession.user_id == user_id)).all()
    for row in rows:
        db.delete(row)
    return len(rows)
