"""User accounts: argon2 password hashes, roles, API tokens, login throttling.

Roles are ordered only where a page says so; ``admin`` may do everything. Tokens are
random and stored as SHA-256 hashes: a stolen database does not yield working tokens.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select

from infinstruct.platform.db import session_scope
from infinstruct.platform.errors import AuthError, InputError, NotFoundError
from infinstruct.platform.settings import Settings
from infinstruct.platform.tables import ApiToken, User
from infinstruct.platform.tables._columns import utcnow

ROLES = ("customer", "analyst", "operator", "admin")
MIN_PASSWORD = 10
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)
TOKEN_PREFIX = "ifs_"


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


def authenticate(settings: Settings, username: str, password: str) -> Principal:
    """Check a password; repeated failures lock the account for a while (throttling)."""
    from argon2.exceptions import VerificationError

    refused = AuthError("wrong username or password")
    with session_scope(settings) as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None or user.disabled:
            _hasher().hash(password)  # same cost whether or not the user exists
            raise refused
        now = utcnow()
        if user.locked_until is not None and _aware(user.locked_until) > now:
            raise AuthError("too many failed logins; try again in a few minutes")
        try:
            _hasher().verify(user.password_hash, password)
        except VerificationError:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until, user.failed_logins = now + LOCKOUT, 0
            session.add(user)
            session.commit()
            raise refused from None
        user.failed_logins, user.locked_until = 0, None
        session.add(user)
        assert user.id is not None
        return Principal(user.id, user.username, user.role)


def _aware(moment):  # type: ignore[no-untyped-def]
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(settings: Settings, username: str, *, name: str = "default") -> str:
    """A new API token for ``username``; shown once, stored only as a hash."""
    user = get_user(settings, username)
    if user.role not in ("analyst", "operator", "admin"):
        raise InputError(f"API tokens are for analysts, operators and admins ({username} is a {user.role})")
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
