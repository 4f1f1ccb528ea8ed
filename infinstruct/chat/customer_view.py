"""What a customer may see of an answer: the reply, readable sources, a readable topic.

Support logs hold customers' own words (and real exports add names, order numbers and
e-mails), so a customer is shown a source only when it comes from a corpus an operator marked
public (help-centre articles, FAQs) or from a curated answer, and only as a title and a short
excerpt. Corpus names, task names, raw intent labels, scores and model names stay in the
operator's views and in the API for the operator role (the model version stays: it names
no data). This is the presentation layer: the
router still retrieves and grounds on every corpus.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infinstruct.chat.answers import Answer, Source, humanize_intent

EXCERPT_CHARS = 180
CURATED_TITLE = "Answer reviewed by our support team"
PRIVILEGED_ROLES = frozenset({"operator", "admin"})


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` cut at a word boundary near ``limit`` characters, with an ellipsis when cut."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",.;:") + "…"


def customer_sources(answer: Answer, public: Iterable[str]) -> list[dict[str, str]]:
    """The sources a customer may see: public corpora and curated answers, title + excerpt."""
    allowed = frozenset(public)
    shown: list[dict[str, str]] = []
    for src in answer.sources:
        if src.corpus == "curated":
            shown.append({"title": CURATED_TITLE, "excerpt": excerpt(answer.answer)})
        elif src.corpus in allowed:
            shown.append({"title": src.title or "Help article", "excerpt": excerpt(src.snippet)})
    return shown


def customer_answer(answer: Answer, public: Iterable[str]) -> dict[str, Any]:
    """The ``/api/chat`` object for a customer (and the page's view of an answer)."""
    return {
        "answer": answer.answer,
        "route": answer.route,
        "topic": humanize_intent(answer.intent) if answer.intent else None,
        "sources": customer_sources(answer, public),
        "model_version": answer.model_version,
        "latency_ms": round(answer.latency_ms, 1),
        "conversation_id": answer.conversation_id,
        "turn_id": answer.turn_id,
    }


def visible_sources(sources: list[Source], public: Iterable[str]) -> list[Source]:
    """``sources`` limited to public corpora and curated answers (for operator-side previews)."""
    allowed = frozenset(public)
    return [s for s in sources if s.corpus == "curated" or s.corpus in allowed]
