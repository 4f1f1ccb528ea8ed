"""Retrieval chunks (their integer ids are the FAISS ids) and the embedding cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, text_field


class Chunk(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True, description="= the FAISS id")
    document_id: str = Field(foreign_key="document.id", index=True, max_length=64)
    seq: int = 0
    text: str = text_field()
    content_hash: str = Field(max_length=64, index=True)
    stale: bool = Field(default=False, index=True)
    created_at: datetime = created_field()


class EmbeddingCache(SQLModel, table=True):
    """One vector per (model, text hash): re-indexing never re-encodes unchanged text."""

    model: str = Field(primary_key=True, max_length=300)
    content_hash: str = Field(primary_key=True, max_length=64)
    dim: int
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
