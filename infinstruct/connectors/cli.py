"""Commands of the connectors part; registered on the root app by ``infinstruct.cli``."""

from __future__ import annotations

import re

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from
from infinstruct.core.errors import InputError
from infinstruct.core.ingest_report import IngestReport

corpus_app = typer.Typer(help="Loaded corpora and their versions.", no_args_is_help=True)


def _columns(pairs: list[str]) -> dict[str, str]:
    """``--map`` values: ``KEY=FIELD``, repeated, or several in one value separated by commas
    or spaces (``"conversation=ticket_id,role=author_role"``) when every piece has an ``=``."""
    out = {}
    for value in pairs:
        pieces = [p for p in re.split(r"[,\s]+", value.strip()) if p]
        for pair in pieces if pieces and all("=" in p for p in pieces) else [value]:
            key, sep, column = pair.partition("=")
            if not sep or not key.strip() or not column.strip():
                raise InputError(
                    f"--map takes KEY=COLUMN (got {pair!r}), e.g. --map text=review --map label=label "
                    "(a dotted path such as author.type reaches a nested JSON field)"
                )
            out[key.strip()] = column.strip()
    return out


def _path_and_pairs(paths: list[str]) -> tuple[str, list[str]]:
    """``ingest PATH --map a=x b=y``: the words after the first ``--map`` pair are more pairs."""
    if not paths:
        raise InputError("ingest needs a PATH: a file, a dataset folder or an http(s) URL")
    extra = paths[1:]
    bad = [p for p in extra if "=" not in p]
    if bad:
        raise InputError(
            f"ingest takes one PATH (got {paths[0]!r} and also {bad[0]!r}); load one source at a time, "
            "or give mapping pairs as KEY=FIELD after --map"
        )
    return paths[0], extra


def _human_preview(report: dict[str, object]) -> str:
    mapping = ", ".join(f"{k}={v}" for k, v in dict(report.get("mapping") or {}).items())  # type: ignore[call-overload]
    lines = [
        f"dry run: nothing was loaded. {report['source']} → corpus {report['corpus']}"
        f"{' (exists)' if report['corpus_exists'] else ' (new)'}",
        f"connector {report['connector']} (confidence {report['confidence']}), domain {report['domain']}"
        + (f", mapping {mapping}" if mapping else ""),
        f"would load {report['would_load']}, quarantine {report['quarantined']}, "
        f"skip {report['duplicates']} duplicates (read {report['read']} source rows)",
    ]
    lines += [f"  quarantined {n}: {r}" for r, n in dict(report["quarantine_reasons"]).items()]  # type: ignore[call-overload]
    if report.get("refused"):
        lines.append(f"REFUSED: {report['refused']}")
    for record in report.get("records") or []:  # type: ignore[attr-defined]
        text = str(record.get("title") or "") + " " + str(record.get("text") or "")
        label = f" [{record['label']}]" if record.get("label") else ""
        lines.append(f"  {record.get('kind')}{label}: {' '.join(text.split())[:120]}")
    return "\n".join(lines)


def _human(report: IngestReport) -> str:
    if report["unchanged"]:
        return f"{report['corpus']} v{report['version']}: unchanged, nothing loaded"
    reasons = report["quarantine_reasons"]
    lines = [
        f"{report['corpus']} v{report['version']} ({report['connector']}, {report['domain']}): "
        f"read {report['read']}, loaded {report['loaded']}, duplicates {report['duplicates']}, "
        f"near-duplicates {report.get('near_duplicates', 0)}, quarantined {report['quarantined']}"
        f" in {report.get('seconds')}s ({report.get('rate', 0)} rec/s)",
    ]
    lines += [f"  quarantined {n}: {reason}" for reason, n in reasons.items()]
    lines += [f"  skipped {s['file']}: {s['reason']}" for s in report["skipped"]]
    return "\n".join(lines)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this part's commands to the root app and the shared ``eval`` group."""
    app.add_typer(corpus_app, name="corpus")
    _register_ingest(app)
    _register_connectors(app)
    _register_corpus(corpus_app)


