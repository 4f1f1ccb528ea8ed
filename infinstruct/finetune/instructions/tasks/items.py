"""Items: describe an item from its metadata; pick the next item a user will like."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from infinstruct.core.text import detect_lang, normalise_sentence, tidy
from infinstruct.finetune.instructions.tasks.base import (
    Candidate,
    Context,
    Doc,
    cut_at_sentence,
    doc_candidate,
    fill,
    instruction_lang,
    join_list,
    single_turn,
)
from infinstruct.finetune.instructions.templates import ITEM_KINDS
from infinstruct.finetune.instructions.textnorm import stable_hash

#: MovieLens genre names in Chinese, so a Chinese description reads as Chinese.
GENRES_ZH: dict[str, str] = {
    "action": "动作",
    "adventure": "冒险",
    "animation": "动画",
    "children": "儿童",
    "comedy": "喜剧",
    "crime": "犯罪",
    "documentary": "纪录",
    "drama": "剧情",
    "fantasy": "奇幻",
    "film-noir": "黑色",
    "horror": "恐怖",
    "imax": "IMAX",
    "musical": "歌舞",
    "mystery": "悬疑",
    "romance": "爱情",
    "sci-fi": "科幻",
    "thriller": "惊悚",
    "war": "战争",
    "western": "西部",
}
FIELD_ZH: dict[str, str] = {
    "title": "名称",
    "genres": "类型",
    "year": "年份",
    "tags": "标签",
    "brand": "品牌",
    "style": "款式",
    "category": "类别",
    "price": "价格",
    "rating": "评分",
}
#: Metadata that identifies rather than describes an item.
_SKIP_FIELDS = ("id", "url", "link", "image", "turns", "source", "version")
#: A rating at least this high (reviews: stars) counts as "liked".
LIKED_AT = 4.0


def item_kind(ctx: Context, doc: Doc | None = None) -> str:
    if doc is not None and isinstance(doc.meta.get("item_kind"), str):
        return str(doc.meta["item_kind"])
    name = ctx.corpus.casefold()
    if "movie" in name or "film" in name:
        return "movie"
    if "amazon" in name or "product" in name or "fashion" in name:
        return "product"
    return "item"


def _kind_word(kind: str, lang: str) -> str:
    return ITEM_KINDS.get(kind, {}).get(lang, kind)


def _fields(doc: Doc) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key in sorted(doc.meta):
        if any(key.casefold().endswith(skip) for skip in _SKIP_FIELDS):
            continue
        value: Any = doc.meta[key]
        if isinstance(value, list) and value and all(isinstance(v, str | int | float) for v in value):
            if len(value) <= 20:
                out.append((key, ", ".join(str(v) for v in value)))
        elif isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip():
            out.append((key, str(value).strip()))
    return out


def _genres(doc: Doc, lang: str) -> list[str]:
    raw: Any = doc.meta.get("genres") or []
    genres = [
        g for g in (raw if isinstance(raw, list) else str(raw).split("|")) if g and "no genres" not in str(g)
    ]
    if lang == "zh":
        return [GENRES_ZH.get(str(g).casefold(), str(g)) for g in genres]
    return [str(g) for g in genres]


def describe(doc: Doc, kind: str, lang: str) -> str:
    """A fluent description built from the item's fields (and its text when it adds more)."""
    title = tidy(doc.title, doc.lang)
    year = str(doc.meta.get("year") or "")
    genres = _genres(doc, lang)
    tags: Any = doc.meta.get("tags") or []
    word = _kind_word(kind, lang)
    if lang == "zh":
        sentence = f"《{title}》是一部{year + '年的' if year else ''}{join_list(genres, lang)}{word}。"
        if tags and isinstance(tags, list):
            sentence += f"用户给它的标签有：{join_list([str(t) for t in tags[:8]], lang)}。"
        return sentence
    article = "an" if (year or (genres[0] if genres else word))[:1].lower() in "aeiou8" else "a"
    sentence = f"{title} is {article} {year + ' ' if year else ''}{' / '.join(genres) + ' ' if genres else ''}{word}."
    if tags and isinstance(tags, list):
        sentence += f" Users tag it: {', '.join(str(t) for t in tags[:8])}."
    # Amazon-style items carry review text: add what it says beyond the fields themselves.
    text = tidy(doc.text, doc.lang)
    known = set(normalise_sentence(" ".join([title, *(v for _, v in _fields(doc))])).split())
    extra = [w for w in normalise_sentence(text).split() if w not in known]
    if len(extra) >= 8 and doc.lang == "en":
        sentence += " " + cut_at_sentence(text, 500)
    return sentence


