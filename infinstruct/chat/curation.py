"""Curated answers (operator-approved, returned verbatim) and hand-offs to people.

An abstained question becomes an open ``Handoff``; answering it closes the hand-off and
adds a curated answer, so the next customer asking the same gets it at once. The
instruction builder reads both (curated pairs and answered hand-offs) as training
examples, so the next model learns them too.

A curated answer may instead belong to an intent (``intent`` set, ``question`` empty): every
question the intent signal assigns to that intent gets it (Rasa's intent -> response loop).
A hand-off carries its question's intent, so :func:`top_unanswered_intents` tells operators
which intents to write an answer for first.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from infinstruct.chat.prompts import lang_of
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import CuratedAnswer, Handoff
from infinstruct.core.tables._columns import utcnow


def add_curated(
    settings: Settings, question: str, answer: str, *, approved_by: str = "", origin: str = "operator"
) -> CuratedAnswer:
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise InputError("a curated answer needs a non-empty question and answer")
    with session_scope(settings) as session:
        row = CuratedAnswer(
            question=question, answer=answer, lang=lang_of(question), origin=origin, approved_by=approved_by
        )
        session.add(row)
        session.flush()
        session.refresh(row)
        return row


def import_curated(settings: Settings, path: Path, *, approved_by: str = "") -> int:
    """Add every ``question``/``answer`` pair of a CSV or JSONL file; returns how many."""
    if not path.exists():
        raise InputError(f"{path} does not exist; give a .csv or .jsonl file of question,answer rows")
    pairs: list[tuple[str, str]] = []
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"question", "answer"} <= set(reader.fieldnames):
                raise InputError(
                    f"{path} needs a header with question and answer columns (got {reader.fieldnames})"
                )
            pairs = [(r["question"] or "", r["answer"] or "") for r in reader]
    elif path.suffix.lower() in {".jsonl", ".json"}:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number} is not JSON: {exc.msg}") from exc
            pairs.append((str(row.get("question", "")), str(row.get("answer", ""))))
    else:
        raise InputError(f"{path} must be .csv or .jsonl (got {path.suffix!r})")
    bad = [n for n, (q, a) in enumerate(pairs, 1) if not q.strip() or not a.strip()]
    if bad:
        raise InputError(f"{path}: rows {bad[:5]} lack a question or an answer; fix them and retry")
    with session_scope(settings) as session:
        for question, answer in pairs:
            session.add(
                CuratedAnswer(
                    question=question.strip(),
                    answer=answer.strip(),
                    lang=lang_of(question),
                    origin="import",
                    approved_by=approved_by,
                )
            )
    return len(pairs)


def _intent_label(intent: str) -> str:
    label = (intent or "").strip()
    if not label or len(label) > 100 or "\n" in label:
        raise InputError(f"an intent is a label of 1-100 characters on one line (got {intent!r})")
    return label


def set_intent_answer(
    settings: Settings, *, intent: str, answer: str, approved_by: str = "", origin: str = "operator"
) -> CuratedAnswer:
    """The answer every question of ``intent`` gets; replaces that intent's earlier answer."""
    label, text = _intent_label(intent), (answer or "").strip()
    if not text:
        raise InputError(f"the answer for intent {label!r} is empty; write the reply customers should get")
    with session_scope(settings) as session:
        for old in session.exec(
            select(CuratedAnswer).where(CuratedAnswer.intent == label, col(CuratedAnswer.active).is_(True))
        ).all():
            old.active = False
            session.add(old)
        row = CuratedAnswer(
            question="", answer=text, lang=lang_of(text), origin=origin, approved_by=approved_by, intent=label
        )
        session.add(row)
        session.flush()
        session.refresh(row)
        return row


def import_intent_answers(settings: Settings, path: Path, *, approved_by: str = "") -> int:
    """Set the answer of every ``intent,answer`` row of a CSV file; returns how many."""
    if not path.exists() or path.suffix.lower() != ".csv":
        raise InputError(f"{path} is not an existing .csv file of intent,answer rows")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"intent", "answer"} <= set(reader.fieldnames):
            raise InputError(
                f"{path} needs a header with intent and answer columns (got {reader.fieldnames})"
            )
        rows = [((r["intent"] or "").strip(), (r["answer"] or "").strip()) for r in reader]
    bad = [n for n, (i, a) in enumerate(rows, 2) if not i or not a]
    if bad:
        raise InputError(f"{path}: lines {bad[:5]} lack an intent or an answer; fix them and retry")
    for intent, answer in rows:
        set_intent_answer(settings, intent=intent, answer=answer, approved_by=approved_by, origin="import")
    return len(rows)


