"""Generic tasks: labelled text in its own label set, documents of new domains (question
answering, continuation), and curated question->answer pairs from operators/hand-offs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from infinstruct.core.text import detect_lang, sentence_key, tidy
from infinstruct.finetune.instructions.tasks.base import (
    Candidate,
    Context,
    Doc,
    cut_at_sentence,
    doc_candidate,
    fill,
    instruction_lang,
    join_list,
    label_options,
    single_turn,
)

LABEL_SET_NAMES: dict[str, dict[str, str]] = {
    "sentiment": {"en": "sentiment", "zh": "情感"},
    "intent": {"en": "intent", "zh": "意图"},
    "negative_entity": {"en": "negative-news", "zh": "负面信息"},
}
_ANSWER_CHARS = 1500
_CONTINUATION_MIN = 200


def classification_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    label_set = str(doc.meta.get("label_set") or "label")
    labels = ctx.labels.get(label_set, ())
    text = tidy(doc.text, doc.lang)
    label = (doc.label or "").strip()
    lang = instruction_lang(doc.lang, f"cls:{doc.id}", ctx.options.cross_lingual_share)
    offered = label_options(label, labels, doc.id, ctx.options.label_options_max)
    name = LABEL_SET_NAMES.get(label_set, {}).get(lang, label_set)
    prompt = fill(
        "text_classification",
        lang,
        "prompt",
        doc.id,
        text=text,
        options=join_list(offered, lang),
        label_set=name,
    )
    yield doc_candidate(
        "text_classification",
        doc,
        ctx,
        lang=lang,
        prompt=prompt,
        answer=label,
        group_key=f"sent:{sentence_key(text)}",
        content=text,
        options=labels,
        label_scope=f"{ctx.corpus}:{label_set}",
        meta={"label_set": label_set},
    )


def document_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    """Question answering (title -> body) and continuation (head -> rest) of a document."""
    text = tidy(doc.text, doc.lang)
    title = tidy(doc.title, doc.lang)
    group = f"doc:{ctx.corpus}:{doc.external_id or doc.id}"
    if title and text:
        lang = instruction_lang(doc.lang, f"qa:{doc.id}", ctx.options.cross_lingual_share)
        prompt = fill("document_qa", lang, "prompt", doc.id, title=title, domain=ctx.domain)
        answer = cut_at_sentence(text, _ANSWER_CHARS)
        yield doc_candidate(
            "document_qa",
            doc,
            ctx,
            lang=lang,
            prompt=prompt,
            answer=answer,
            group_key=group,
            content=f"{title}\n{answer}",
        )
    if len(text) >= _CONTINUATION_MIN:
        window = text[: 2 * _ANSWER_CHARS]
        head = cut_at_sentence(window, max(len(window) // 2, 80))
        tail = cut_at_sentence(window[len(head) :].lstrip(), _ANSWER_CHARS)
        if len(head) >= 40 and len(tail) >= 40:
            lang = instruction_lang(doc.lang, f"cont:{doc.id}", ctx.options.cross_lingual_share)
            prompt = fill("continuation", lang, "prompt", doc.id, text=head, domain=ctx.domain)
            yield doc_candidate(
                "continuation",
                doc,
                ctx,
                lang=lang,
                prompt=prompt,
                answer=tail,
                group_key=group,
                content=window,
            )


@dataclass(frozen=True)
class CuratedPair:
    """An operator-approved answer or an answered hand-off."""

    origin: str
    row_id: int
    question: str
    answer: str
    lang: str | None


def curated_examples(pair: CuratedPair, ctx: Context) -> Iterator[Candidate]:
    content_lang = pair.lang if pair.lang in ("en", "zh") else (detect_lang(pair.question) or "en")
    question = tidy(pair.question, content_lang)
    answer = tidy(pair.answer, content_lang)
    key = f"{pair.origin}:{pair.row_id}"
    lang = instruction_lang(content_lang, f"cur:{key}", ctx.options.cross_lingual_share)
    yield Candidate(
        task="curated_qa",
        domain="curated",
        lang=lang,
        content_lang=content_lang,
        system=fill("curated_qa", lang, "system", key),
        messages=single_turn(question, answer),
        group_key=f"sent:{sentence_key(question)}",
        corpus=f"curated:{pair.origin}",
        content=f"{question}\n{answer}",
        answer=answer,
        meta={"origin": pair.origin, "row_id": pair.row_id},
    )
