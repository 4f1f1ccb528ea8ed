"""The ``infinstruct`` command: the root options, platform commands, and each part's group.

Composition only: the parts' commands live in their own ``cli`` modules and register here.
Nothing heavy is imported at module level (``infinstruct --help`` must not import torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from infinstruct.alerts import cli as alerts_cli
from infinstruct.auth import cli as auth_cli
from infinstruct.chat import cli as chat_cli
from infinstruct.connectors import cli as connectors_cli
from infinstruct.core import cli_support
from infinstruct.core.cli_support import JsonOption, emit, settings_from
from infinstruct.finetune import cli as finetune_cli
from infinstruct.recommend import cli as recommend_cli
from infinstruct.retrieval import cli as retrieval_cli

app = typer.Typer(
    cls=cli_support.ErrorTranslatingGroup,
    help="Turn your own text into a working domain dialogue model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the effective settings.", no_args_is_help=True)
db_app = typer.Typer(help="The SQL store: schema upgrades and checks.", no_args_is_help=True)
jobs_app = typer.Typer(
    help="Background jobs (training started from the console, loads).", no_args_is_help=True
)
models_app = typer.Typer(help="The model registry: list, compare, activate, roll back.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Evaluate retrieval, chat routing, models, recommendations.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(jobs_app, name="jobs")
app.add_typer(models_app, name="models")
app.add_typer(eval_app, name="eval")


@app.callback()
def root(
    ctx: typer.Context,
    profile: str = typer.Option("", "--profile", help="Settings profile (settings-<profile>.yaml)."),
    config_dir: Path | None = typer.Option(
        None,
        "--config-dir",
        help="Your config folder (settings*.yaml, finetune/*.yaml) over the packaged defaults; "
        "also INFINSTRUCT_CONFIG_DIR.",
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Override data_dir."),
    database_url: str | None = typer.Option(None, "--database-url", help="Override database.url."),
    log_level: str | None = typer.Option(None, "--log-level", help="DEBUG, INFO, WARNING, ERROR."),
) -> None:
    import os

    if profile:
        os.environ["INFINSTRUCT_PROFILE"] = profile
    if config_dir is not None:  # via the environment so background jobs (subprocesses) inherit it
        os.environ["INFINSTRUCT_CONFIG_DIR"] = str(config_dir.expanduser().resolve())
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database"] = {**_env_section("DATABASE"), "url": database_url}
    if log_level is not None:
        overrides["log_level"] = log_level
    ctx.ensure_object(dict)["overrides"] = overrides  # keeps main()'s RunResult beside it
    cli_support.configure_logging(settings_from(ctx).log_level)


def _env_section(name: str) -> dict[str, Any]:
    """Keep env-provided keys of a section that a CLI override replaces wholesale."""
    import os

    prefix = f"INFINSTRUCT_{name}__"
    return {k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix)}


# -- config -----------------------------------------------------------------------------
@config_app.command("show")
def config_show(
    ctx: typer.Context,
    describe: bool = typer.Option(False, "--describe", help="List every setting with its help."),
    sources: bool = typer.Option(
        False, "--sources", help="With --json: each setting as {value, source} (human output always says)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Print the effective settings (secrets masked) and the file each value came from."""
    from infinstruct.core.config_layers import value_sources
    from infinstruct.core.settings import describe_fields, masked_dump

    settings = settings_from(ctx)
    if describe:
        rows = describe_fields()
        emit(rows, as_json=as_json, human="\n".join(f"{r['key']}: {r['description']}" for r in rows))
        return
    data = masked_dump(settings)
    if as_json and not sources:
        emit(data, as_json=True)
        return
    where = value_sources(data, ctx.obj["overrides"], settings.profile or _env_profile())
    rows = [{"key": k, "value": v, "source": where[k]} for k, v in _flat(data).items()]
    human = "\n".join(f"{r['key']}: {r['value']!r}    # {r['source']}" for r in rows)
    emit({r["key"]: {"value": r["value"], "source": r["source"]} for r in rows}, as_json=as_json, human=human)


