"""What a build reads, and its lineage: corpus versions, curated pairs, templates, options.

The input hash covers exactly what determines the output: the complete (not rolled-back)
corpus versions and their live document counts, the curated pairs' content, the template
hash and the build options. Same hash, same set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from infinstruct.core.settings import InstructionSettings
from infinstruct.core.tables import (
    Corpus,
    CorpusVersion,
    CuratedAnswer,
    Document,
    Handoff,
    Interaction,
)
from infinstruct.finetune.instructions.tasks.base import Doc
from infinstruct.finetune.instructions.tasks.generic import CuratedPair
from infinstruct.finetune.instructions.tasks.items import Event
from infinstruct.finetune.instructions.templates import template_hash


@dataclass
class CorpusInput:
    corpus: Corpus
    version_ids: list[int]
    documents: int
    interactions: int


@dataclass
class BuildInputs:
    corpora: list[CorpusInput]
    curated: list[CuratedPair]
    lineage: dict[str, Any] = field(default_factory=dict)
    input_hash: str = ""


def _digest(payload: Any) -> str:
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def gather_inputs(session: Session, opts: InstructionSettings) -> BuildInputs:
    corpora: list[CorpusInput] = []
    lineage_corpora: dict[str, Any] = {}
    for corpus in session.exec(select(Corpus).order_by(col(Corpus.name))).all():
        versions = session.exec(
            select(CorpusVersion)
            .where(CorpusVersion.corpus_id == corpus.id, CorpusVersion.status == "complete")
            .order_by(col(CorpusVersion.version))
        ).all()
        ids = [int(v.id or 0) for v in versions]
        if not ids:
            continue
        docs = session.exec(
            select(func.count())
            .select_from(Document)
            .where(
                Document.corpus_id == corpus.id,
                col(Document.stale).is_(False),
                col(Document.version_id).in_(ids),
            )
        ).one()
        events = session.exec(
            select(func.count())
            .select_from(Interaction)
            .where(
                Interaction.corpus_id == corpus.id,
                col(Interaction.stale).is_(False),
                col(Interaction.version_id).in_(ids),
            )
        ).one()
        corpora.append(CorpusInput(corpus, ids, int(docs), int(events)))
        lineage_corpora[corpus.name] = {
            "domain": corpus.domain,
            "connector": corpus.connector,
            "documents": int(docs),
            "interactions": int(events),
            "versions": [
                {"id": v.id, "version": v.version, "content_hash": v.content_hash} for v in versions
            ],
        }
    curated = list(_curated(session))
    curated_digest = _digest([(p.origin, p.row_id, p.question, p.answer, p.lang) for p in curated])
    lineage = {
        "corpora": lineage_corpora,
        "corpus_version_ids": sorted(v for c in corpora for v in c.version_ids),
        "curated": {"pairs": len(curated), "digest": curated_digest},
        "template_hash": template_hash(),
        "options": opts.model_dump(mode="json"),
    }
    return BuildInputs(corpora=corpora, curated=curated, lineage=lineage, input_hash=_digest(lineage))


def _curated(session: Session) -> Iterator[CuratedPair]:
    for row in session.exec(
        select(CuratedAnswer).where(col(CuratedAnswer.active).is_(True)).order_by(col(CuratedAnswer.id))
    ).all():
        if not row.question.strip():  # an intent's answer: no question to learn it from
            continue
        yield CuratedPair("curated", int(row.id or 0), row.question, row.answer, row.lang)
    for hand in session.exec(
        select(Handoff).where(Handoff.status == "answered").order_by(col(Handoff.id))
    ).all():
        if hand.answer.strip():
            yield CuratedPair("handoff", int(hand.id or 0), hand.question, hand.answer, None)


def read_documents(session: Session, item: CorpusInput) -> list[Doc]:
    columns = (
        Document.id,
        Document.kind,
        Document.text,
        Document.title,
        Document.lang,
        Document.label,
        Document.external_id,
        Document.group_key,
        Document.near_dup_of,
        Document.meta,
    )
    rows = (
        session.connection()
        .execute(
            sa_select(*(col(c) for c in columns))
            .where(
                col(Document.corpus_id) == item.corpus.id,
                col(Document.stale).is_(False),
                col(Document.version_id).in_(item.version_ids),
            )
            .order_by(col(Document.id))
        )
        .all()
    )
    return [
        Doc(
            id=r[0],
            kind=r[1],
            text=r[2] or "",
            title=r[3] or "",
            lang=r[4],
            label=r[5],
            external_id=r[6],
            group_key=r[7],
            near_dup_of=r[8],
            meta=r[9] or {},
        )
        for r in rows
    ]


def read_events(session: Session, item: CorpusInput) -> list[Event]:
    if not item.interactions:
        return []
    # Plain column tuples through Core: ORM objects for 100k ratings would cost seconds.
    rows = (
        session.connection()
        .execute(
            sa_select(
                col(Interaction.user_id),
                col(Interaction.item_id),
                col(Interaction.kind),
                col(Interaction.value),
                col(Interaction.ts),
            ).where(
                col(Interaction.corpus_id) == item.corpus.id,
                col(Interaction.stale).is_(False),
                col(Interaction.version_id).in_(item.version_ids),
            )
        )
        .all()
    )
    return [Event(str(u), str(i), str(k), v, ts) for u, i, k, v, ts in rows]
