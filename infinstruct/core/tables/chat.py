"""Conversations, turns, feedback, curated answers and hand-offs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, json_field, text_field


class Conversation(SQLModel, table=True):
    id: str = Field(primary_key=True, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    client: str = Field(default="", max_length=200, description="client address or token name")
    created_at: datetime = created_field()


class ChatTurn(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, max_length=64)
    role: str = Field(max_length=16, description="user|assistant")
    content: str = text_field()
    route: str | None = Field(default=None, max_length=16)
    sources: list[dict[str, Any]] = json_field(list)
    model_version: str | None = Field(default=None, max_length=100)
    latency_ms: float | None = None
    created_at: datetime = created_field()


class Feedback(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="chatturn.id", index=True)
    rating: int = Field(description="+1 up, -1 down")
    comment: str = text_field()
    created_at: datetime = created_field()


class CuratedAnswer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    question: str = text_field()
    answer: str = text_field()
    lang: str = Field(default="en", max_length=8)
    origin: str = Field(default="operator", max_length=16, description="operator|handoff|import")
    intent: str | None = Field(
        default=None, max_length=100, index=True, description="answers every question of this intent"
    )
    approved_by: str = Field(default="", max_length=200)
    active: bool = Field(default=True, index=True)
    created_at: datetime = created_field()


class Handoff(SQLModel, table=True):
    """A question the platform could not answer, waiting for a person."""

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: str | None = Field(default=None, foreign_key="conversation.id", index=True)
    question: str = text_field()
    status: str = Field(default="open", max_length=16, index=True, description="open|answered")
    answer: str = text_field()
    answered_by: str = Field(default="", max_length=200)
    evidence: dict[str, Any] = json_field()
    intent: str | None = Field(default=None, max_length=100, index=True, description="detected intent")
    intent_confidence: float | None = None
    created_at: datetime = created_field()
    answered_at: datetime | None = None
