"""Corpus versions: list, show, roll back.

Rolling back a version marks everything derived from it stale, so the later stages rebuild
without it: its documents, their retrieval chunks, its interactions, and every instruction
set whose lineage names the version (``lineage["corpus_versions"]`` entries
``{"corpus": NAME, "version": N}`` or ``{"id": VERSION_ID}``, or ids in
``lineage["corpus_version_ids"]``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from infinstruct.core.db import get_engine
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Chunk, Corpus, CorpusVersion, Document, InstructionSet, Interaction


def list_corpora(settings: Settings) -> list[dict[str, Any]]:
    with Session(get_engine(settings)) as session:
        rows = []
        for corpus in session.exec(select(Corpus).order_by(col(Corpus.name))).all():
            versions = session.exec(
                select(CorpusVersion)
                .where(CorpusVersion.corpus_id == corpus.id)
                .order_by(col(CorpusVersion.version))
            ).all()
            docs = session.exec(
                select(func.count())
                .select_from(Document)
                .where(Document.corpus_id == corpus.id, col(Document.stale).is_(False))
            ).one()
            rows.append(
                {
                    "name": corpus.name,
                    "domain": corpus.domain,
                    "connector": corpus.connector,
                    "versions": len(versions),
                    "latest": versions[-1].version if versions else None,
                    "status": versions[-1].status if versions else None,
                    "documents": int(docs),
                }
            )
        return rows


def _corpus(session: Session, name: str) -> Corpus:
    corpus = session.exec(select(Corpus).where(Corpus.name == name)).first()
    if corpus is None:
        raise NotFoundError(f"no corpus named {name!r}; list them with `infinstruct corpus list`")
    return corpus


def show_corpus(settings: Settings, name: str) -> dict[str, Any]:
    with Session(get_engine(settings)) as session:
        corpus = _corpus(session, name)
        versions = session.exec(
            select(CorpusVersion)
            .where(CorpusVersion.corpus_id == corpus.id)
            .order_by(col(CorpusVersion.version))
        ).all()
        kinds = session.exec(
            select(Document.kind, func.count())
            .where(Document.corpus_id == corpus.id, col(Document.stale).is_(False))
            .group_by(Document.kind)
        ).all()
        return {
            "name": corpus.name,
            "domain": corpus.domain,
            "connector": corpus.connector,
            "scrub_pii": corpus.scrub_pii,
            "documents": {k: int(n) for k, n in kinds},
            "versions": [
                {
                    "version": v.version,
                    "status": v.status,
                    "read": v.read,
                    "loaded": v.loaded,
                    "duplicates": v.duplicates,
                    "quarantined": v.quarantined,
                    "created_at": v.created_at.isoformat(),
                    "content_hash": v.content_hash[:16],
                }
                for v in versions
            ],
        }


def rollback(settings: Settings, name: str, version: int) -> dict[str, Any]:
    """Mark version ``version`` of corpus ``name`` rolled back and what came from it stale."""
    with Session(get_engine(settings)) as session:
        corpus = _corpus(session, name)
        row = session.exec(
            select(CorpusVersion).where(
                CorpusVersion.corpus_id == corpus.id, CorpusVersion.version == version
            )
        ).first()
        if row is None:
            raise NotFoundError(
                f"corpus {name!r} has no version {version}; see `infinstruct corpus show {name}`"
            )
        if row.status == "rolled_back":
            raise InputError(f"version {version} of {name!r} is already rolled back")
        doc_ids = select(Document.id).where(Document.version_id == row.id)
        chunks = session.execute(
            update(Chunk).where(col(Chunk.document_id).in_(doc_ids)).values(stale=True)
        ).rowcount  # type: ignore[attr-defined]
        docs = session.execute(
            update(Document).where(col(Document.version_id) == row.id).values(stale=True)
        ).rowcount  # type: ignore[attr-defined]
        acts = session.execute(
            update(Interaction).where(col(Interaction.version_id) == row.id).values(stale=True)
        ).rowcount  # type: ignore[attr-defined]
        stale_sets = []
        for iset in session.exec(select(InstructionSet).where(col(InstructionSet.stale).is_(False))).all():
            if _derived_from(iset.lineage, name, version, row.id):
                iset.stale = True
                session.add(iset)
                stale_sets.append(f"{iset.name} v{iset.version}")
        row.status = "rolled_back"
        session.add(row)
        session.commit()
        return {
            "corpus": name,
            "version": version,
            "documents": docs,
            "chunks": chunks,
            "interactions": acts,
            "instruction_sets": stale_sets,
        }


def _derived_from(lineage: dict[str, Any], name: str, version: int, version_id: int | None) -> bool:
    if version_id in (lineage.get("corpus_version_ids") or []):
        return True
    for entry in lineage.get("corpus_versions") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("id") == version_id or entry.get("version_id") == version_id:
            return True
        if entry.get("corpus") == name and entry.get("version") == version:
            return True
    return False
