"""Load a file, a dataset folder or a URL into the store: ``ingest(settings, source)``.

Plan (which connector reads what) → corpus and version (a changed source is a new version,
an unchanged one is a no-op, an interrupted one is resumed) → stream records through the
batch writer → report. The report is the ``--json`` output of ``infinstruct ingest``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from infinstruct.connectors import registry
from infinstruct.connectors.naming import default_name, incompatible
from infinstruct.connectors.records import Connector, DocumentRecord, InteractionRecord, Quarantined
from infinstruct.connectors.safeio import DEFAULT_LIMITS, Limits, TruncatedInput, check_file_size
from infinstruct.connectors.store import QUARANTINE, BatchWriter, LoadState, finalise_counts
from infinstruct.core.db import get_engine
from infinstruct.core.errors import ConnectorError, InputError, QuarantineError
from infinstruct.core.ingest_report import (
    IngestReport,
    InteractionCounts,
    LoadCounts,
    SkippedFile,
    VersionHead,
)
from infinstruct.core.progress import Progress
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, CorpusVersion, Source
from infinstruct.core.tables._columns import utcnow

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What a load will read: ``(path, connector)`` units and the files it leaves out."""

    root: Path
    units: list[tuple[Path, Connector]]
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def connector_name(self) -> str:
        return "+".join(sorted({c.name for _, c in self.units}))


def plan(
    path: Path,
    *,
    connector: str | None = None,
    columns: dict[str, str] | None = None,
    options: registry.Options | None = None,
) -> Plan:
    """Decide which connector reads ``path`` (or say why none can)."""
    if not path.exists():
        raise InputError(f"{path} does not exist; give a file, a folder or an http(s) URL")
    options = options or registry.Options(columns)
    options.check()
    candidates = options.connectors(connector)
    if path.is_file():
        check_file_size(
            path, limits=options.limits
        )  # before detection, which only peeks and would just not match
        chosen = candidates[0] if connector else registry.best_match(path, candidates)
        if chosen is None:
            raise registry.no_match_error(path, candidates)
        return Plan(path, [(path, chosen)])
    whole = registry.best_match(path, candidates)
    docs = [p for p in sorted(path.iterdir()) if p.is_file() and registry.DOC_FILE.match(p.name)]
    skipped: list[SkippedFile] = [{"file": p.name, "reason": "documentation, not data"} for p in docs]
    if whole is not None:
        used = set(getattr(whole, "companions", lambda _p: [])(path))
        return Plan(
            path,
            [(path, whole)],
            skipped + [{"file": p.name, "reason": f"metadata for {whole.name}"} for p in sorted(used)],
        )
    units: list[tuple[Path, Connector]] = []
    companions: set[Path] = set()
    for file in sorted(
        p for p in path.iterdir() if p.is_file() and p not in docs and not p.name.startswith(".")
    ):
        if file in companions:
            continue
        chosen = registry.best_match(file, candidates)
        if chosen is None:
            skipped.append({"file": file.name, "reason": "no connector recognises it"})
            continue
        units.append((file, chosen))
        companions.update(getattr(chosen, "companions", lambda _p: [])(file))
    units = [(f, c) for f, c in units if f not in companions]
    skipped += [{"file": p.name, "reason": "metadata"} for p in sorted(companions)]
    if not units:
        raise ConnectorError(
            f"no file in {path} is recognised by a connector ({', '.join(s['file'] for s in skipped) or 'empty'}); "
            "pick one with --connector NAME"
        )
    return Plan(path, units, skipped)


