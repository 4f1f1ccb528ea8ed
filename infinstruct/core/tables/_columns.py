"""Column helpers shared by the table modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field


def utcnow() -> datetime:
    """Aware UTC now: SQLModel's datetime columns store UTC and refuse naive values."""
    return datetime.now(UTC)


def json_field(default_factory: Any = dict) -> Any:
    """A JSON column (JSON on PostgreSQL and SQLite alike)."""
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


def text_field(default: str | None = "", nullable: bool = False) -> Any:
    """An unbounded text column (VARCHAR without a length is portable, but say it)."""
    return Field(default=default, sa_column=Column(Text, nullable=nullable))


def created_field() -> Any:
    return Field(default_factory=utcnow, nullable=False, index=True)
