"""Query the index: dense, BM25 or hybrid, with filters, returning store-backed hits.

``search(settings, query, k)`` is the API the chat, the UI and the LangChain retriever use.
Hits are hydrated from the store, so a chunk whose document was rolled back after the
index was built is dropped even before the next ``index build``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import numpy as np
from sqlalchemy import select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.core.text import is_chinese
from infinstruct.embeddings.embedder import Embedders, load_embedder
from infinstruct.retrieval.chunks import CHUNK, CORPUS, DOCUMENT
from infinstruct.retrieval.fusion import dense_weight, rrf
from infinstruct.retrieval.index_store import IndexCache, load_index

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
SNIPPET_CHARS = 300


@dataclass(frozen=True)
class Hit:
    """One retrieved document (its best chunk), with where it came from."""

    doc_id: str
    corpus: str
    title: str
    snippet: str
    score: float
    chunk_id: int
    kind: str = ""
    domain: str = ""
    lang: str = "en"
    label: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "corpus": self.corpus,
            "title": self.title,
            "snippet": self.snippet,
            "score": round(self.score, 6),
            "chunk_id": self.chunk_id,
            "kind": self.kind,
            "domain": self.domain,
            "lang": self.lang,
            "label": self.label,
            "meta": self.meta,
        }


@dataclass(frozen=True)
class SearchFilters:
    """Restrict a search. ``meta`` matches ``Document.meta`` keys exactly (or membership
    when the stored value is a list); ``since``/``until`` bound ``Document.published_at``."""

    corpus: tuple[str, ...] = ()
    domain: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    lang: str | None = None
    brand: str | None = None
    ticker: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_any(
        cls, value: SearchFilters | dict[str, Any] | None, *, corpus: str | list[str] | None = None
    ) -> SearchFilters:
        data: dict[str, Any] = {}
        if isinstance(value, SearchFilters):
            data = {f: getattr(value, f) for f in cls.__dataclass_fields__}
        elif value:
            known = set(cls.__dataclass_fields__)
            data = {k: v for k, v in value.items() if k in known}
            extra = {k: v for k, v in value.items() if k not in known}
            data["meta"] = {**data.get("meta", {}), **extra}
        if corpus:
            data["corpus"] = (corpus,) if isinstance(corpus, str) else tuple(corpus)
        for key in ("corpus", "domain", "kind"):
            if isinstance(data.get(key), str):
                data[key] = (data[key],)
            elif data.get(key) is not None:
                data[key] = tuple(data[key])
        for key in ("since", "until"):
            data[key] = _as_datetime(data.get(key), key)
        return cls(**data)

    @property
    def empty(self) -> bool:
        return not (
            self.corpus
            or self.domain
            or self.kind
            or self.lang
            or self.brand
            or self.ticker
            or self.since
            or self.until
            or self.meta
        )


def _as_datetime(value: Any, name: str) -> datetime | None:
    """An aware datetime (the store keeps UTC); a naive value or a bare date means UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    else:
        try:
            stamp = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise InputError(f"filter {name} must be an ISO date like 2024-01-31 (got {value!r})") from exc
    return stamp if stamp.utcoffset() is not None else stamp.replace(tzinfo=UTC)


def allowed_chunk_ids(settings: Settings, filters: SearchFilters) -> np.ndarray:
    """Ids of the live chunks that pass ``filters`` (SQL for columns, Python for meta)."""
    doc = DOCUMENT.c
    query = (
        select(CHUNK.c.id, doc.meta, doc.published_at)
        .join(DOCUMENT, doc.id == CHUNK.c.document_id)
        .join(CORPUS, CORPUS.c.id == doc.corpus_id)
        .where(CHUNK.c.stale.is_(False), doc.stale.is_(False))
    )
    if filters.corpus:
        query = query.where(CORPUS.c.name.in_(filters.corpus))
    if filters.domain:
        query = query.where(CORPUS.c.domain.in_(filters.domain))
    if filters.kind:
        query = query.where(doc.kind.in_(filters.kind))
    if filters.lang:
        query = query.where(doc.lang == filters.lang)
    if filters.since:
        query = query.where(doc.published_at >= filters.since)
    if filters.until:
        query = query.where(doc.published_at <= filters.until)
    wanted_meta = dict(filters.meta)
    if filters.brand:
        wanted_meta["brand"] = filters.brand
    if filters.ticker:
        wanted_meta["tickers"] = filters.ticker
    with session_scope(settings) as session:
        rows = session.execute(query).all()
    ids = [int(i) for i, meta, _ in rows if _meta_matches(meta or {}, wanted_meta)]
    return np.asarray(ids, dtype=np.int64)


