"""``infinstruct ingest PATH --dry-run``: what a load would do, without loading anything.

The same plan, connectors, length check, document rows and ids as the real load
(``ingest.plan``, ``store.document_row``), run without a writer: the store is only read
(does the corpus exist, which ids it already holds), never written, and a missing SQLite
file is not created.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, select

from infinstruct.connectors import registry
from infinstruct.connectors.ingest import field_too_long, plan, resolve_source
from infinstruct.connectors.naming import default_name, incompatible
from infinstruct.connectors.records import Connector, DocumentRecord, InteractionRecord, Quarantined
from infinstruct.connectors.registry import Options
from infinstruct.connectors.safeio import Limits, TruncatedInput
from infinstruct.connectors.store import DOCUMENT, _aware, document_row, reason_key
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus

#: Records shown "as they would be stored".
SAMPLE = 5
#: Long texts in the sample are cut here (the counts are over everything).
SAMPLE_CHARS = 2000


def preview(
    settings: Settings,
    source: str | Path,
    *,
    connector: str | None = None,
    corpus: str | None = None,
    domain: str | None = None,
    columns: dict[str, str] | None = None,
    agent_roles: list[str] | None = None,
    score_thresholds: tuple[float, float] | None = None,
    scrub_pii: bool | None = None,
) -> dict[str, Any]:
    """The ``ingest --dry-run --json`` report (see docs/connectors.md for its keys)."""
    started = time.monotonic()
    options = Options(columns, agent_roles, score_thresholds, Limits.of(settings.ingest))
    uri, path = resolve_source(settings, source)
    the_plan = plan(path, connector=connector, options=options)
    name = corpus or default_name(str(source), path, the_plan)
    existing = _existing_corpus(settings, name)
    scrub = existing.scrub_pii if existing else settings.ingest.scrub_pii if scrub_pii is None else scrub_pii
    units = [
        _unit(unit_path, unit_connector, path, options, connector)
        for unit_path, unit_connector in the_plan.units
    ]
    counts = _Counts(settings, name, existing is not None)
    for unit_path, unit_connector in the_plan.units:
        counts.read_unit(
            unit_path, unit_connector, scrub=scrub, keep_originals=settings.ingest.keep_originals
        )
    return {
        "dry_run": True,
        "source": uri,
        "corpus": name,
        "corpus_exists": existing is not None,
        "refused": incompatible(existing, the_plan, domain) if existing else None,
        "connector": the_plan.connector_name,
        "confidence": min(u["confidence"] for u in units),
        "domain": domain or (existing.domain if existing else the_plan.units[0][1].domain),
        "mapping": units[0]["mapping"] if len(units) == 1 else {},
        "units": units,
        "candidates": _candidates(path, options) if connector is None else [],
        "skipped": the_plan.skipped,
        "records": counts.sample,
        "quarantine_sample": counts.bad_sample,
        "read": counts.read,
        "would_load": counts.would_load,
        "quarantined": sum(counts.reasons.values()),
        "quarantine_reasons": dict(counts.reasons),
        "duplicates": counts.duplicates,
        "kinds": dict(counts.kinds),
        "seconds": round(time.monotonic() - started, 2),
    }


def _unit(
    path: Path, connector: Connector, root: Path, options: Options, forced: str | None
) -> dict[str, Any]:
    mapping = getattr(connector, "mapping", None)
    return {
        "file": path.name if path != root else root.name,
        "connector": connector.name,
        "confidence": round(float(connector.detect(path)), 2),
        "forced": forced is not None,
        "mapping": mapping(path) if mapping and path.is_file() else {},
    }


def _candidates(path: Path, options: Options) -> list[dict[str, Any]]:
    ranked = registry.detect(path, options.connectors())
    return [
        {"connector": d.connector.name, "confidence": round(d.confidence, 2)}
        for d in ranked[:5]
        if d.confidence > 0
    ]


def _existing_corpus(settings: Settings, name: str) -> Corpus | None:
    """The corpus row, read only; None when there is no store yet (and none is created)."""
    if not _store_exists(settings):
        return None
    from infinstruct.core.db import get_engine

    try:
        with Session(get_engine(settings), expire_on_commit=False) as session:
            return session.exec(select(Corpus).where(Corpus.name == name)).first()
    except SQLAlchemyError:  # a store not migrated yet holds no corpus
        return None


def _store_exists(settings: Settings) -> bool:
    url = settings.database_url
    if not url.startswith("sqlite"):
        return True
    target = url.split("///", 1)[-1]
    return target == ":memory:" or Path(target).exists()


class _Counts:
    """What the writer would count, without writing: loads, duplicates, quarantine."""

    def __init__(self, settings: Settings, corpus: str, corpus_exists: bool) -> None:
        self.settings, self.corpus, self.corpus_exists = settings, corpus, corpus_exists
        self.read = self.would_load = self.duplicates = 0
        self.reasons: Counter[str] = Counter()
        self.kinds: Counter[str] = Counter()
        self.sample: list[dict[str, Any]] = []
        self.bad_sample: list[dict[str, Any]] = []
        self._ids: set[str] = set()
        self._pending: list[str] = []
        self._acts: set[tuple[Any, ...]] = set()

    def read_unit(self, path: Path, connector: Connector, *, scrub: bool, keep_originals: bool) -> None:
        max_chars = self.settings.ingest.max_field_chars
        try:
            for record in connector.read(path):
                if not isinstance(record, Quarantined) and (too_long := field_too_long(record, max_chars)):
                    record = Quarantined(str(path), too_long, line=record.line)
                if isinstance(record, Quarantined):
                    self._quarantine(record)
                elif isinstance(record, DocumentRecord):
                    self._document(record, scrub=scrub, keep_originals=keep_originals)
                else:
                    self._interaction(record)
        except TruncatedInput as exc:
            self._quarantine(Quarantined(str(path), str(exc)))
        self._settle()

    def _quarantine(self, bad: Quarantined) -> None:
        self.read += 1
        self.reasons[reason_key(bad.reason)] += 1
        if len(self.bad_sample) < SAMPLE:
            self.bad_sample.append(
                {"file": bad.file, "line": bad.line, "reason": bad.reason, "raw": bad.raw[:300]}
            )

    def _document(self, record: DocumentRecord, *, scrub: bool, keep_originals: bool) -> None:
        self.read += record.source_rows
        row = document_row(record, corpus_name=self.corpus, scrub=scrub, keep_originals=keep_originals)
        if row["id"] in self._ids:
            self.duplicates += 1
            return
        self._ids.add(row["id"])
        self._pending.append(row["id"])
        self.kinds[row["kind"]] += 1
        self.would_load += 1
        if len(self.sample) < SAMPLE:
            self.sample.append(_shown(row))
        if len(self._pending) >= 500:
            self._settle()

    def _interaction(self, record: InteractionRecord) -> None:
        self.read += record.source_rows
        key = (record.user_id, record.item_id, record.kind, _aware(record.ts), record.value, record.text)
        if key in self._acts:
            self.duplicates += 1
            return
        self._acts.add(key)
        self.kinds[f"interaction:{record.kind}"] += 1
        self.would_load += 1
        if len(self.sample) < SAMPLE:
            self.sample.append(
                {
                    "kind": f"interaction:{record.kind}",
                    "user_id": record.user_id,
                    "item_id": record.item_id,
                    "value": record.value,
                    "text": record.text[:SAMPLE_CHARS],
                    "ts": key[3].isoformat() if key[3] else None,
                }
            )

    def _settle(self) -> None:
        """Documents the store already holds would be duplicates, not loads."""
        pending, self._pending = self._pending, []
        if not pending or not self.corpus_exists:
            return
        from infinstruct.core.db import get_engine

        with get_engine(self.settings).connect() as conn:
            stored = conn.execute(
                sa_select(DOCUMENT.c.id, DOCUMENT.c.kind).where(
                    DOCUMENT.c.id.in_(pending), DOCUMENT.c.stale.is_(False)
                )
            ).all()
        for _doc_id, kind in stored:
            self.duplicates += 1
            self.would_load -= 1
            self.kinds[kind] -= 1


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in row.items() if not k.startswith("_") and k not in ("created_at", "stale")}
    for key in ("text", "title", "original_text"):
        value = shown.get(key)
        if isinstance(value, str) and len(value) > SAMPLE_CHARS:
            shown[key] = value[:SAMPLE_CHARS] + "…"
    if shown.get("published_at") is not None:
        shown["published_at"] = shown["published_at"].isoformat()
    return shown