def _env_profile() -> str:
    import os

    return os.environ.get("INFINSTRUCT_PROFILE", "")


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- db ---------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context, revision: str = typer.Argument("head"), as_json: bool = JsonOption
) -> None:
    """Create or upgrade the schema (Alembic migrations)."""
    from infinstruct.core import db

    settings = settings_from(ctx)
    now = db.upgrade(settings, revision)
    emit(
        {"revision": now, "url": db._safe_url(settings.database_url)},
        as_json=as_json,
        human=f"schema at {now} ({db._safe_url(settings.database_url)})",
    )


@db_app.command("current")
def db_current(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Show the schema revision in force and the newest one shipped."""
    from infinstruct.core import db

    settings = settings_from(ctx)
    db.check_connection(settings)
    data = {"current": db.current_revision(settings), "head": db.head_revision()}
    emit(data, as_json=as_json, human=f"current {data['current']}, head {data['head']}")


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Fail if the tables differ from the migrations (autogenerate check)."""
    from infinstruct.core import db

    db.check_pending(settings_from(ctx))
    typer.echo("no pending schema changes")


# -- doctor -----------------------------------------------------------------------------
@app.command()
def doctor(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Check python, torch, faiss, models, database and data dir; each gap with its fix."""
    from infinstruct.core.doctor import run_checks

    checks = run_checks(settings_from(ctx))
    ok = all(c.ok for c in checks)
    lines = [
        f"{'ok ' if c.ok else 'BAD'} {c.name:16} {c.detail}"
        + (f"\n    fix: {c.fix}" if c.fix and not c.ok else "")
        for c in checks
    ]
    emit({"ok": ok, "checks": [c.as_dict() for c in checks]}, as_json=as_json, human="\n".join(lines))
    if not ok:
        raise typer.Exit(1)


# -- jobs -------------------------------------------------------------------------------
@jobs_app.command("list")
def jobs_list(ctx: typer.Context, kind: str | None = None, as_json: bool = JsonOption) -> None:
    """List recent job runs."""
    from infinstruct.core.jobs import list_jobs

    rows = [j.model_dump(mode="json") for j in list_jobs(settings_from(ctx), kind=kind)]
    emit(
        rows,
        as_json=as_json,
        human="\n".join(
            f"{r['id']:>5} {r['kind']:10} {r['status']:10} {r['done']}/{r['total'] or '?'} {r['message']}"
            for r in rows
        )
        or "no jobs",
    )


@jobs_app.command("show")
def jobs_show(ctx: typer.Context, job_id: int, as_json: bool = JsonOption) -> None:
    """Show one job run."""
    from infinstruct.core.jobs import get_job

    emit(get_job(settings_from(ctx), job_id).model_dump(mode="json"), as_json=as_json)


@jobs_app.command("cancel")
def jobs_cancel(ctx: typer.Context, job_id: int, as_json: bool = JsonOption) -> None:
    """Stop a running job."""
    from infinstruct.core.jobs import cancel_job

    job = cancel_job(settings_from(ctx), job_id)
    emit(job.model_dump(mode="json"), as_json=as_json, human=f"job {job_id} {job.status}")


# -- models -----------------------------------------------------------------------------
@models_app.command("list")
def models_list(ctx: typer.Context, kind: str | None = None, as_json: bool = JsonOption) -> None:
    """List model versions."""
    from infinstruct.core.registry import list_versions

    rows = [v.model_dump(mode="json") for v in list_versions(settings_from(ctx), kind=kind)]
    emit(
        rows,
        as_json=as_json,
        human="\n".join(
            f"{r['name']:16} {r['status']:9} {r['method']:8} {r['recipe']:18} {r['metrics']}" for r in rows
        )
        or "no model versions; train one with `infinstruct train smollm2-lora`",
    )


@models_app.command("show")
def models_show(ctx: typer.Context, name: str, as_json: bool = JsonOption) -> None:
    """Show one model version."""
    from infinstruct.core.registry import get_version

    emit(get_version(settings_from(ctx), name).model_dump(mode="json"), as_json=as_json)


@models_app.command("compare")
def models_compare(ctx: typer.Context, names: list[str], as_json: bool = JsonOption) -> None:
    """Metrics of several versions side by side."""
    from infinstruct.core.registry import get_version

    settings = settings_from(ctx)
    table = {n: get_version(settings, n).metrics for n in names}
    emit(table, as_json=as_json)


@models_app.command("activate")
def models_activate(
    ctx: typer.Context,
    name: str,
    force: bool = typer.Option(False, "--force", help="Activate even if the gate refuses."),
    as_json: bool = JsonOption,
) -> None:
    """Make a version active (the regression gate applies unless --force)."""
    from infinstruct import services
    from infinstruct.core.registry import activate

    settings = settings_from(ctx)
    version, verdict = activate(settings, name, gate=services.build_gate(settings), force=force)
    emit(
        {"active": version.name, "gate": verdict.__dict__ if verdict else None},
        as_json=as_json,
        human=f"{version.name} is active" + (f" (gate: {verdict.reason})" if verdict else ""),
    )


@models_app.command("rollback")
def models_rollback(ctx: typer.Context, kind: str = "dialogue", as_json: bool = JsonOption) -> None:
    """Re-activate the previously active version of a kind."""
    from infinstruct.core.registry import rollback

    version = rollback(settings_from(ctx), kind)
    emit({"active": version.name}, as_json=as_json, human=f"{version.name} is active again")


@models_app.command("export")
def models_export(
    ctx: typer.Context,
    name: str,
    fmt: str = typer.Option(
        ..., "--format", help="hf (merged transformers folder) or gguf (llama.cpp, Ollama)."
    ),
    out: Path = typer.Option(..., "--out", help="A new or empty folder to write into."),
    dtype: str = typer.Option("f32", "--dtype", help="gguf weights: f32 or f16."),
    as_json: bool = JsonOption,
) -> None:
    """Export a dialogue version for a serving engine (adapter merged; model card included)."""
    from infinstruct import services
    from infinstruct.dialogue.export import export_version

    result = export_version(settings_from(ctx), name, fmt, out, dtype=dtype, formats=services.model_formats())
    emit(
        result, as_json=as_json, human=f"{result['version']} → {result['out']}: {', '.join(result['files'])}"
    )


# -- serve and demo ---------------------------------------------------------------------
@app.command()
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="Bind address (server.host)."),
    port: int | None = typer.Option(None, help="Port (server.port)."),
) -> None:
    """Serve the web app: chat at /, analyst at /analyst/, operator at /operator/, /api, /v1."""
    from infinstruct import services

    services.run_server(settings_from(ctx), host=host, port=port)


@app.command()
def demo(
    ctx: typer.Context,
    smoke: bool = typer.Option(False, "--smoke", help="Exit 0 once /healthz answers."),
    port: int | None = typer.Option(None, help="Port to serve on."),
) -> None:
    """Load the bundled samples, build what exists, and serve the UI."""
    from infinstruct import services

    services.run_demo(settings_from(ctx), smoke=smoke, port=port)


auth_cli.register(app, eval_app)
connectors_cli.register(app, eval_app)
retrieval_cli.register(app, eval_app)
finetune_cli.register(app, eval_app, ingestor_factory=lambda settings: _ingestor(settings))
recommend_cli.register(app, eval_app)


def _model_formats() -> Any:
    """The parts' model version formats for the chat commands (services imported only when used)."""
    from infinstruct import services

    return services.model_formats()


chat_cli.register(app, eval_app, formats=_model_formats)


@connectors_cli.corpus_app.command("visibility")
def corpus_visibility(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Corpus name (see `infinstruct corpus list`)."),
    visibility: str = typer.Argument(..., help="public (customers may see it quoted) or internal."),
    as_json: bool = JsonOption,
) -> None:
    """Mark a corpus public (help centre, FAQs: quotable to customers) or internal (the default)."""
    from infinstruct.core.corpus_visibility import set_visibility

    result = set_visibility(settings_from(ctx), name, visibility)
    emit(result, as_json=as_json, human=f"{name} is {visibility} (was {result['was']})")


def _ingestor(settings: Any) -> Any:
    """The connectors' loader for ``eval sentiment`` (services imported only when used)."""
    from infinstruct import services

    return services.build_ingestor(settings)


def _feed_reader(settings: Any) -> Any:
    """The connectors' feed reader for the alerts (services imported only when used)."""
    from infinstruct import services

    return services.build_feed_reader(settings)


alerts_cli.register(app, eval_app, feed_reader=_feed_reader)


def main() -> None:
    from infinstruct.core.jobs import current_job_id

    job_id = current_job_id()
    if job_id is None:
        app()
        return
    run = cli_support.RunResult()
    try:
        app(obj={"result": run})
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        cli_support.finish_tracked_job(job_id, code, run)
        raise
