"""``infinstruct instructions build|stats|export|import``; registered by ``infinstruct.cli``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from

instructions_app = typer.Typer(
    help="The instruction set: build it from the store, inspect, export, import.", no_args_is_help=True
)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add these commands to the root app and the shared ``eval`` group."""
    app.add_typer(instructions_app, name="instructions")


def _summary(report: Mapping[str, Any]) -> str:
    lines = [
        f"instruction set {report.get('name')} v{report.get('version')}"
        f"{' (unchanged: inputs identical)' if report.get('unchanged') else ''}: "
        f"{report.get('examples', 0)} examples",
        "  splits: " + ", ".join(f"{k} {v}" for k, v in report.get("by_split", {}).items()),
        "  per task/language:",
    ]
    for task, langs in report.get("by_task_lang", {}).items():
        lines.append(f"    {task:26} " + "  ".join(f"{lang} {n}" for lang, n in langs.items()))
    lines.append("  per domain: " + ", ".join(f"{k} {v}" for k, v in report.get("by_domain", {}).items()))
    rejects = report.get("rejects", {})
    lines.append("  rejects: " + (", ".join(f"{k} {v}" for k, v in rejects.items()) or "none"))
    for lang, figures in report.get("diversity", {}).get("by_lang", {}).items():
        lines.append(
            f"  diversity {lang}: distinct-1 {figures['distinct_1']}, distinct-2 {figures['distinct_2']}"
        )
    return "\n".join(lines)


@instructions_app.command("build")
def build(
    ctx: typer.Context,
    name: str = typer.Option("default", "--name", help="Set name; each build adds a version."),
    max_per_corpus: int | None = typer.Option(
        None, "--max-per-corpus", help="Cap examples per corpus and task (instructions.max_per_corpus)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Build a new version even if the inputs are unchanged."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Build a new version from every live corpus, curated answers and answered hand-offs."""
    from infinstruct.finetune.instructions.builder import build_instruction_set

    report = build_instruction_set(
        settings_from(ctx), name=name, max_per_corpus=max_per_corpus, force=force, show_progress=not as_json
    )
    emit(report, as_json=as_json, human=_summary(report))


@instructions_app.command("stats")
def stats(
    ctx: typer.Context,
    name: str = typer.Option("default", "--name", help="Set name."),
    version: int | None = typer.Option(None, "--version", help="Version (default: latest usable)."),
    show_all: bool = typer.Option(False, "--all", help="List every version of every set instead."),
    as_json: bool = JsonOption,
) -> None:
    """Show a set version's report (counts per task/language, rejects, diversity, lineage)."""
    from infinstruct.finetune.instructions.store import count_examples, get_set, list_sets

    settings = settings_from(ctx)
    if show_all:
        rows: list[dict[str, Any]] = [
            {
                "name": s.name,
                "version": s.version,
                "stale": s.stale,
                "examples": s.report.get("examples"),
                "input_hash": s.input_hash,
                "created_at": s.created_at,
            }
            for s in list_sets(settings)
        ]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['name']:16} v{r['version']:<4} {'STALE ' if r['stale'] else ''}{r['examples']} examples "
                f"{r['input_hash'][:12]}"
                for r in rows
            )
            or "no instruction sets; run `infinstruct instructions build`",
        )
        return
    found = get_set(settings, name=name, version=version)
    data = {
        **found.report,
        "stale": found.stale,
        "lineage": found.lineage,
        "stored": count_examples(settings, int(found.id or 0)),
    }
    emit(data, as_json=as_json, human=_summary(data))


@instructions_app.command("export")
def export(
    ctx: typer.Context,
    fmt: str = typer.Option(..., "--format", help="alpaca | sharegpt | messages"),
    out: Path = typer.Option(..., "--out", help="Output file (or folder); dataset_info.json goes beside it."),
    name: str = typer.Option("default", "--name", help="Set name."),
    version: int | None = typer.Option(None, "--version", help="Version (default: latest usable)."),
    split: str | None = typer.Option(None, "--split", help="Only this split (train|validation|test)."),
    as_json: bool = JsonOption,
) -> None:
    """Export a set version as Alpaca JSON, ShareGPT JSONL or OpenAI messages JSONL."""
    from infinstruct.finetune.instructions.interop import export_set

    result = export_set(settings_from(ctx), fmt=fmt, out=out, set_name=name, version=version, split=split)
    emit(
        result,
        as_json=as_json,
        human=(
            f"wrote {result['examples']} examples to {result['path']}; "
            f"LLaMA-Factory dataset {result['dataset']!r} in {result['dataset_info']}"
        ),
    )


@instructions_app.command("import")
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="An Alpaca .json, ShareGPT .jsonl or messages .jsonl file."),
    fmt: str = typer.Option("auto", "--format", help="auto | alpaca | sharegpt | messages"),
    name: str = typer.Option("imported", "--name", help="Set to add a version to."),
    domain: str = typer.Option("imported", "--domain", help="Domain of records that do not say."),
    task: str = typer.Option("imported", "--task", help="Task of records that do not say."),
    as_json: bool = JsonOption,
) -> None:
    """Import your own instructions as a new version of a set."""
    from infinstruct.finetune.instructions.interop import import_file

    report = import_file(settings_from(ctx), path, fmt=fmt, set_name=name, domain=domain, task=task)
    emit(report, as_json=as_json, human=_summary(report))
