"""Reading catalogues from the store: item documents and interactions of one corpus.

Connectors write items as ``Document(kind='item')`` and choices as ``Interaction`` rows
(see docs/data-model.md). Some connectors also fold interaction-derived text into the item
description (MovieLens appends "Tags: ...", Amazon items are "Reviews: ..."); that part is
cut here because the recommender adds tags and reviews itself from the interactions, where
evaluation can leave out the held-out pairs' text.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC
from typing import Any

from sqlalchemy import select as sql_select
from sqlmodel import Session, col, func, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, CorpusVersion, Document, Interaction
from infinstruct.recommend.dataset import Item, ItemData, RawEvent, build_item_data

#: Description sections that connectors derive from interactions (cut, then rebuilt per fold).
_DERIVED = re.compile(r"(?:^|(?<=[.|])\s*)(?:Tags|Reviews):")


def item_corpora(settings: Settings) -> list[tuple[str, int]]:
    """Every corpus holding live item documents, with its item count, largest first."""
    with session_scope(settings) as session:
        rows = session.exec(
            select(Corpus.name, func.count(col(Document.id)))
            .join(Document, col(Document.corpus_id) == col(Corpus.id))
            .where(Document.kind == "item", col(Document.stale).is_(False))
            .group_by(col(Corpus.name))
        ).all()
    return sorted(((str(n), int(c)) for n, c in rows), key=lambda r: (-r[1], r[0]))


def choose_corpus(settings: Settings, corpus: str | None = None, *, user: str | None = None) -> str:
    """The corpus to recommend from: the one named, else the user's, else the setting, else the largest."""
    available = item_corpora(settings)
    names = [name for name, _ in available]
    if not available:
        raise NotFoundError(
            "no item catalogue is loaded; load one first, e.g. "
            "`infinstruct ingest ../shared/data/items/movielens_latest_small`"
        )
    wanted = corpus or settings.recommend.corpus or None
    if corpus is None and user is not None:
        with session_scope(settings) as session:
            owned = session.exec(
                select(Corpus.name)
                .join(Interaction, col(Interaction.corpus_id) == col(Corpus.id))
                .where(Interaction.user_id == user, col(Interaction.stale).is_(False))
                .distinct()
            ).all()
        owned_items = [n for n in names if n in set(owned)]
        if owned_items:
            wanted = owned_items[0]
    if wanted is None:
        return names[0]
    if wanted not in names:
        raise NotFoundError(f"corpus {wanted!r} holds no items; item corpora: {', '.join(names)}")
    return wanted


def fingerprint(settings: Settings, corpus: str) -> str:
    """Changes whenever a version of ``corpus`` is added, completed or rolled back."""
    with session_scope(settings) as session:
        corpus_id = _corpus_id(session, corpus)
        versions = session.exec(
            select(CorpusVersion.id, CorpusVersion.status)
            .where(CorpusVersion.corpus_id == corpus_id)
            .order_by(col(CorpusVersion.id))
        ).all()
    return hashlib.sha256(repr((corpus, list(versions))).encode()).hexdigest()[:16]


def load_item_data(settings: Settings, corpus: str) -> ItemData:
    """The live items and interactions of ``corpus`` as an ``ItemData``."""
    with session_scope(settings) as session:
        corpus_id = _corpus_id(session, corpus)
        docs = session.exec(
            select(Document.external_id, Document.title, Document.text, Document.meta)
            .where(Document.corpus_id == corpus_id, Document.kind == "item", col(Document.stale).is_(False))
            .order_by(col(Document.version_id), col(Document.created_at))
        ).all()
        # Six columns: SQLAlchemy's select (SQLModel's typed one stops at four).
        rows = session.execute(
            sql_select(
                col(Interaction.user_id),
                col(Interaction.item_id),
                col(Interaction.kind),
                col(Interaction.value),
                col(Interaction.ts),
                col(Interaction.text),
            )
            .where(col(Interaction.corpus_id) == corpus_id, col(Interaction.stale).is_(False))
            .order_by(col(Interaction.id))
        ).all()
    # A later version's document for the same item id replaces the earlier one.
    latest: dict[str, Item] = {}
    for external_id, title, text, meta in docs:
        if external_id:
            latest[external_id] = _item(str(external_id), title or "", text or "", dict(meta or {}))
    events = (
        RawEvent(
            user_id=user,
            item_id=item,
            kind=kind,
            value=value,
            ts=ts.replace(tzinfo=UTC).timestamp() if ts is not None else 0.0,
            text=text or "",
        )
        for user, item, kind, value, ts, text in rows
    )
    return build_item_data(corpus, list(latest.values()), events)


def _item(external_id: str, title: str, text: str, meta: dict[str, Any]) -> Item:
    match = _DERIVED.search(text)
    own = (text[: match.start()] if match else text).strip().rstrip(".")
    keywords = tuple(str(g) for g in meta.get("genres") or [] if str(g).strip())
    return Item(item_id=external_id, title=title.strip() or external_id, text=own, keywords=keywords)


def _corpus_id(session: Session, corpus: str) -> int:
    found = session.exec(select(Corpus.id).where(Corpus.name == corpus)).first()
    if found is None:
        raise NotFoundError(f"no corpus named {corpus!r}; list corpora with `infinstruct corpora list`")
    return int(found)
