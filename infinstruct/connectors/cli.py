"""Commands of the connectors part; registered on the root app by ``infinstruct.cli``."""

from __future__ import annotations

import typer

from infinstruct.platform.cli_support import JsonOption, emit, settings_from
from infinstruct.platform.errors import InputError

corpus_app = typer.Typer(help="Loaded corpora and their versions.", no_args_is_help=True)


def _columns(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise InputError(
                f"--map takes KEY=COLUMN (got {pair!r}), e.g. --map text=review --map label=label"
            )
        out[key.strip()] = value.strip()
    return out


def _human(report: dict[str, object]) -> str:
    if report.get("unchanged"):
        return f"{report['corpus']} v{report['version']}: unchanged, nothing loaded"
    reasons = report.get("quarantine_reasons") or {}
    lines = [
        f"{report['corpus']} v{report['version']} ({report['connector']}, {report['domain']}): "
        f"read {report['read']}, loaded {report['loaded']}, duplicates {report['duplicates']}, "
        f"near-duplicates {report.get('near_duplicates', 0)}, quarantined {report['quarantined']}"
        f" in {report.get('seconds')}s ({report.get('rate', 0)} rec/s)",
    ]
    lines += [f"  quarantined {n}: {reason}" for reason, n in dict(reasons).items()]  # type: ignore[call-overload]
    lines += [f"  skipped {s['file']}: {s['reason']}" for s in report.get("skipped") or []]  # type: ignore[attr-defined]
    return "\n".join(lines)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this part's commands to the root app and the shared ``eval`` group."""
    app.add_typer(corpus_app, name="corpus")

    @app.command("ingest")
    def ingest_cmd(
        ctx: typer.Context,
        path: str = typer.Argument(..., help="A file, a dataset folder or an http(s) URL."),
        connector: str | None = typer.Option(None, "--connector", help="Connector name (default: detect)."),
        corpus: str | None = typer.Option(None, "--corpus", help="Corpus name (default: file/folder name)."),
        domain: str | None = typer.Option(None, "--domain", help="Domain tag (default: the connector's)."),
        columns: list[str] = typer.Option([], "--map", help="KEY=COLUMN for generic connectors (repeat)."),
        strict: bool = typer.Option(False, "--strict", help="Fail on the first bad record."),
        scrub_pii: bool | None = typer.Option(
            None, "--scrub-pii/--no-scrub-pii", help="Scrub PII for a new corpus (default: ingest.scrub_pii)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Detect the format of PATH and load it into the store, with a report."""
        from infinstruct.connectors.ingest import ingest
        from infinstruct.platform.db import ensure_schema

        settings = settings_from(ctx)
        ensure_schema(settings)
        report = ingest(
            settings,
            path,
            connector=connector,
            corpus=corpus,
            domain=domain,
            strict=strict,
            columns=_columns(columns),
            scrub_pii=scrub_pii,
            show_progress=not as_json,
        )
        emit(report, as_json=as_json, human=_human(report))

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