def _register_ingest(app: typer.Typer) -> None:
    """``ingest``: a file, folder or URL into a corpus version."""

    @app.command("ingest")
    def ingest_cmd(
        ctx: typer.Context,
        paths: list[str] = typer.Argument(
            ...,
            help="A file, a dataset folder or an http(s) URL (then, optionally, more --map KEY=FIELD pairs).",
        ),
        connector: str | None = typer.Option(None, "--connector", help="Connector name (default: detect)."),
        corpus: str | None = typer.Option(None, "--corpus", help="Corpus name (default: file/folder name)."),
        domain: str | None = typer.Option(None, "--domain", help="Domain tag (default: the connector's)."),
        columns: list[str] = typer.Option(
            [],
            "--map",
            help="KEY=FIELD for generic connectors (repeat, or list pairs after it); dotted paths reach nested JSON.",
        ),
        agent_roles: str | None = typer.Option(
            None,
            "--agent-roles",
            help="Role values that are the agent, e.g. agent,admin (others: the customer).",
        ),
        score_thresholds: str | None = typer.Option(
            None, "--score-thresholds", help="LOW,HIGH: a score below LOW is negative, above HIGH positive."
        ),
        dry_run: bool = typer.Option(
            False,
            "--dry-run",
            help="Show what would load (connector, mapping, first records, counts); load nothing.",
        ),
        strict: bool = typer.Option(False, "--strict", help="Fail on the first bad record."),
        scrub_pii: bool | None = typer.Option(
            None, "--scrub-pii/--no-scrub-pii", help="Scrub PII for a new corpus (default: ingest.scrub_pii)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Detect the format of PATH and load it into the store, with a report."""
        from infinstruct.connectors.sentiment import parse_thresholds

        path, extra = _path_and_pairs(paths)
        settings = settings_from(ctx)
        columns_map = _columns(columns + extra)
        roles = [r.strip() for r in agent_roles.split(",") if r.strip()] if agent_roles else None
        thresholds = parse_thresholds(score_thresholds) if score_thresholds else None
        if dry_run:
            from infinstruct.connectors.preview import preview

            preview_report = preview(
                settings,
                path,
                connector=connector,
                corpus=corpus,
                domain=domain,
                columns=columns_map,
                agent_roles=roles,
                score_thresholds=thresholds,
                scrub_pii=scrub_pii,
            )
            emit(preview_report, as_json=as_json, human=_human_preview(preview_report))
            return
        from infinstruct.connectors.ingest import ingest
        from infinstruct.core.db import ensure_schema

        ensure_schema(settings)
        report = ingest(
            settings,
            path,
            connector=connector,
            corpus=corpus,
            domain=domain,
            strict=strict,
            columns=columns_map,
            scrub_pii=scrub_pii,
            agent_roles=roles,
            score_thresholds=thresholds,
            show_progress=not as_json,
        )
        emit(report, as_json=as_json, human=_human(report))


def _register_connectors(app: typer.Typer) -> None:
    """``connectors``: what can be loaded."""

    @app.command("connectors")
    def connectors_cmd(as_json: bool = JsonOption) -> None:
        """List the connectors and what each reads."""
        from infinstruct.connectors.registry import all_connectors

        rows = [{"name": c.name, "domain": c.domain, "expects": c.expects} for c in all_connectors()]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(f"{r['name']:18} {r['domain']:9} {r['expects']}" for r in rows),
        )


def _register_corpus(corpus_app: typer.Typer) -> None:
    """``corpus list|show|rollback``."""

    @corpus_app.command("list")
    def corpus_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List corpora with their latest version."""
        from infinstruct.connectors.corpora import list_corpora

        rows = list_corpora(settings_from(ctx))
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['name']:32} {r['domain']:9} v{r['latest']} {r['status']:11} {r['documents']} documents"
                for r in rows
            )
            or "no corpora; load one with `infinstruct ingest PATH`",
        )

    @corpus_app.command("show")
    def corpus_show(ctx: typer.Context, name: str, as_json: bool = JsonOption) -> None:
        """Show a corpus: documents per kind and every version."""
        from infinstruct.connectors.corpora import show_corpus

        emit(show_corpus(settings_from(ctx), name), as_json=as_json)

    @corpus_app.command("rollback")
    def corpus_rollback(ctx: typer.Context, name: str, version: int, as_json: bool = JsonOption) -> None:
        """Roll back one version: its documents, chunks and instruction sets become stale."""
        from infinstruct.connectors.corpora import rollback

        result = rollback(settings_from(ctx), name, version)
        emit(
            result,
            as_json=as_json,
            human=(
                f"{name} v{version} rolled back: {result['documents']} documents, {result['chunks']} chunks, "
                f"{len(result['instruction_sets'])} instruction sets now stale"
            ),
        )
