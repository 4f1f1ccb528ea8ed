"""Conversations, their turns (the history window) and feedback on answers.

A conversation belongs to the client that opened it: a request naming someone else's
conversation id is refused, so one customer's history never reaches another's prompt.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select

from infinstruct.chat.answers import Answer
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ChatTurn, Conversation, Feedback


def open_conversation(settings: Settings, conversation_id: str | None, *, client: str) -> str:
    """The id of ``conversation_id`` (checked to belong to ``client``) or of a new one."""
    with session_scope(settings) as session:
        if conversation_id:
            found = session.get(Conversation, conversation_id)
            if found is None or found.client != client:
                # One message for both cases: an id's existence is itself other users' data.
                raise NotFoundError(
                    f"no conversation {conversation_id!r} for this client; omit conversation_id "
                    "to start a new one"
                )
            return found.id
        row = Conversation(id=uuid.uuid4().hex, client=client[:200])
        session.add(row)
        return row.id


def history(settings: Settings, conversation_id: str, *, turns: int) -> list[dict[str, str]]:
    """The last ``turns`` exchanges (user + assistant messages), oldest first."""
    if turns <= 0:
        return []
    with session_scope(settings) as session:
        rows = session.exec(
            select(ChatTurn)
            .where(ChatTurn.conversation_id == conversation_id)
            .order_by(col(ChatTurn.id).desc())
            .limit(turns * 2)
        ).all()
    return [{"role": r.role, "content": r.content} for r in reversed(rows)]


def record_exchange(settings: Settings, conversation_id: str, question: str, answer: Answer) -> int:
    """Store the question and its answer; returns the answer turn's id (for feedback)."""
    with session_scope(settings) as session:
        session.add(ChatTurn(conversation_id=conversation_id, role="user", content=question))
        turn = ChatTurn(
            conversation_id=conversation_id,
            role="assistant",
            content=answer.answer,
            route=answer.route,
            sources=[s.as_dict() for s in answer.sources],
            model_version=answer.model_version,
            latency_ms=answer.latency_ms,
        )
        session.add(turn)
        session.flush()
        return int(turn.id or 0)


def add_feedback(
    settings: Settings, turn_id: int, rating: int, *, comment: str = "", client: str | None = None
) -> int:
    """Store a thumbs up (+1) or down (-1) with an optional comment on an answer turn."""
    if rating not in (1, -1):
        raise InputError(f"rating must be 1 (up) or -1 (down) (got {rating})")
    with session_scope(settings) as session:
        turn = session.get(ChatTurn, turn_id)
        if turn is None or turn.role != "assistant":
            raise NotFoundError(f"no answer turn {turn_id}; rate an id returned as turn_id")
        if client is not None:
            owner = session.get(Conversation, turn.conversation_id)
            if owner is None or owner.client != client:
                raise NotFoundError(f"no answer turn {turn_id} for this client")
        row = Feedback(turn_id=turn_id, rating=rating, comment=comment[:2000])
        session.add(row)
        session.flush()
        return int(row.id or 0)


def list_feedback(settings: Settings, *, limit: int = 100) -> list[dict[str, Any]]:
    """Recent feedback with the question and answer it is about (for operators)."""
    with session_scope(settings) as session:
        rows = session.exec(
            select(Feedback, ChatTurn)
            .where(Feedback.turn_id == ChatTurn.id)
            .order_by(col(Feedback.id).desc())
            .limit(limit)
        ).all()
        out = []
        for fb, turn in rows:
            question = session.exec(
                select(ChatTurn.content)
                .where(
                    ChatTurn.conversation_id == turn.conversation_id,
                    col(ChatTurn.id) < turn.id,
                    ChatTurn.role == "user",
                )
                .order_by(col(ChatTurn.id).desc())
            ).first()
            out.append(
                {
                    "id": fb.id,
                    "turn_id": fb.turn_id,
                    "rating": fb.rating,
                    "comment": fb.comment,
                    "question": question or "",
                    "answer": turn.content,
                    "route": turn.route,
                    "model_version": turn.model_version,
                    "created_at": fb.created_at.isoformat(),
                }
            )
        return out
