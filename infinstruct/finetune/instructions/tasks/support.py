"""Support dialogues (reply as the agent, multi-turn) and intent classification."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from infinstruct.core.text import sentence_key, tidy
from infinstruct.finetune.instructions.tasks.base import (
    Candidate,
    Context,
    Doc,
    doc_candidate,
    fill,
    instruction_lang,
    join_list,
    label_options,
)
from infinstruct.finetune.instructions.textnorm import clean_reply

_USER_ROLES = frozenset({"customer", "user", "human", "client", "buyer"})
_AGENT_ROLES = frozenset({"agent", "assistant", "system_agent", "bot", "seller", "support", "gpt"})
_LINE = re.compile(r"^\s*(\w+)\s*:\s*(.*)$")


def _turns(doc: Doc) -> list[tuple[str, str]]:
    """(role, text) pairs from ``meta.turns``, or from the ``role: text`` lines of the text."""
    raw: list[Any] = doc.meta.get("turns") or []
    turns: list[tuple[str, str]] = []
    for turn in raw:
        if isinstance(turn, dict):
            turns.append((str(turn.get("role", "")).lower(), str(turn.get("text", ""))))
    if turns:
        return turns
    for line in doc.text.splitlines():
        match = _LINE.match(line)
        if match:
            turns.append((match.group(1).lower(), match.group(2)))
        elif turns:  # a continuation line of the previous turn
            turns[-1] = (turns[-1][0], turns[-1][1] + "\n" + line)
    return turns


def dialogue_messages(doc: Doc, *, max_messages: int) -> list[dict[str, str]]:
    """Alternating user/assistant messages that start with the customer and end with the agent.

    Consecutive turns of one side merge (twcs splits long replies over several tweets);
    every turn is cleaned first (``clean_reply``: no @handles, links, contacts, signatures);
    opening agent turns and a trailing unanswered customer turn carry nothing to learn.
    """
    messages: list[dict[str, str]] = []
    for role, text in _turns(doc):
        side = "user" if role in _USER_ROLES else "assistant" if role in _AGENT_ROLES else None
        # handles, links, contacts and sign-offs are not what a reply should learn to say
        text = clean_reply(tidy(text, doc.lang))
        if side is None or not text:
            continue
        if messages and messages[-1]["role"] == side:
            messages[-1]["content"] += "\n" + text
        elif messages or side == "user":
            messages.append({"role": side, "content": text})
    if len(messages) > max_messages:
        messages = messages[: max(max_messages, 2)]
    if messages and messages[-1]["role"] == "user":
        messages.pop()
    return messages if len(messages) >= 2 else []


def dialogue_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    messages = dialogue_messages(doc, max_messages=ctx.options.max_messages)
    if not messages:
        return
    brand = str(doc.meta.get("brand") or "")
    # twcs threads are grouped by brand (a brand's threads share templates and staff). Other
    # threads are one document each, grouped by their opening customer sentence: the same
    # conversation loaded into two corpora, or ECD's variants of one context, share a side.
    group = f"brand:{brand.casefold()}" if brand else f"sent:{sentence_key(messages[0]['content'])}"
    task = "support_reply" if ctx.domain == "support" else "dialogue_reply"
    lang = instruction_lang(doc.lang, doc.id, ctx.options.cross_lingual_share)
    system = fill(task, lang, "system", doc.id, org=brand, domain=ctx.domain)
    yield Candidate(
        task=task,
        domain=ctx.domain,
        lang=lang,
        content_lang=doc.lang,
        system=system,
        messages=messages,
        group_key=group,
        corpus=ctx.corpus,
        content="\n".join(m["content"] for m in messages),
        answer=messages[-1]["content"],
        source_document_id=doc.id,
        meta={"turns": len(messages)},
    )


def intent_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    text = tidy(doc.text, doc.lang)
    label = (doc.label or "").strip()
    lang = instruction_lang(doc.lang, doc.id, ctx.options.cross_lingual_share)
    options = label_options(label, ctx.labels.get("intent", ()), doc.id, ctx.options.label_options_max)
    prompt = fill(
        "intent_classification", lang, "prompt", doc.id, text=text, options=join_list(options, lang)
    )
    yield doc_candidate(
        "intent_classification",
        doc,
        ctx,
        lang=lang,
        prompt=prompt,
        answer=label,
        group_key=f"sent:{sentence_key(text)}",
        content=text,
        options=ctx.labels.get("intent", ()),
        label_scope=f"{ctx.corpus}:intent",
    )
