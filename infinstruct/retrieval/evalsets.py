"""Labelled retrieval sets built from the store, with a split that keeps queries out.

- ``twcs``: a customer's first message in a thread → the agent's reply to it. The pool is
  every agent message of every thread (customer messages are never in it).
- ``banking77``: a query → the other queries of the same intent. The pool is the ``index``
  part of the split (by ``group_key``, so near-identical sentences stay on one side);
  queries come from the other parts.
- ``ecd_zh``: a Chinese dialogue context → its true reply; the pool holds every true reply
  and every distractor reply of the corpus.

Queries are split by a hash of their group key into ``tune`` (fits the hybrid weight) and
``val`` (the reported numbers), so the reported mix was never chosen on the reported queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, Document

SET_NAMES: tuple[str, ...] = ("twcs", "banking77", "ecd_zh")
#: Which connector wrote each set's corpora, and the language of the set.
_CONNECTORS = {"twcs": "twcs", "banking77": "banking77", "ecd_zh": "ecd"}
LANGS = {"twcs": "en", "banking77": "en", "ecd_zh": "zh"}
_MIN_QUERY_CHARS = 3
#: A reply answers the last few turns; the whole dialogue dilutes the query.
_ECD_CONTEXT_TURNS = 3


@dataclass
class EvalSet:
    name: str
    lang: str
    pool: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    relevant: list[frozenset[int]] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    #: Pool rows a query may not be scored on (its own context turns, which it contains).
    exclude: list[frozenset[int]] = field(default_factory=list)
    _pool_index: dict[str, int] = field(default_factory=dict, repr=False)

    def pool_id(self, text: str) -> int:
        """The pool row of ``text``, adding it once (identical texts share a row)."""
        row = self._pool_index.get(text)
        if row is None:
            row = self._pool_index[text] = len(self.pool)
            self.pool.append(text)
        return row

    def add_query(self, text: str, relevant: Iterable[int], key: str, exclude: Iterable[int] = ()) -> None:
        self.queries.append(text)
        self.relevant.append(frozenset(relevant))
        self.exclude.append(frozenset(exclude))
        self.split.append("tune" if bucket(key) < 50 else "val")

    def rows(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.split) if s == split]


def bucket(key: str, salt: str = "split") -> int:
    """A stable number in [0, 100) for ``key`` (independent of process and platform)."""
    return int(hashlib.sha1(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % 100


def _documents(settings: Settings, connector: str, limit: int | None) -> list[Document]:
    with session_scope(settings) as session:
        docs = list(
            session.exec(
                select(Document)
                .join(Corpus, col(Corpus.id) == col(Document.corpus_id))
                .where(col(Corpus.connector) == connector, col(Document.stale).is_(False))
            ).all()
        )
    docs.sort(key=lambda d: hashlib.sha1(f"sample:{d.id}".encode()).hexdigest())
    return docs[:limit] if limit else docs


def _text(value: Any) -> str:
    return str(value or "").strip()


def build_twcs(docs: list[Document]) -> EvalSet:
    out = EvalSet("twcs", "en")
    pairs: list[tuple[str, str, str]] = []
    for doc in docs:
        turns = (doc.meta or {}).get("turns") or []
        for turn in turns:
            if turn.get("role") == "agent" and _text(turn.get("text")):
                out.pool_id(_text(turn.get("text")))
        for first, second in zip(turns, turns[1:], strict=False):
            if first.get("role") == "customer" and second.get("role") == "agent":
                query, reply = _text(first.get("text")), _text(second.get("text"))
                if len(query) >= _MIN_QUERY_CHARS and reply:
                    pairs.append((query, reply, doc.group_key or doc.id))
                break
    for query, reply, key in pairs:
        out.add_query(query, [out.pool_id(reply)], key)
    return out


def build_banking(docs: list[Document]) -> EvalSet:
    out = EvalSet("banking77", "en")
    by_label: dict[str, list[int]] = {}
    queries: list[tuple[str, str, str]] = []
    for doc in docs:
        if not doc.label or not _text(doc.text):
            continue
        key = doc.group_key or doc.id
        if bucket(key, "pool") < 60:
            by_label.setdefault(doc.label, []).append(out.pool_id(_text(doc.text)))
        else:
            queries.append((_text(doc.text), doc.label, key))
    for text, label, key in queries:
        if label in by_label and text not in out._pool_index:
            out.add_query(text, by_label[label], key)
    return out


def build_ecd(docs: list[Document]) -> EvalSet:
    """Pool: every agent message of the corpus plus the distractor replies (as for twcs);
    query: the last ``_ECD_CONTEXT_TURNS`` turns before the reply. The query's own earlier
    agent turns are in the pool but excluded from its ranking (the query contains them)."""
    out = EvalSet("ecd_zh", "zh")
    pending: list[tuple[str, str, list[str], str]] = []
    for doc in docs:
        meta = doc.meta or {}
        turns = meta.get("turns") or []
        if len(turns) < 2:
            continue
        context = turns[:-1]
        reply = _text(turns[-1].get("text"))
        query = "\n".join(_text(t.get("text")) for t in context[-_ECD_CONTEXT_TURNS:])
        if not reply or len(query) < _MIN_QUERY_CHARS:
            continue
        own = [_text(t.get("text")) for t in context if t.get("role") == "agent" and _text(t.get("text"))]
        for text in [*own, *(_text(d) for d in meta.get("distractors") or [])]:
            if text:
                out.pool_id(text)
        pending.append((query, reply, own, doc.group_key or doc.id))
    for query, reply, own, key in pending:
        target = out.pool_id(reply)
        out.add_query(query, [target], key, exclude=[out.pool_id(t) for t in own if out.pool_id(t) != target])
    return out


_BUILDERS = {"twcs": build_twcs, "banking77": build_banking, "ecd_zh": build_ecd}


def load_eval_set(settings: Settings, name: str, *, limit: int | None = None) -> EvalSet:
    """The named set from the store's live documents (``limit`` documents at most)."""
    return _BUILDERS[name](_documents(settings, _CONNECTORS[name], limit))