def content_hash(the_plan: Plan, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """Hash of every data file the load reads, plus the connectors: a change = a new version."""
    digest = hashlib.sha256(the_plan.connector_name.encode())
    root = the_plan.root
    files = (
        [root]
        if root.is_file()
        else sorted(p for p in root.rglob("*") if p.is_file() and not registry.DOC_FILE.match(p.name))
    )
    for file in files:
        check_file_size(file, limits=limits)
        digest.update(str(file.relative_to(root) if file != root else file.name).encode())
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def ingest(
    settings: Settings,
    source: str | Path,
    *,
    connector: str | None = None,
    corpus: str | None = None,
    domain: str | None = None,
    strict: bool = False,
    show_progress: bool = True,
    columns: dict[str, str] | None = None,
    scrub_pii: bool | None = None,
    agent_roles: list[str] | None = None,
    score_thresholds: tuple[float, float] | None = None,
) -> IngestReport:
    """Load ``source`` (file, folder or http(s) URL) into a corpus; returns the report."""
    started = time.monotonic()
    cfg = settings.ingest
    uri, path = resolve_source(settings, source)
    limits = Limits.of(cfg)
    the_plan = plan(
        path, connector=connector, options=registry.Options(columns, agent_roles, score_thresholds, limits)
    )
    name = corpus or default_name(str(source), path, the_plan)
    engine = get_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        corpus_row, version, status = _open_version(
            session,
            name=name,
            uri=uri,
            path=path,
            digest=content_hash(the_plan, limits=limits),
            plan_=the_plan,
            domain=domain,
            scrub=cfg.scrub_pii if scrub_pii is None else scrub_pii,
        )
    head: VersionHead = {
        "corpus": name,
        "version": version.version,
        "version_id": version.id,
        "domain": corpus_row.domain,
        "connector": the_plan.connector_name,
        "source": uri,
        "skipped": the_plan.skipped,
    }
    if status == "unchanged":
        return {**head, **_unchanged(version), "seconds": round(time.monotonic() - started, 2)}
    state = _load(settings, engine, the_plan, corpus_row, version, strict=strict, show_progress=show_progress)
    assert version.id is not None  # _load wrote into it
    counts = _counts(state, finalise_counts(engine, version.id), resumed=status == "resumed")
    elapsed = time.monotonic() - started
    report: IngestReport = {
        **head,
        **counts,
        **_interaction_counts(state),
        "seconds": round(elapsed, 2),
        "rate": round(state.read / elapsed, 1) if elapsed else 0.0,
    }
    _complete(engine, version.id, report)
    return report


def _load(
    settings: Settings,
    engine: Engine,
    the_plan: Plan,
    corpus_row: Corpus,
    version: CorpusVersion,
    *,
    strict: bool,
    show_progress: bool,
) -> LoadState:
    """Stream every unit of the plan through one batch writer into ``version``.

    A load that stops is left ``loading`` (resumed by the next run of the same content), or
    ``failed`` under ``--strict``."""
    cfg = settings.ingest
    assert corpus_row.id is not None and version.id is not None
    state = LoadState()
    writer = BatchWriter(
        engine,
        corpus_name=corpus_row.name,
        corpus_id=corpus_row.id,
        version_id=version.id,
        batch_size=cfg.batch_size,
        scrub=corpus_row.scrub_pii,
        keep_originals=cfg.keep_originals,
        state=state,
    )
    try:
        with Progress(settings, unit="rec", desc=f"ingest {corpus_row.name}", show=show_progress) as progress:
            for unit_path, unit_connector in the_plan.units:
                _read_unit(
                    unit_path, unit_connector, writer, progress, strict=strict, max_chars=cfg.max_field_chars
                )
            writer.flush()
    except BaseException:
        writer_failed = _mark(engine, version.id, "failed" if strict else "loading")
        log.debug("load of %s stopped; version %s left %s", corpus_row.name, version.version, writer_failed)
        raise
    return state


def _counts(state: LoadState, kinds: dict[str, int], *, resumed: bool) -> LoadCounts:
    """The counts of a finished load; ``kinds`` is what the version holds in the store."""
    loaded = sum(kinds.values())
    return {
        "read": state.read,
        "records": state.records,
        "loaded": loaded,
        "duplicates": max(state.records - loaded - state.quarantined, 0),
        "near_duplicates": state.near_duplicates,
        "quarantined": state.quarantined,
        "quarantine_reasons": dict(state.reasons),
        "kinds": kinds,
        "resumed": resumed,
        "unchanged": False,
    }


def _interaction_counts(state: LoadState) -> InteractionCounts:
    extras: InteractionCounts = {}
    if state.users:
        extras["interaction_users"], extras["interaction_items"] = len(state.users), len(state.items)
    if state.pairs:
        extras["pairs"] = state.pairs
    return extras


def _complete(engine: Engine, version_id: int, report: IngestReport) -> None:
    """Mark the version complete, with its report and counts."""
    with Session(engine) as session:
        row = session.get(CorpusVersion, version_id)
        assert row is not None
        row.status, row.completed_at, row.report = "complete", utcnow(), dict(report)
        row.read, row.loaded, row.duplicates, row.quarantined = (
            report["read"],
            report["loaded"],
            report["duplicates"],
            report["quarantined"],
        )
        session.add(row)
        session.commit()


def _read_unit(
    path: Path, connector: Connector, writer: BatchWriter, progress: Progress, *, strict: bool, max_chars: int
) -> None:
    last = 0
    try:
        for record in connector.read(path):
            if not isinstance(record, Quarantined):
                too_long = field_too_long(record, max_chars)
                if too_long:
                    record = Quarantined(str(path), too_long, raw=_raw_of(record), line=record.line)
            if isinstance(record, Quarantined):
                if strict:
                    where = f"{record.file}" + (f" line {record.line}" if record.line else "")
                    raise QuarantineError(
                        f"{where}: {record.reason} (--strict stops at the first bad record; "
                        "drop --strict to quarantine it and go on)"
                    )
                writer.add_quarantined(record)
            elif isinstance(record, DocumentRecord):
                writer.add_document(record)
            else:
                writer.add_interaction(record)
            if writer.state.read - last >= 500:
                progress.update(writer.state.read - last)
                last = writer.state.read
    except TruncatedInput as exc:  # rows before the cut are good; the cut is quarantined
        if strict:
            raise
        writer.add_quarantined(Quarantined(str(path), str(exc)))
    progress.update(writer.state.read - last)


def field_too_long(record: DocumentRecord | InteractionRecord, max_chars: int) -> str:
    fields = [record.title, record.text] if isinstance(record, DocumentRecord) else [record.text]
    longest = max(len(f) for f in fields)
    if longest > max_chars:
        return f"field of {longest} chars over ingest.max_field_chars={max_chars}"
    return ""


def _raw_of(record: DocumentRecord | InteractionRecord) -> str:
    text = record.text if isinstance(record, InteractionRecord) else f"{record.title}\n{record.text}"
    return text[:2000] + ("…" if len(text) > 2000 else "")


def resolve_source(settings: Settings, source: str | Path) -> tuple[str, Path]:
    """``(uri, local path)`` of a load's source (a URL is fetched to the cache first)."""
    from infinstruct.connectors.fetch import fetch_to_cache, is_url

    if is_url(str(source)):
        return str(source), fetch_to_cache(settings, str(source))
    path = Path(source).expanduser().resolve()
    return str(path), path


def _open_version(
    session: Session,
    *,
    name: str,
    uri: str,
    path: Path,
    digest: str,
    plan_: Plan,
    domain: str | None,
    scrub: bool,
) -> tuple[Corpus, CorpusVersion, str]:
    """The corpus (created on first load) and the version this load writes into."""
    source = session.exec(select(Source).where(Source.uri == uri)).first()
    if source is None:
        kind = "url" if uri.startswith(("http://", "https://")) else "folder" if path.is_dir() else "file"
        source = Source(uri=uri, kind=kind)
        session.add(source)
        session.flush()
    corpus = session.exec(select(Corpus).where(Corpus.name == name)).first()
    if corpus is None:
        corpus = Corpus(
            name=name,
            domain=domain or plan_.units[0][1].domain,
            connector=plan_.connector_name[:64],
            scrub_pii=scrub,
        )
        session.add(corpus)
        session.flush()
    elif refusal := incompatible(corpus, plan_, domain):
        session.rollback()
        raise ConnectorError(refusal)
    versions = list(
        session.exec(
            select(CorpusVersion)
            .where(CorpusVersion.corpus_id == corpus.id)
            .order_by(col(CorpusVersion.version))
        ).all()
    )
    same = [v for v in versions if v.content_hash == digest and v.status != "rolled_back"]
    if same and same[-1].status == "complete":
        session.commit()
        return corpus, same[-1], "unchanged"
    if same:  # an interrupted or failed load of the same content: finish it
        version = same[-1]
        session.execute(delete(QUARANTINE).where(QUARANTINE.c.version_id == version.id))
        version.status = "loading"
        status = "resumed"
    else:
        version = CorpusVersion(
            corpus_id=corpus.id,  # type: ignore[arg-type]  # set by the flush above
            version=(versions[-1].version + 1) if versions else 1,
            source_id=source.id,
            content_hash=digest,
            status="loading",
        )
        status = "new"
    session.add(version)
    session.commit()
    return corpus, version, status


def _unchanged(version: CorpusVersion) -> LoadCounts:
    previous = version.report or {}
    return {
        "read": version.read,
        "records": previous.get("records", version.read),
        "loaded": 0,
        "duplicates": previous.get("records", version.read) - version.quarantined,
        "near_duplicates": 0,
        "quarantined": version.quarantined,
        "quarantine_reasons": previous.get("quarantine_reasons", {}),
        "kinds": {},
        "resumed": False,
        "unchanged": True,
    }


def _mark(engine: Engine, version_id: int | None, status: str) -> str:
    with Session(engine) as session:
        row = session.get(CorpusVersion, version_id)
        if row is not None and row.status == "loading":
            row.status = status
            session.add(row)
            session.commit()
    return status


def quarantine_count(settings: Settings, version_id: int) -> int:
    with Session(get_engine(settings)) as session:
        return int(
            session.exec(
                select(func.count()).select_from(QUARANTINE).where(QUARANTINE.c.version_id == version_id)
            ).one()
        )
