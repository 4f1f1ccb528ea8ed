"""What the router returns: an answer tagged with its route, evidence and model version."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Route = Literal["curated", "model", "retrieval", "recommend", "abstain"]
#: Every route, in the order the router tries them.
ROUTES: tuple[Route, ...] = ("curated", "model", "retrieval", "recommend", "abstain")


@dataclass(frozen=True)
class Source:
    """One piece of evidence behind an answer (a passage, a training example, an item)."""

    doc_id: str
    corpus: str
    title: str
    snippet: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "corpus": self.corpus,
            "title": self.title,
            "snippet": self.snippet,
            "score": round(float(self.score), 4),
        }


@dataclass
class Answer:
    """The ``infinstruct chat --json`` object (plus the conversation ids the API adds)."""

    answer: str
    route: Route
    sources: list[Source] = field(default_factory=list)
    model_version: str | None = None
    latency_ms: float = 0.0
    conversation_id: str | None = None
    turn_id: int | None = None
    scores: dict[str, float] = field(default_factory=dict)
    #: The detected intent (a signal, never the reply) and its vote share, when it fired.
    intent: str | None = None
    intent_confidence: float | None = None
    #: Replies the check rejected before this one, per reason (``reply_check.REASONS``).
    rejections: dict[str, int] = field(default_factory=dict)

    def as_dict(self, *, with_conversation: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "answer": self.answer,
            "route": self.route,
            "sources": [s.as_dict() for s in self.sources],
            "model_version": self.model_version,
            "latency_ms": round(self.latency_ms, 1),
            "intent": self.intent,
            "intent_confidence": None if self.intent_confidence is None else round(self.intent_confidence, 4),
            "rejections": dict(self.rejections),
        }
        if with_conversation:
            data["conversation_id"] = self.conversation_id
            data["turn_id"] = self.turn_id
        return data


_LABEL_SEPARATORS = re.compile(r"[_\-.\s]+")


def humanize_intent(label: str) -> str:
    """An intent label as a phrase for people: ``declined_card_payment`` -> "Declined card payment"."""
    words = _LABEL_SEPARATORS.sub(" ", label or "").strip()
    if not words:
        return ""
    if not words.isascii():  # a Chinese label has no case to fix
        return words
    lowered = " ".join(w if (w.isupper() and len(w) > 1) else w.lower() for w in words.split())
    return lowered[0].upper() + lowered[1:]
