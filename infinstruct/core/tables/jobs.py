"""Long-running jobs (training, loads, scheduled runs) and the scheduler lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, json_field, text_field


class JobRun(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True, description="train|ingest|index|alerts|…")
    command: list[str] = json_field(list)
    status: str = Field(
        default="queued",
        max_length=16,
        index=True,
        description="queued|running|succeeded|failed|cancelled",
    )
    pid: int | None = None
    done: float = 0
    total: float | None = None
    unit: str = Field(default="", max_length=16)
    rate: float | None = None
    message: str = text_field()
    result: dict[str, Any] = json_field()
    error: str = text_field()
    created_at: datetime = created_field()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


class Lease(SQLModel, table=True):
    """A named lease: the holder runs the job until ``expires_at`` unless it renews."""

    name: str = Field(primary_key=True, max_length=100)
    holder: str = Field(max_length=200)
    expires_at: datetime
