"""Finance: sentiment in the shared scheme, company/ticker extraction, headline writing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infinstruct.core.protocols import SENTIMENT_LABELS
from infinstruct.core.text import sentence_key, tidy
from infinstruct.finetune.instructions.tasks.base import (
    Candidate,
    Context,
    Doc,
    cut_at_sentence,
    doc_candidate,
    fill,
    instruction_lang,
)
from infinstruct.finetune.instructions.textnorm import cashtags

_MAX_NEWS_CHARS = 1500


def _entities(doc: Doc, text: str) -> list[str]:
    """Tickers/companies from the source's own fields, else the text's cashtags."""
    found: list[str] = []
    for key in ("tickers", "entities", "companies"):
        value: Any = doc.meta.get(key)
        if isinstance(value, str):
            value = [v for v in value.replace("；", ";").split(";")]
        if isinstance(value, list):
            found.extend(str(v).strip().lstrip("$") for v in value if str(v).strip())
    if not found:
        found = cashtags(text)
    return list(dict.fromkeys(v for v in found if v))


def body_text(doc: Doc) -> str:
    """The text a finance task reads: the body, or the headline when there is no body."""
    return cut_at_sentence(tidy(doc.text or doc.title, doc.lang), _MAX_NEWS_CHARS)


def doc_group(doc: Doc) -> str:
    """Every task made from one document shares its group (by the body sentence), so a
    headline answered in one split never appears inside a prompt of another."""
    return f"sent:{sentence_key(body_text(doc))}"


def sentiment_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    text = body_text(doc)
    if doc.kind == "news" and doc.title and doc.text:
        text = f"{tidy(doc.title, doc.lang)}\n{text}"
    label = (doc.label or "").strip()
    lang = instruction_lang(doc.lang, f"sent:{doc.id}", ctx.options.cross_lingual_share)
    prompt = fill("sentiment_classification", lang, "prompt", doc.id, text=text)
    yield doc_candidate(
        "sentiment_classification",
        doc,
        ctx,
        lang=lang,
        prompt=prompt,
        answer=label,
        group_key=doc_group(doc),
        content=text,
        options=SENTIMENT_LABELS,
        label_scope="sentiment",
        meta={k: doc.meta[k] for k in ("agreement", "raw_score") if k in doc.meta},
    )


def entity_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    text = body_text(doc)
    if doc.kind == "news" and doc.title and doc.text:
        text = f"{tidy(doc.title, doc.lang)}\n{text}"
    entities = _entities(doc, text)
    if not entities:
        return
    lang = instruction_lang(doc.lang, f"ent:{doc.id}", ctx.options.cross_lingual_share)
    prompt = fill("entity_extraction", lang, "prompt", doc.id, text=text)
    answer = ", ".join(entities)
    yield doc_candidate(
        "entity_extraction",
        doc,
        ctx,
        lang=lang,
        prompt=prompt,
        answer=answer,
        group_key=doc_group(doc),
        content=text,
    )


def headline_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    title = tidy(doc.title, doc.lang)
    text = body_text(doc)
    if not title or not doc.text or title.casefold() == text.casefold():
        return
    lang = instruction_lang(doc.lang, f"head:{doc.id}", ctx.options.cross_lingual_share)
    prompt = fill("headline_writing", lang, "prompt", doc.id, text=text)
    yield doc_candidate(
        "headline_writing",
        doc,
        ctx,
        lang=lang,
        prompt=prompt,
        answer=title,
        group_key=doc_group(doc),
        content=text,
    )
