"""Users, roles and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, utcnow


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True, index=True)
    role: str = Field(max_length=16, description="customer|analyst|operator|admin")
    password_hash: str = Field(max_length=300)
    email: str = Field(default="", max_length=300)
    disabled: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = created_field()


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = created_field()
    last_used_at: datetime | None = None


class WebSession(SQLModel, table=True):
    """A logged-in browser: the cookie holds a random id, the table only its SHA-256.

    Server-side so that logout, ``users remove``, a password reset or a role change can end
    it at once (a signed stateless cookie stays valid until it expires).
    """

    id: str = Field(max_length=64, primary_key=True, description="SHA-256 of the cookie value")
    user_id: int = Field(foreign_key="user.id", index=True)
    role: str = Field(max_length=16, description="the role at login; a changed role ends the session")
    csrf: str = Field(max_length=64)
    created_at: datetime = created_field()
    last_seen_at: datetime = Field(default_factory=utcnow, nullable=False)
    expires_at: datetime = Field(nullable=False, description="absolute end (server.session_max_hours)")
