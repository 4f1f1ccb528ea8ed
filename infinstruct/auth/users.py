"""User accounts: argon2 password hashes, roles and API tokens.

Roles are ordered only where a page says so; ``admin`` may do everything. Tokens are
random and stored as SHA-256 hashes: a stolen database does not yield working tokens.
Removing a user, a new password and a new role end that user's web sessions in the same
transaction (``sessions.py``). Failed logins are throttled by the web server (``web.py``),
not by locking the account: a lock-out is something any stranger could trigger.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import AuthError, InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ApiToken, User
from infinstruct.core.tables._columns import utcnow

ROLES = ("customer", "analyst", "operator", "admin")
MIN_PASSWORD = 10
TOKEN_PREFIX = "ifs_"
#: Every failed login gets this one message: which part was wrong is no stranger's business.
LOGIN_FAILED = "wrong username or password (or too many attempts: wait a minute and try again)"


@dataclass(frozen=True)
class Principal:
    """Who is calling: enough to authorise, nothing secret."""

    user_id: int
    username: str
    role: str

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def _hasher():  # type: ignore[no-untyped-def]  # argon2 is typed loosely
    from argon2 import PasswordHasher

    return PasswordHasher()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)} (got {role!r})")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"password must have at least {MIN_PASSWORD} characters (got {len(password)})")


def add_user(settings: Settings, username: str, *, role: str, password: str, email: str = "") -> Principal:
    _check_role(role)
    _check_password(password)
    if not username or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InputError(f"username may hold letters, digits, '.', '-', '_' (got {username!r})")
    with session_scope(settings) as session:
        if session.exec(select(User).where(User.username == username)).first():
            raise InputError(f"user {username!r} exists; use `infinstruct users passwd` to change it")
        user = User(username=username, role=role, password_hash=_hasher().hash(password), email=email)
        session.add(user)
        session.flush()
        assert user.id is not None
        return Principal(user.id, user.username, user.role)


def get_user(settings: Settings, username: str) -> User:
    with session_scope(settings) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"no user {username!r}; see `infinstruct users list`")
        return user


def list_users(settings: Settings) -> list[User]:
    with session_scope(settings) as session:
        return list(session.exec(select(User).order_by(col(User.username))).all())


def set_password(settings: Settings, username: str, password: str) -> None:
    _check_password(password)
    with session_scope(settings) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"no user {username!r}; see `infinstruct users list`")
        user.password_hash, user.failed_logins, user.locked_until = _hasher().hash(password), 0, None
        session.add(user)
        _end_sessions(session, user)


def set_role(settings: Settings, username: str, role: str) -> None:
    """Give ``username`` a new role; their web sessions end (they log in again under it)."""
    _check_role(role)
    with session_scope(settings) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"no user {username!r}; see `infinstruct users list`")
        user.role = role
        session.add(user)
        _end_sessions(session, user)


def _end_sessions(session, user: User) -> None:  # type: ignore[no-untyped-def]  # a sqlmodel Session
    from infinstruct.auth.sessions import end_user_sessions

    assert user.id is not None
    end_user_sessions(session, user.id)


def remove_user(settings: Settings, username: str) -> None:
    """Disable rather than delete: alerts, conversations and audit rows keep their owner."""
    with session_scope(settings) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFoundError(f"no user {username!r}; see `infinstruct users list`")
        user.disabled = True
        session.add(user)
        for token in session.exec(select(ApiToken).where(ApiToken.user_id == user.id)).all():
            session.delete(token)
        _end_sessions(session, user)


def authenticate(settings: Settings, username: str, password: str) -> Principal:
    """Check a password; every failure raises the same ``LOGIN_FAILED`` message."""
    from argon2.exceptions import VerificationError

    refused = AuthError(LOGIN_FAILED)
    with session_scope(settings) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None or user.disabled:
            _hasher().hash(password)  # same cost whether or not the user exists
            raise refused
        try:
            _hasher().verify(user.password_hash, password)
        except VerificationError:
            raise refused from None
        assert user.id is not None
        return Principal(user.id, user.username, user.role)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(settings: Settings, username: str, *, name: str = "default") -> str:
    """A new API token for ``username``; shown once, stored only as a hash.

    A customer's token opens only the chat and recommendation endpoints
    (``web.CUSTOMER_TOKEN_PATHS``): it is what a customer app sends as its OpenAI ``api_key``.
    """
    user = get_user(settings, username)
    if user.disabled:
        raise InputError(f"{username} is disabled; tokens are for active users")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_scope(settings) as session:
        session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_hash(token)))  # type: ignore[arg-type]
    return token


def principal_for_token(settings: Settings, token: str) -> Principal:
    with session_scope(settings) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == _token_hash(token))).first()
        user = session.get(User, row.user_id) if row else None
        if row is None or user is None or user.disabled:
            raise AuthError("invalid API token; create one with `infinstruct users token NAME`")
        row.last_used_at = utcnow()
        session.add(row)
        assert user.id is not None
        return Principal(user.id, user.username, user.role)
