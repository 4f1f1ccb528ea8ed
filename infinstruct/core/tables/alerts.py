"""Feeds, sentiment scores, watchlists, alerts, channels and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, json_field, text_field


class Feed(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    uri: str = Field(max_length=2000, description="RSS/Atom URL or file, or a drop folder")
    kind: str = Field(default="rss", max_length=16, description="rss|folder")
    enabled: bool = True
    last_polled_at: datetime | None = None


class SentimentScore(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("document_id", "model_version_id"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(foreign_key="document.id", index=True, max_length=64)
    model_version_id: int = Field(foreign_key="modelversion.id", index=True)
    label: str = Field(max_length=16, description="negative|neutral|positive")
    negative: float
    neutral: float
    positive: float
    created_at: datetime = created_field()


class Watchlist(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    topic: str = Field(max_length=200)
    kind: str = Field(default="ticker", max_length=16, description="ticker|company|keyword")
    aliases: list[str] = json_field(list)
    rules: dict[str, Any] = json_field()
    muted_until: datetime | None = None


class Alert(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    watchlist_id: int | None = Field(default=None, foreign_key="watchlist.id")
    topic: str = Field(max_length=200, index=True)
    dedup_key: str = Field(max_length=200, unique=True)
    severity: str = Field(max_length=16, description="low|medium|high")
    negative_share: float
    volume: int
    zscore: float
    document_ids: list[str] = json_field(list)
    status: str = Field(default="open", max_length=16, index=True, description="open|acknowledged")
    window_start: datetime
    window_end: datetime
    created_at: datetime = created_field()


class AlertChannel(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    kind: str = Field(max_length=16, description="inapp|webhook|email")
    target: str = Field(default="", max_length=2000)
    secret: str = Field(default="", max_length=500)


class Delivery(SQLModel, table=True):
    """The outbox: one row per alert and channel until it is delivered."""

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    channel_id: int = Field(foreign_key="alertchannel.id", index=True)
    status: str = Field(default="pending", max_length=16, index=True, description="pending|sent|failed")
    attempts: int = 0
    last_error: str = text_field()
    next_attempt_at: datetime = created_field()
    delivered_at: datetime | None = None
