"""What every generator shares: the candidate example, its build context, and the
deterministic choices (instruction language, phrasing, label options)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from infinstruct.core.settings import InstructionSettings
from infinstruct.core.text import SENTENCE_END
from infinstruct.finetune.instructions.templates import DEFAULTS, LIST_SEPARATOR, phrasings
from infinstruct.finetune.instructions.textnorm import stable_hash, unit_interval

T = TypeVar("T")


@dataclass
class Candidate:
    """One example before filtering and splitting.

    ``content`` is the source text (what duplicates and the language check look at: the
    same sentence under two phrasings is one duplicate); ``content_lang`` its language,
    ``lang`` the language of the instruction.
    """

    task: str
    domain: str
    lang: str
    content_lang: str
    system: str
    messages: list[dict[str, str]]
    group_key: str
    corpus: str
    content: str
    answer: str
    source_document_id: str | None = None
    options: tuple[str, ...] | None = None
    label_scope: str = ""
    near_dup_check: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Doc:
    """The columns of a ``Document`` row the generators read (plain data: loading ORM
    objects cost more than generating the examples)."""

    id: str
    kind: str
    text: str
    title: str = ""
    lang: str = "en"
    label: str | None = None
    external_id: str | None = None
    group_key: str | None = None
    near_dup_of: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """Where a generator's documents come from and the build options."""

    options: InstructionSettings
    corpus: str
    domain: str
    #: label_set -> every label seen in this corpus for it (sorted): the corpus's own label set.
    labels: dict[str, tuple[str, ...]] = field(default_factory=dict)


def other_lang(lang: str) -> str:
    return "zh" if lang == "en" else "en"


def instruction_lang(content_lang: str, key: str, share: float) -> str:
    """Mostly the content's language; a deterministic ``share`` gets the other one."""
    if content_lang not in DEFAULTS:
        content_lang = "en"
    return other_lang(content_lang) if unit_interval("lang", key) < share else content_lang


def pick(items: Sequence[T], *key: object) -> T:
    """A deterministic choice from ``items`` by the hash of ``key``."""
    return items[stable_hash(*key) % len(items)]


def fill(task: str, lang: str, slot: str, key: str, **values: str) -> str:
    """One phrasing of ``task``'s ``slot``, chosen by ``key``, with ``values`` filled in."""
    template = pick(phrasings(task, lang, slot), task, slot, key)
    merged = {**DEFAULTS[lang], **{k: v for k, v in values.items() if v}}
    return template.format_map(_Missing(merged))


class _Missing(dict[str, str]):
    """``format_map`` helper: an unknown field renders empty instead of raising."""

    def __missing__(self, key: str) -> str:
        return ""


def join_list(items: Sequence[str], lang: str) -> str:
    return LIST_SEPARATOR.get(lang, ", ").join(items)


def label_options(label: str, labels: Sequence[str], key: str, most: int) -> tuple[str, ...]:
    """The label set offered in a prompt: all labels, or the right one + distractors.

    The offered order is shuffled per example (deterministically) so the right answer's
    position carries no signal.
    """
    pool = list(dict.fromkeys(labels))
    if label not in pool:
        pool.append(label)
    # One seeded generator per example (hashing every label of a 77-intent set per example
    # would dominate the build).
    rng = random.Random(stable_hash("options", key))
    if len(pool) > most:
        others = sorted(x for x in pool if x != label)
        pool = [label, *rng.sample(others, max(most - 1, 1))]
    rng.shuffle(pool)
    return tuple(pool)


def single_turn(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def doc_candidate(
    task: str,
    doc: Doc,
    ctx: Context,
    *,
    lang: str,
    prompt: str,
    answer: str,
    group_key: str,
    content: str,
    **extra: Any,
) -> Candidate:
    """A single-turn example (no system prompt) made from one document of ``ctx``'s corpus;
    ``extra`` sets the remaining Candidate fields (options, label_scope, meta…)."""
    return Candidate(
        task=task,
        domain=ctx.domain,
        lang=lang,
        content_lang=doc.lang,
        system="",
        messages=single_turn(prompt, answer),
        group_key=group_key,
        corpus=ctx.corpus,
        content=content,
        answer=answer,
        source_document_id=doc.id,
        **extra,
    )


def cut_at_sentence(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a sentence end when one is near."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    ends = [match.end() for match in SENTENCE_END.finditer(head)]
    cut = head[: ends[-1]].rstrip() if ends else ""
    if len(cut) > limit // 2:
        return cut
    space = head.rfind(" ")
    return (head[:space] if space >= limit // 2 else head).rstrip()
