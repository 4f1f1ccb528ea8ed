"""The write side of a load: batched, idempotent inserts with SQLAlchemy core.

Each batch (documents, interactions, quarantined rows and the version's counters) is one
transaction, so a crash or ``kill -9`` leaves whole batches and a version still marked
``loading``; re-running the same load resumes that version and the content-hash ids make
already-written rows no-ops (``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from infinstruct.connectors.records import DocumentRecord, InteractionRecord, Quarantined
from infinstruct.connectors.textnorm import document_id, fingerprint
from infinstruct.core.tables import CorpusVersion, Document, Interaction, Quarantine
from infinstruct.core.tables._columns import utcnow
from infinstruct.core.text import detect_lang, scrub_pii

log = logging.getLogger(__name__)

DOCUMENT: Table = Document.__table__  # type: ignore[attr-defined]  # SQLModel sets it at class creation
INTERACTION: Table = Interaction.__table__  # type: ignore[attr-defined]
QUARANTINE: Table = Quarantine.__table__  # type: ignore[attr-defined]
VERSION: Table = CorpusVersion.__table__  # type: ignore[attr-defined]
#: Quarantined raw text is kept for diagnosis, not in full when it is huge.
MAX_RAW_CHARS = 10_000


@dataclass
class LoadState:
    """Running counts of one load, written to the version row with every batch."""

    read: int = 0
    #: Records yielded (a twcs thread is one record of many rows read).
    records: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    users: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    pairs: int = 0


class BatchWriter:
    """Collects records and writes them ``batch_size`` at a time."""

    def __init__(
        self,
        engine: Engine,
        *,
        corpus_name: str,
        corpus_id: int,
        version_id: int,
        batch_size: int,
        scrub: bool,
        keep_originals: bool,
        state: LoadState,
    ) -> None:
        self.engine = engine
        self.corpus_name, self.corpus_id, self.version_id = corpus_name, corpus_id, version_id
        self.batch_size, self.scrub, self.keep_originals = batch_size, scrub, keep_originals
        self.state = state
        self._docs: list[dict[str, Any]] = []
        self._acts: list[dict[str, Any]] = []
        self._bad: list[dict[str, Any]] = []
        self._fingerprints: dict[str, str] = {}
        self._act_slots: dict[tuple[str, str, str, datetime | None], list[str]] = {}
        self._seed_fingerprints()

    def _seed_fingerprints(self) -> None:
        """Near-duplicates are judged against what the corpus already holds."""
        query = select(DOCUMENT.c.id, DOCUMENT.c.title, DOCUMENT.c.text).where(
            DOCUMENT.c.corpus_id == self.corpus_id, DOCUMENT.c.stale.is_(False), DOCUMENT.c.kind != "item"
        )
        with self.engine.connect() as conn:
            for doc_id, title, text in conn.execute(query):
                key = fingerprint(f"{title}\n{text}")
                if key:
                    self._fingerprints.setdefault(key, doc_id)

    # -- adding -----------------------------------------------------------------------
    def add_document(self, record: DocumentRecord) -> None:
        row = document_row(
            record,
            corpus_name=self.corpus_name,
            scrub=self.scrub,
            keep_originals=self.keep_originals,
        )
        self._docs.append({**row, "corpus_id": self.corpus_id, "version_id": self.version_id})
        meta = row["meta"]
        self.state.read += record.source_rows
        self.state.records += 1
        self.state.pairs += int(meta.get("pairs", 0) or 0)
        self._maybe_flush()

    def add_interaction(self, record: InteractionRecord) -> None:
        ts = _aware(record.ts)
        slot = (record.user_id, record.item_id, record.kind, ts)
        content = f"{record.value}\x1f{record.text}\x1f{sorted(record.meta.items()) if record.meta else ''}"
        # The table's key is (user, item, kind, ts); several *different* interactions in the
        # same second (two tags at once) get ts + n µs in file order so none is lost, while an
        # exact repeat keeps the first slot and counts as a duplicate.
        seen = self._act_slots.setdefault(slot, [])
        if content not in seen:
            seen.append(content)
        offset = seen.index(content)
        if offset and ts is not None:
            ts = ts + timedelta(microseconds=offset)
        meta = dict(record.meta)
        if offset:
            meta["ts_offset_us"] = offset
        text = scrub_pii(record.text) if self.scrub else record.text
        self._acts.append(
            {
                "corpus_id": self.corpus_id,
                "version_id": self.version_id,
                "user_id": record.user_id,
                "item_id": record.item_id,
                "kind": record.kind,
                "value": record.value,
                "text": text,
                "ts": ts,
                "meta": meta,
                "stale": False,
            }
        )
        self.state.read += record.source_rows
        self.state.records += 1
        self.state.users.add(record.user_id)
        self.state.items.add(record.item_id)
        self._maybe_flush()

    def add_quarantined(self, bad: Quarantined) -> None:
        self._bad.append(
            {
                "corpus_id": self.corpus_id,
                "version_id": self.version_id,
                "file": bad.file[:2000],
                "line": bad.line,
                "offset": bad.offset,
                "raw": bad.raw[:MAX_RAW_CHARS],
                "reason": bad.reason[:500],
                "created_at": utcnow(),
            }
        )
        self.state.read += 1
        self.state.records += 1
        self.state.quarantined += 1
        self.state.reasons[reason_key(bad.reason)] += 1
        self._maybe_flush()

    def pending(self) -> int:
        return len(self._docs) + len(self._acts) + len(self._bad)

    def _maybe_flush(self) -> None:
        if self.pending() >= self.batch_size:
            self.flush()

    # -- writing ----------------------------------------------------------------------
    def flush(self) -> None:
        if not self.pending():
            return
        with self.engine.begin() as conn:
            if self._docs:
                self._write_documents(conn)
            if self._acts:
                self._write_interactions(conn)
            if self._bad:
                conn.execute(QUARANTINE.insert(), self._bad)
            conn.execute(
                update(VERSION)
                .where(VERSION.c.id == self.version_id)
                .values(
                    read=self.state.read,
                    duplicates=self.state.duplicates,
                    quarantined=self.state.quarantined,
                )
            )
        self._docs, self._acts, self._bad = [], [], []

    def _write_documents(self, conn: Any) -> None:
        unique: dict[str, dict[str, Any]] = {}
        for row in self._docs:
            if row["id"] in unique:
                self.state.duplicates += 1
            else:
                unique[row["id"]] = row
        existing = dict(
            conn.execute(select(DOCUMENT.c.id, DOCUMENT.c.stale).where(DOCUMENT.c.id.in_(list(unique)))).all()
        )
        revive = [i for i, stale in existing.items() if stale]
        if revive:  # content of a rolled-back version loaded again: it belongs to this one now
            conn.execute(
                update(DOCUMENT)
                .where(DOCUMENT.c.id.in_(revive))
                .values(stale=False, version_id=self.version_id)
            )
        self.state.duplicates += len(existing) - len(revive)
        fresh = []
        for doc_id, row in unique.items():
            key = row.pop("_fp")
            if doc_id in existing:
                continue
            if key:
                first = self._fingerprints.setdefault(key, doc_id)
                if first != doc_id:
                    row["near_dup_of"] = first
                    self.state.near_duplicates += 1
            self.state.kinds[row["kind"]] += 1
            fresh.append(row)
        if fresh:
            _execute_many(conn, _insert_ignore(conn, DOCUMENT, ["id"]), fresh)

    def _write_interactions(self, conn: Any) -> None:
        keys = ["corpus_id", "user_id", "item_id", "kind", "ts"]
        before = _count(conn, INTERACTION, self.corpus_id)
        _execute_many(conn, _insert_ignore(conn, INTERACTION, keys), self._acts)
        written = _count(conn, INTERACTION, self.corpus_id) - before
        self.state.duplicates += len(self._acts) - written


def reason_key(reason: str) -> str:
    """Quarantine reasons are counted by their head (the part before any ``:`` detail)."""
    return reason.split(":")[0][:120]


def document_row(
    record: DocumentRecord, *, corpus_name: str, scrub: bool, keep_originals: bool
) -> dict[str, Any]:
    """The ``document`` row a record becomes (id, scrubbed text, language …), without the
    corpus and version ids; ``--dry-run`` shows exactly this."""
    identity = record.identity or f"{record.title}\n{record.text}"
    title, text, meta = record.title, record.text, dict(record.meta)
    original = None
    if scrub:
        title, text = scrub_pii(title), scrub_pii(text)
        for key in ("turns", "notes"):  # a helpdesk's internal notes and author ids leak too
            if key in meta:
                meta[key] = [_scrub_message(m) for m in meta[key]]
        if keep_originals and text != record.text:
            original = record.text
    return {
        "id": document_id(corpus_name, record.kind, identity),
        "kind": record.kind,
        "external_id": record.external_id,
        "title": title,
        "text": text,
        "original_text": original,
        "lang": detect_lang(f"{record.title} {record.text}") or "en",
        "label": record.label,
        "score": record.score,
        "group_key": record.group_key,
        "near_dup_of": None,
        "published_at": _aware(record.published_at),
        "meta": meta,
        "stale": False,
        "created_at": utcnow(),
        "_fp": "" if record.kind == "item" else fingerprint(f"{record.title}\n{record.text}"),
    }


def _scrub_message(message: dict[str, Any]) -> dict[str, Any]:
    scrubbed = {**message, "text": scrub_pii(str(message.get("text", "")))}
    if isinstance(message.get("author"), str):
        scrubbed["author"] = scrub_pii(message["author"])
    return scrubbed


def _aware(stamp: datetime | None) -> datetime | None:
    """The store keeps aware UTC datetimes; sources give naive UTC or aware local times."""
    if stamp is None:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _count(conn: Any, table: Table, corpus_id: int) -> int:
    return int(
        conn.execute(select(func.count()).select_from(table).where(table.c.corpus_id == corpus_id)).scalar()
    )


def _execute_many(conn: Any, statement: Any, rows: list[dict[str, Any]]) -> None:
    """executemany of a compiled statement with rows already in driver form.

    SQLAlchemy's per-value bind processing (JSON, the UTC datetime type) cost more than
    SQLite's own insert (profiled: ~60% of a MovieLens load); doing the same conversions
    once here, and handing the driver plain tuples, doubles the load rate.
    """
    compiled = statement.compile(dialect=conn.dialect)
    sqlite_style = conn.dialect.name == "sqlite"
    keys = list(compiled.positiontup) if compiled.positional else list(compiled.binds)
    driver_rows = []
    for row in rows:
        values = [_driver_value(row.get(k), sqlite_style) for k in keys]
        driver_rows.append(tuple(values) if compiled.positional else dict(zip(keys, values, strict=True)))
    conn.exec_driver_sql(str(compiled), driver_rows)


def _driver_value(value: Any, sqlite_style: bool) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        # SQLAlchemy's SQLite DATETIME storage format (naive UTC text), so reads agree.
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite_style else value
    return value


def _insert_ignore(conn: Any, table: Table, keys: list[str]) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the connection's dialect."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    raise NotImplementedError(f"bulk insert for the {dialect} dialect; use SQLite or PostgreSQL")


def finalise_counts(engine: Engine, version_id: int) -> dict[str, int]:
    """What this version holds in the store (right even after a resumed load)."""
    with engine.connect() as conn:
        docs: dict[str, int] = dict(
            conn.execute(
                select(DOCUMENT.c.kind, func.count())
                .where(DOCUMENT.c.version_id == version_id)
                .group_by(DOCUMENT.c.kind)
            ).all()
        )
        acts: dict[str, int] = dict(
            conn.execute(
                select(INTERACTION.c.kind, func.count())
                .where(INTERACTION.c.version_id == version_id)
                .group_by(INTERACTION.c.kind)
            ).all()
        )
    return {**{k: int(v) for k, v in docs.items()}, **{f"interaction:{k}": int(v) for k, v in acts.items()}}
