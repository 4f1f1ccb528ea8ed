"""User-item interactions (ratings, tags, reviews); the items are ``Document(kind='item')``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import json_field, text_field


class Interaction(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("corpus_id", "user_id", "item_id", "kind", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    corpus_id: int = Field(foreign_key="corpus.id", index=True)
    version_id: int = Field(foreign_key="corpusversion.id", index=True)
    user_id: str = Field(max_length=100, index=True)
    item_id: str = Field(max_length=100, index=True, description="The item's external id.")
    kind: str = Field(max_length=16, description="rating|tag|review|click")
    value: float | None = None
    text: str = text_field()
    ts: datetime | None = Field(default=None, index=True)
    meta: dict[str, Any] = json_field()
    stale: bool = False
