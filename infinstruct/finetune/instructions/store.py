"""Read side of instruction sets: find a version, load its examples.

This is the API the training code calls (``load_examples``); it never builds anything.
Before answering "which version is the latest", sets built from a corpus version that has
since been rolled back are marked stale, so training never silently uses one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlmodel import Session, col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import CorpusVersion, InstructionExample, InstructionSet

log = logging.getLogger(__name__)

SPLITS: tuple[str, str, str] = ("train", "validation", "test")


def refresh_staleness(session: Session) -> list[int]:
    """Mark sets whose lineage names a rolled-back corpus version stale; return their ids."""
    rolled_back = set(
        session.exec(select(CorpusVersion.id).where(CorpusVersion.status == "rolled_back")).all()
    )
    if not rolled_back:
        return []
    marked: list[int] = []
    for row in session.exec(select(InstructionSet).where(col(InstructionSet.stale).is_(False))).all():
        used = set(row.lineage.get("corpus_version_ids", []))
        if used & rolled_back:
            row.stale = True
            session.add(row)
            marked.append(int(row.id or 0))
    if marked:
        log.info("instruction sets %s marked stale (built from a rolled-back corpus version)", marked)
    return marked


def list_sets(settings: Settings, *, name: str | None = None) -> list[InstructionSet]:
    """Every instruction-set version (optionally of one name), oldest first."""
    with session_scope(settings) as session:
        refresh_staleness(session)
        query = select(InstructionSet).order_by(col(InstructionSet.name), col(InstructionSet.version))
        if name is not None:
            query = query.where(InstructionSet.name == name)
        return list(session.exec(query).all())


def _find_set(session: Session, name: str, version: int | None) -> InstructionSet:
    query = select(InstructionSet).where(InstructionSet.name == name)
    if version is None:
        query = query.where(col(InstructionSet.stale).is_(False))
        found = session.exec(query.order_by(col(InstructionSet.version).desc())).first()
        if found is None:
            raise NotFoundError(
                f"no usable instruction set named {name!r}; run `infinstruct instructions build"
                f"{'' if name == 'default' else ' --name ' + name}` first"
            )
        return found
    found = session.exec(query.where(InstructionSet.version == version)).first()
    if found is None:
        raise NotFoundError(
            f"instruction set {name!r} has no version {version}; see `infinstruct instructions stats --all`"
        )
    return found


def get_set(settings: Settings, *, name: str = "default", version: int | None = None) -> InstructionSet:
    """One version of a set; ``version=None`` is the latest one that is not stale."""
    with session_scope(settings) as session:
        refresh_staleness(session)
        return _find_set(session, name, version)


def latest_set(settings: Settings, name: str = "default") -> InstructionSet:
    """The newest non-stale version of ``name`` (raises ``NotFoundError`` when none)."""
    return get_set(settings, name=name, version=None)


def load_examples(
    settings: Settings,
    *,
    set_name: str = "default",
    version: int | None = None,
    split: str | None = "train",
    tasks: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    langs: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[InstructionExample]:
    """Examples of one set version, in a stable order (by row id).

    ``version=None`` means the latest non-stale version; ``split=None`` means all splits.
    ``messages`` is OpenAI style (``[{role: user|assistant, content}]``); ``system`` is
    kept apart so a trainer can put it in its chat template's system slot.
    """
    if split is not None and split not in SPLITS:
        raise InputError(f"split must be one of {', '.join(SPLITS)} or None (got {split!r})")
    if limit is not None and limit < 0:
        raise InputError(f"limit must be >= 0 (got {limit})")
    with session_scope(settings) as session:
        refresh_staleness(session)
        found = _find_set(session, set_name, version)
        query = select(InstructionExample).where(InstructionExample.set_id == found.id)
        if split is not None:
            query = query.where(InstructionExample.split == split)
        if tasks:
            query = query.where(col(InstructionExample.task).in_(list(tasks)))
        if domains:
            query = query.where(col(InstructionExample.domain).in_(list(domains)))
        if langs:
            query = query.where(col(InstructionExample.lang).in_(list(langs)))
        query = query.order_by(col(InstructionExample.id))
        if limit is not None:
            query = query.limit(limit)
        return list(session.exec(query).all())


def count_examples(settings: Settings, set_id: int) -> dict[str, dict[str, int]]:
    """Counts per split and per (task/lang) of one set version, read from its rows."""
    from sqlalchemy import func

    with session_scope(settings) as session:
        rows = session.exec(
            select(
                InstructionExample.split,
                InstructionExample.task,
                InstructionExample.lang,
                func.count(),
            )
            .where(InstructionExample.set_id == set_id)
            .group_by(InstructionExample.split, InstructionExample.task, InstructionExample.lang)
        ).all()
    by_split: dict[str, int] = {}
    by_task_lang: dict[str, int] = {}
    for split, task, lang, n in rows:
        by_split[split] = by_split.get(split, 0) + int(n)
        key = f"{task}/{lang}"
        by_task_lang[key] = by_task_lang.get(key, 0) + int(n)
    return {"by_split": dict(sorted(by_split.items())), "by_task_lang": dict(sorted(by_task_lang.items()))}