def _meta_matches(meta: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        stored = meta.get(key)
        if isinstance(stored, list):
            if not any(_same(s, value) for s in stored):
                return False
        elif not _same(stored, value):
            return False
    return True


def _same(stored: Any, value: Any) -> bool:
    if isinstance(stored, str) and isinstance(value, str):
        return stored.casefold().lstrip("$@") == value.casefold().lstrip("$@")
    return bool(stored == value)


def search(
    settings: Settings,
    query: str,
    k: int | None = None,
    *,
    corpus: str | list[str] | None = None,
    filters: SearchFilters | dict[str, Any] | None = None,
    mode: Mode = "hybrid",
    embedders: Embedders | None = None,
    indexes: IndexCache | None = None,
) -> list[Hit]:
    """The ``k`` best documents for ``query`` (one hit per document, best chunk first).

    A caller that searches more than once passes the ``embedders`` and ``indexes`` it keeps
    (the server's come from ``services.py``); without them the model and index are loaded
    for this one search."""
    if not query.strip():
        raise InputError("the search query is empty; give some text to search for")
    if mode not in MODES:
        raise InputError(f"search mode must be one of {', '.join(MODES)} (got {mode!r})")
    k = k or settings.retrieval.default_k
    if k <= 0:
        raise InputError(f"--k must be > 0 (got {k})")
    flt = SearchFilters.from_any(filters, corpus=corpus)
    index = load_index(settings, cache=indexes, embedders=embedders)
    allowed = None if flt.empty else allowed_chunk_ids(settings, flt)
    if allowed is not None and len(allowed) == 0:
        return []
    # Several chunks may belong to one document and some rows may have gone stale:
    # fetch more than k candidates so k documents remain after both.
    depth = max(4 * k, k + 20)
    dense: list[tuple[int, float]] = []
    lexical: list[tuple[int, float]] = []
    if mode in ("hybrid", "dense"):
        vector = load_embedder(settings, embedders).embed([query])
        scores, ids = index.vectors.search(vector, depth, allowed=allowed)
        dense = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    if mode in ("hybrid", "bm25"):
        lexical = index.lexical.search([query], depth, allowed=allowed)[0]
    if mode == "dense":
        ranked = dense
    elif mode == "bm25":
        ranked = lexical
    else:
        lang = "zh" if is_chinese(query) else "en"
        ranked = rrf(dense, lexical, dense_weight=dense_weight(settings, lang), k=settings.retrieval.rrf_k)
    return _hydrate(settings, ranked, k)


def _hydrate(settings: Settings, ranked: list[tuple[int, float]], k: int) -> list[Hit]:
    if not ranked:
        return []
    ids = [i for i, _ in ranked]
    with session_scope(settings) as session:
        doc = DOCUMENT.c
        rows = session.execute(
            select(
                CHUNK.c.id,
                CHUNK.c.text,
                doc.id,
                doc.title,
                doc.kind,
                doc.lang,
                doc.label,
                doc.meta,
                CORPUS.c.name,
                CORPUS.c.domain,
            )
            .join(DOCUMENT, doc.id == CHUNK.c.document_id)
            .join(CORPUS, CORPUS.c.id == doc.corpus_id)
            .where(CHUNK.c.id.in_(ids), CHUNK.c.stale.is_(False), doc.stale.is_(False))
        ).all()
    by_id = {int(r[0]): r for r in rows}
    hits: list[Hit] = []
    seen: set[str] = set()
    for chunk_id, score in ranked:
        row = by_id.get(chunk_id)
        if row is None:
            continue  # rolled back or re-chunked since the index was built
        _, text, doc_id, title, kind, lang, label, meta, corpus_name, domain = row
        if doc_id in seen:
            continue
        seen.add(doc_id)
        snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
        hits.append(
            Hit(
                doc_id=str(doc_id),
                corpus=str(corpus_name),
                title=str(title or ""),
                snippet=snippet,
                score=score,
                chunk_id=chunk_id,
                kind=str(kind),
                domain=str(domain),
                lang=str(lang),
                label=label,
                meta=dict(meta or {}),
            )
        )
        if len(hits) == k:
            break
    return hits
