"""Keep the ``Chunk`` table in step with the live documents of the store.

A live document (``stale=False``) gets chunks; a stale one (its corpus version was rolled
back) has its chunks marked stale. Chunk rows are never deleted, so a FAISS id is never
reused for different text (SQLite would otherwise hand out a deleted max id again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import Table, case, exists, func, insert, select, update
from sqlmodel import Session

from infinstruct.core.settings import Settings
from infinstruct.core.tables import Chunk, Corpus, CorpusVersion, Document
from infinstruct.embeddings.embedder import content_hash
from infinstruct.retrieval.chunking import chunk_text

# Core tables: these queries are bulk statements, not ORM object loads.
CHUNK: Table = Chunk.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
DOCUMENT: Table = Document.__table__  # type: ignore[attr-defined]
CORPUS: Table = Corpus.__table__  # type: ignore[attr-defined]
VERSION: Table = CorpusVersion.__table__  # type: ignore[attr-defined]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveChunk:
    id: int
    content_hash: str
    text: str


def document_text(title: str, text: str) -> str:
    """What is chunked and embedded for a document: the title (headline, item name) leads."""
    title, text = title.strip(), text.strip()
    if title and text:
        return f"{title}\n{text}"
    return title or text


class ChunkSync(TypedDict):
    """What one sync of the chunks did (part of the index build report)."""

    chunked_documents: int
    new_chunks: int
    revived: int
    retired: int


def sync_chunks(session: Session, settings: Settings) -> ChunkSync:
    """Chunk new live documents, revive chunks of re-loaded ones, retire those of stale ones."""
    # Stale documents whose chunks are still live: the rollback did not reach the chunks.
    retired = session.execute(
        update(CHUNK)
        .where(
            CHUNK.c.stale.is_(False),
            CHUNK.c.document_id.in_(select(DOCUMENT.c.id).where(DOCUMENT.c.stale.is_(True))),
        )
        .values(stale=True)
    ).rowcount  # type: ignore[attr-defined]  # a CursorResult for UPDATE
    # Live documents that have only stale chunks were re-loaded after a rollback: their
    # id is a content hash, so the text (and the chunks) are the same as before. One grouped
    # scan: a correlated EXISTS per document let SQLite walk the low-selectivity ``stale``
    # index for every document, quadratic in the store (6 s at 10k chunks, minutes at 100k).
    revived_docs = (
        select(CHUNK.c.document_id)
        .join(DOCUMENT, DOCUMENT.c.id == CHUNK.c.document_id)
        .where(DOCUMENT.c.stale.is_(False))
        .group_by(CHUNK.c.document_id)
        .having(func.sum(case((CHUNK.c.stale.is_(False), 1), else_=0)) == 0)
    )
    revived = session.execute(
        update(CHUNK).where(CHUNK.c.document_id.in_(revived_docs)).values(stale=False)
    ).rowcount  # type: ignore[attr-defined]  # a CursorResult for UPDATE
    missing = session.execute(
        select(DOCUMENT.c.id, DOCUMENT.c.title, DOCUMENT.c.text).where(
            DOCUMENT.c.stale.is_(False), ~exists().where(CHUNK.c.document_id == DOCUMENT.c.id)
        )
    ).all()
    cfg = settings.retrieval
    rows: list[dict[str, object]] = []
    for doc_id, title, text in missing:
        pieces = chunk_text(
            document_text(title, text), chunk_chars=cfg.chunk_chars, overlap=cfg.chunk_overlap
        )
        for seq, piece in enumerate(pieces):
            rows.append(
                {
                    "document_id": doc_id,
                    "seq": seq,
                    "text": piece,
                    "content_hash": content_hash(piece),
                    "stale": False,
                }
            )
    for start in range(0, len(rows), 2000):
        session.execute(insert(CHUNK), rows[start : start + 2000])
    report: ChunkSync = {
        "chunked_documents": len(missing),
        "new_chunks": len(rows),
        "revived": revived,
        "retired": retired,
    }
    if any(report.values()):
        log.info("chunks: %s", report)
    return report


def live_chunks(session: Session) -> list[LiveChunk]:
    """Every chunk that should be searchable: live chunk of a live document."""
    rows = session.execute(
        select(CHUNK.c.id, CHUNK.c.content_hash, CHUNK.c.text)
        .join(DOCUMENT, DOCUMENT.c.id == CHUNK.c.document_id)
        .where(CHUNK.c.stale.is_(False), DOCUMENT.c.stale.is_(False))
        .order_by(CHUNK.c.id)
    ).all()
    return [LiveChunk(int(i), h, t) for i, h, t in rows]


def live_chunk_hashes(session: Session) -> dict[int, str]:
    rows = session.execute(
        select(CHUNK.c.id, CHUNK.c.content_hash)
        .join(DOCUMENT, DOCUMENT.c.id == CHUNK.c.document_id)
        .where(CHUNK.c.stale.is_(False), DOCUMENT.c.stale.is_(False))
    ).all()
    return {int(i): h for i, h in rows}


def unchunked_documents(session: Session) -> int:
    """Live documents without any chunk yet (loaded since the last build)."""
    return int(
        session.execute(
            select(func.count())
            .select_from(DOCUMENT)
            .where(DOCUMENT.c.stale.is_(False), ~exists().where(CHUNK.c.document_id == DOCUMENT.c.id))
        ).scalar_one()
    )


def corpus_versions(session: Session) -> dict[str, int]:
    """Per corpus, the newest complete version: the manifest records what the index saw."""
    rows = session.execute(
        select(CORPUS.c.name, func.max(VERSION.c.version))
        .join(VERSION, VERSION.c.corpus_id == CORPUS.c.id)
        .where(VERSION.c.status == "complete")
        .group_by(CORPUS.c.name)
    ).all()
    return {str(name): int(version) for name, version in rows}