def intent_answers(settings: Settings) -> dict[str, CuratedAnswer]:
    """The active curated answer of each intent that has one."""
    with session_scope(settings) as session:
        rows = session.exec(
            select(CuratedAnswer)
            .where(col(CuratedAnswer.intent).is_not(None), col(CuratedAnswer.active).is_(True))
            .order_by(col(CuratedAnswer.id))
        ).all()
    return {str(r.intent): r for r in rows}


def top_unanswered_intents(settings: Settings, *, limit: int = 20) -> list[tuple[str, int]]:
    """The intents of open hand-offs that have no curated answer yet, most frequent first."""
    from sqlalchemy import func

    if limit < 1:
        raise InputError(f"limit must be >= 1 (got {limit})")
    answered = set(intent_answers(settings))
    with session_scope(settings) as session:
        counts = session.exec(
            select(Handoff.intent, func.count())
            .where(Handoff.status == "open", col(Handoff.intent).is_not(None))
            .group_by(Handoff.intent)
        ).all()
    ranked = sorted(((str(i), int(n)) for i, n in counts if i not in answered), key=lambda p: (-p[1], p[0]))
    return ranked[:limit]


def list_curated(settings: Settings, *, active_only: bool = True) -> list[CuratedAnswer]:
    with session_scope(settings) as session:
        query = select(CuratedAnswer).order_by(col(CuratedAnswer.id))
        if active_only:
            query = query.where(col(CuratedAnswer.active).is_(True))
        return list(session.exec(query).all())


def curated_signature(settings: Settings) -> tuple[int, int]:
    """Changes whenever a curated answer is added or (de)activated: (count active, max id)."""
    from sqlalchemy import func

    with session_scope(settings) as session:
        count, top = session.exec(
            select(func.count(), func.max(CuratedAnswer.id)).where(col(CuratedAnswer.active).is_(True))
        ).one()
    return int(count or 0), int(top or 0)


def open_handoff(
    settings: Settings,
    question: str,
    *,
    conversation_id: str | None,
    evidence: dict[str, Any],
    intent: str | None = None,
    intent_confidence: float | None = None,
) -> int:
    with session_scope(settings) as session:
        row = Handoff(
            conversation_id=conversation_id,
            question=question,
            evidence=evidence,
            intent=intent,
            intent_confidence=intent_confidence,
        )
        session.add(row)
        session.flush()
        return int(row.id or 0)


def list_handoffs(settings: Settings, *, status: str | None = "open") -> list[Handoff]:
    if status not in (None, "open", "answered"):
        raise InputError(f"status must be open, answered or all (got {status!r})")
    with session_scope(settings) as session:
        query = select(Handoff).order_by(col(Handoff.id))
        if status:
            query = query.where(Handoff.status == status)
        return list(session.exec(query).all())


def answer_handoff(settings: Settings, handoff_id: int, answer: str, *, by: str = "") -> tuple[Handoff, int]:
    """Close a hand-off with a person's answer; returns it and the new curated answer's id."""
    if not answer.strip():
        raise InputError("the answer is empty; write the reply the customer should get")
    with session_scope(settings) as session:
        row = session.get(Handoff, handoff_id)
        if row is None:
            raise NotFoundError(f"no hand-off {handoff_id}; see `infinstruct handoffs list`")
        if row.status == "answered":
            raise InputError(f"hand-off {handoff_id} is already answered")
        row.status, row.answer, row.answered_by, row.answered_at = "answered", answer.strip(), by, utcnow()
        session.add(row)
        curated = CuratedAnswer(
            question=row.question,
            answer=answer.strip(),
            lang=lang_of(row.question),
            origin="handoff",
            approved_by=by,
        )
        session.add(curated)
        session.flush()
        session.refresh(row)
        return row, int(curated.id or 0)