def description_examples(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    title = tidy(doc.title, doc.lang)
    if not title:
        return
    kind = item_kind(ctx, doc)
    lang = instruction_lang(doc.lang, f"desc:{doc.id}", ctx.options.cross_lingual_share)
    fields = [("title", title), *((k, v) for k, v in _fields(doc) if k not in ("title", "tags", "item_kind"))]
    names = FIELD_ZH if lang == "zh" else {}
    metadata = "\n".join(f"{names.get(k, k)}: {v}" for k, v in fields)
    # The source content (duplicates, language check) is the fields themselves, whatever
    # language their names are shown in.
    content = "\n".join(f"{k}: {v}" for k, v in fields)
    prompt = fill(
        "item_description", lang, "prompt", doc.id, metadata=metadata, item_kind=_kind_word(kind, lang)
    )
    answer = describe(doc, kind, lang)
    yield doc_candidate(
        "item_description",
        doc,
        ctx,
        lang=lang,
        prompt=prompt,
        answer=answer,
        group_key=f"item:{ctx.corpus}:{doc.external_id or doc.id}",
        content=content,
    )


@dataclass(frozen=True)
class Event:
    user_id: str
    item_id: str
    kind: str
    value: float | None
    ts: datetime | None


def _liked(event: Event) -> bool:
    return event.kind in ("rating", "review") and event.value is not None and event.value >= LIKED_AT


def next_item_examples(
    events: Sequence[Event], titles: dict[str, str], ctx: Context, *, users: set[str] | None = None
) -> Iterator[Candidate]:
    """For each user, up to ``examples_per_user`` picks among ``candidate_items`` candidates.

    History = the liked items before the target, oldest first; distractors are items the
    user never touched, drawn with a seeded generator so a rebuild draws the same ones.
    """
    opts = ctx.options
    by_user: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.item_id in titles and (users is None or event.user_id in users):
            by_user[event.user_id].append(event)
    catalogue = sorted(titles)
    kind = item_kind(ctx)
    for user in sorted(by_user):
        history = sorted(
            by_user[user], key=lambda e: (e.ts.timestamp() if e.ts else float("-inf"), e.item_id)
        )
        touched = {e.item_id for e in history}
        liked = list(dict.fromkeys(e.item_id for e in history if _liked(e)))
        if len(liked) < 2 or len(catalogue) - len(touched) < opts.candidate_items - 1:
            continue
        for n in range(opts.examples_per_user):
            target_at = len(liked) - 1 - n
            if target_at < 1:
                break
            target, past = liked[target_at], liked[max(0, target_at - opts.history_items) : target_at]
            rng = random.Random(stable_hash("next", ctx.corpus, user, target))
            distractors: list[str] = []
            while len(distractors) < opts.candidate_items - 1:
                item = catalogue[rng.randrange(len(catalogue))]
                if item not in touched and item not in distractors and titles[item] != titles[target]:
                    distractors.append(item)
            offered = sorted([target, *distractors], key=lambda i: stable_hash("cand", user, target, i))
            key = f"{ctx.corpus}:{user}:{target}"
            content = "\n".join(titles[i] for i in [*past, *offered])
            content_lang = detect_lang(content) or "en"
            lang = instruction_lang(content_lang, f"next:{key}", opts.cross_lingual_share)
            prompt = fill(
                "next_item",
                lang,
                "prompt",
                key,
                item_kind=_kind_word(kind, lang),
                history="\n".join(f"- {titles[i]}" for i in past),
                candidates="\n".join(f"- {titles[i]}" for i in offered),
            )
            yield Candidate(
                task="next_item",
                domain=ctx.domain,
                lang=lang,
                content_lang=content_lang,
                system="",
                messages=single_turn(prompt, titles[target]),
                group_key=f"user:{ctx.corpus}:{user}",
                corpus=ctx.corpus,
                content=content,
                answer=titles[target],
                near_dup_check=False,
                meta={"user_id": user, "target": target, "candidates": offered},
            )
