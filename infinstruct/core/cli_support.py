"""What every part's CLI module shares: the settings from the root options, JSON output,
and the one place where domain errors become exit codes.

Typer is light; nothing here imports torch or gradio, so ``infinstruct --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup
from typer.main import get_current_context  # typer vendors click: its context stack, not click's

from infinstruct.core.errors import InfinstructError
from infinstruct.core.settings import Settings, load_settings

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one CLI run printed with ``emit`` / as an error: a tracked job's result.

    ``main`` makes one and hands it to the root context (``app(obj={"result": ...})``);
    ``emit`` and the error boundary fill it through the running click context, and
    ``finish_tracked_job`` gets it back as an argument. A run without one (tests'
    ``CliRunner``, ``--help``) records nothing.
    """

    data: Any = None
    error: str = ""


def run_result(ctx: typer.Context | None = None) -> RunResult | None:
    """The ``RunResult`` of the running invocation (of ``ctx``'s root), if ``main`` gave one."""
    current = ctx if ctx is not None else get_current_context(silent=True)
    obj = current.find_root().obj if current is not None else None
    found = obj.get("result") if isinstance(obj, dict) else None
    return found if isinstance(found, RunResult) else None


def _record_error(ctx: typer.Context, message: str) -> None:
    if (result := run_result(ctx)) is not None:
        result.error = message


class ErrorTranslatingGroup(TyperGroup):
    """The CLI boundary: a domain error prints one line and exits 2 (input) or 1 (internal)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # typer's own Context
        try:
            return super().invoke(ctx)
        except InfinstructError as exc:
            _record_error(ctx, str(exc))
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise  # usage errors and deliberate exits keep typer's own handling
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:  # the CLI root boundary: one line, exit 1
            if _missing_schema(exc):
                message = "the store has no tables yet (or is behind): run `infinstruct db upgrade`"
                _record_error(ctx, message)
                typer.echo(f"error: {message}", err=True)
                raise typer.Exit(2) from None
            log.debug("internal error", exc_info=True)
            _record_error(ctx, f"{exc.__class__.__name__}: {exc}")
            typer.echo(f"internal error: {exc.__class__.__name__}: {exc}", err=True)
            raise typer.Exit(1) from None


def _missing_schema(exc: BaseException) -> bool:
    """SQLite's "no such table" / PostgreSQL's UndefinedTable, without importing SQLAlchemy."""
    text = str(exc)
    return type(exc).__module__.startswith("sqlalchemy") and (
        "no such table" in text or "UndefinedTable" in text
    )


def settings_from(ctx: typer.Context) -> Settings:
    """The settings built by the root callback (or from the environment when invoked bare)."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    if "settings" not in obj:
        obj["settings"] = load_settings(**obj.get("overrides", {}))
        root.obj = obj
    settings = obj["settings"]
    assert isinstance(settings, Settings)
    return settings


def emit(data: Any, *, as_json: bool, human: str | None = None) -> None:
    """Print ``data`` as one JSON object (``--json``) or ``human`` text."""
    if (result := run_result()) is not None:
        result.data = data
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
    else:
        typer.echo(
            human if human is not None else json.dumps(data, ensure_ascii=False, indent=2, default=str)
        )


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Library chatter that is not news to an operator.
    for noisy in ("httpx", "urllib3", "filelock", "sentence_transformers", "jieba", "alembic", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


JsonOption = typer.Option(False, "--json", help="Print one JSON object for scripts.")


def finish_tracked_job(job_id: int, exit_code: int, run: RunResult) -> None:
    """Record a CLI run launched as a tracked job (``INFINSTRUCT_JOB_ID``) as finished."""
    from infinstruct.core.jobs import finish_job

    data = run.data
    result = data if isinstance(data, dict) else {"output": data}
    status = "succeeded" if exit_code == 0 else "failed"
    error = "" if exit_code == 0 else (run.error or f"exit code {exit_code}")
    try:
        finish_job(load_settings(), job_id, status=status, result=result, error=error)
    except InfinstructError:
        log.warning("could not record the end of job %s", job_id, exc_info=True)
