"""Sources, corpora and their versions, documents, quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from infinstruct.core.tables._columns import created_field, json_field, text_field


class Source(SQLModel, table=True):
    """Where data comes from: a file, a folder, a URL, an upload or a feed."""

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(index=True, unique=True, max_length=2000)
    kind: str = Field(max_length=32, description="file|folder|url|upload|feed")
    created_at: datetime = created_field()


class Corpus(SQLModel, table=True):
    """A named body of text of one domain, loaded by one connector."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    domain: str = Field(max_length=64, index=True, description="support|finance|items|labelled|…")
    connector: str = Field(max_length=64)
    scrub_pii: bool = True
    visibility: str = Field(
        default="internal",
        max_length=16,
        description="public|internal: only public corpora (help-centre articles, FAQs) may be "
        "quoted to customers; every corpus is internal until an operator marks it public.",
    )
    created_at: datetime = created_field()


class CorpusVersion(SQLModel, table=True):
    """One load of a corpus; a changed source file makes a new version."""

    __table_args__ = (UniqueConstraint("corpus_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    corpus_id: int = Field(foreign_key="corpus.id", index=True)
    version: int
    source_id: int | None = Field(default=None, foreign_key="source.id")
    content_hash: str = Field(max_length=64, index=True)
    status: str = Field(default="loading", max_length=16, description="loading|complete|failed|rolled_back")
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    report: dict[str, Any] = json_field()
    created_at: datetime = created_field()
    completed_at: datetime | None = None


class Document(SQLModel, table=True):
    """A unit of text: a dialogue, a news item, an item, a labelled sentence, a query.

    ``id`` is a content hash, so re-loading the same content adds nothing. ``group_key``
    keeps related documents (a thread, a user, a sentence) on one side of a split.
    """

    id: str = Field(primary_key=True, max_length=64)
    corpus_id: int = Field(foreign_key="corpus.id", index=True)
    version_id: int = Field(foreign_key="corpusversion.id", index=True)
    kind: str = Field(max_length=32, index=True, description="dialogue|news|item|labelled|text|…")
    external_id: str | None = Field(default=None, max_length=200, index=True)
    title: str = text_field()
    text: str = text_field()
    original_text: str | None = text_field(default=None, nullable=True)
    lang: str = Field(default="en", max_length=8, index=True)
    label: str | None = Field(default=None, max_length=100, index=True)
    score: float | None = None
    group_key: str | None = Field(default=None, max_length=200, index=True)
    near_dup_of: str | None = Field(default=None, max_length=64, index=True)
    published_at: datetime | None = Field(default=None, index=True)
    meta: dict[str, Any] = json_field()
    stale: bool = Field(default=False, index=True, description="Its version was rolled back.")
    created_at: datetime = created_field()


class Quarantine(SQLModel, table=True):
    """A record that could not be loaded, kept with where it was and why."""

    id: int | None = Field(default=None, primary_key=True)
    corpus_id: int | None = Field(default=None, foreign_key="corpus.id", index=True)
    version_id: int | None = Field(default=None, foreign_key="corpusversion.id", index=True)
    file: str = Field(max_length=2000)
    line: int | None = None
    offset: int | None = None
    raw: str = text_field()
    reason: str = Field(max_length=500)
    created_at: datetime = created_field()
