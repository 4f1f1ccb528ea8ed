"""Instruction-set versions and their examples."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, json_field, text_field


class InstructionSet(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="default", max_length=200, index=True)
    version: int
    input_hash: str = Field(max_length=64, index=True, description="corpus versions + templates")
    lineage: dict[str, Any] = json_field()
    report: dict[str, Any] = json_field()
    stale: bool = Field(default=False, index=True)
    created_at: datetime = created_field()


class InstructionExample(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("set_id", "id_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="instructionset.id", index=True)
    id_hash: str = Field(max_length=64)
    task: str = Field(max_length=64, index=True)
    domain: str = Field(max_length=64, index=True)
    lang: str = Field(max_length=8, index=True)
    split: str = Field(max_length=12, index=True, description="train|validation|test")
    system: str = text_field()
    messages: list[dict[str, str]] = json_field(list)
    source_document_id: str | None = Field(default=None, max_length=64, index=True)
    group_key: str = Field(default="", max_length=200, index=True)
    meta: dict[str, Any] = json_field()
