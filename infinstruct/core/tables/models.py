"""The model registry: every training run is a model version."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, json_field


class ModelVersion(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, description="e.g. dialogue-v3, the user-facing id")
    kind: str = Field(max_length=16, index=True, description="dialogue|sentiment")
    base: str = Field(max_length=500)
    method: str = Field(max_length=32, description="full|lora|adalora|prefix|ia3|prompt")
    recipe: str = Field(max_length=200)
    recipe_resolved: dict[str, Any] = json_field()
    instruction_set_id: int | None = Field(default=None, foreign_key="instructionset.id")
    parent_id: int | None = Field(default=None, foreign_key="modelversion.id")
    metrics: dict[str, Any] = json_field()
    artefact_path: str = Field(max_length=2000)
    status: str = Field(
        default="candidate", max_length=16, index=True, description="candidate|active|retired"
    )
    created_at: datetime = created_field()
    activated_at: datetime | None = None
