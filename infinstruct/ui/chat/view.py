"""How an answer looks to a customer: a route badge and readable sources (plain functions).

Input is the customer's view of an answer (``chat.customer_view.customer_answer``):
no corpus names, task names, intent labels or scores reach this page. Text is HTML-escaped
before display (it is data, not markup).
"""

from __future__ import annotations

import html
from typing import Any

from infinstruct.ui.chat.texts import say

ROUTE_ICONS = {"curated": "✅", "model": "🧠", "retrieval": "📚", "recommend": "🎯", "abstain": "🙋"}


def badge(view: dict[str, Any], lang: str) -> str:
    """The route badge above the chat, with the readable topic when one was detected."""
    route = str(view.get("route", ""))
    label = f"{ROUTE_ICONS.get(route, '')} {say(f'route_{route}', lang) if route in ROUTE_ICONS else route}"
    topic = f" · {say('topic', lang)}: {html.escape(view['topic'])}" if view.get("topic") else ""
    return f"**{label.strip()}**{topic}"


def sources_markdown(sources: list[dict[str, str]]) -> str:
    """Each source as a bold title and a quoted short excerpt."""
    return "\n\n".join(
        f"**[{n}] {html.escape(s['title'])}**"
        + (f"\n\n> {html.escape(s['excerpt'])}" if s["excerpt"] else "")
        for n, s in enumerate(sources, 1)
    )


def recommendations_markdown(items: list[Any]) -> str:
    """Recommended items: title and a short description, numbered."""
    return "\n".join(
        f"{n}. **{html.escape(i.title or i.doc_id)}** {html.escape(' '.join(i.snippet.split())[:120])}"
        for n, i in enumerate(items, 1)
    )
