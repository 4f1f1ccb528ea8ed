"""What every tab of the console shares: the error boundary, tables, job progress."""

from __future__ import annotations

import functools
import html
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infinstruct.core.errors import InfinstructError

if TYPE_CHECKING:
    import pandas as pd

    from infinstruct.core.tables import JobRun

FINISHED = ("succeeded", "failed", "cancelled")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The UI boundary: a domain error becomes a visible ``gr.Error`` with its message and fix."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        import gradio as gr

        try:
            return fn(*args, **kwargs)
        except InfinstructError as exc:
            raise gr.Error(str(exc)) from exc

    # Gradio injects gr.Request / gr.SelectData by the annotations of the visible signature;
    # a functools.partial has none of its own, so both are copied from what it calls.
    signature = inspect.signature(fn)
    run.__signature__ = signature  # type: ignore[attr-defined]  # read by inspect and Gradio
    run.__annotations__ = {
        name: p.annotation for name, p in signature.parameters.items() if p.annotation is not p.empty
    }
    return run


def frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """``rows`` as a table with exactly ``columns`` (an empty table keeps its headers)."""
    import pandas as pd

    return pd.DataFrame([[r.get(c) for c in columns] for r in rows], columns=columns)


def _eta(job: JobRun) -> str:
    if not job.total or not job.rate or job.status in FINISHED:
        return ""
    left = max(job.total - job.done, 0) / job.rate
    return f" · ETA {int(left // 60)}m {int(left % 60):02d}s" if left >= 60 else f" · ETA {left:.0f}s"


def progress_html(job: JobRun | None, what: str = "job") -> str:
    """A progress bar with done/total, rate and ETA; a failed job shows its error (the CLI's text)."""
    if job is None:
        return f"<div class='job-status'>No {html.escape(what)} started yet.</div>"
    pct = (
        min(100.0, 100.0 * job.done / job.total) if job.total else (100.0 if job.status == "succeeded" else 0)
    )
    counts = (
        f"{job.done:.0f}/{job.total:.0f} {html.escape(job.unit)}"
        if job.total
        else f"{job.done:.0f} {html.escape(job.unit)}"
    )
    rate = f" · {job.rate:.1f} {html.escape(job.unit)}/s" if job.rate else ""
    counts = f": {counts}" if job.done or job.total else ""
    head = f"{html.escape(what)} (job {job.id}) {job.status}{counts}{rate}{_eta(job)}"
    colour = {"failed": "#c62828", "cancelled": "#757575", "succeeded": "#2e7d32"}.get(job.status, "#1565c0")
    bar = (
        f"<div style='background:#e0e0e0;border-radius:4px;height:12px;margin:4px 0'>"
        f"<div style='width:{pct:.0f}%;background:{colour};height:12px;border-radius:4px'></div></div>"
    )
    detail = ""
    if job.status == "failed":
        detail = f"<p class='job-error' style='color:#c62828'>{html.escape(job.error or 'failed')}</p>"
    elif job.message and job.status not in FINISHED:
        detail = f"<p style='color:#555'>{html.escape(job.message)}</p>"
    return f"<div class='job-status'><b>{head}</b>{bar}{detail}</div>"


def counts_markdown(title: str, counts: dict[str, Any]) -> str:
    """A one-row Markdown table of counts (never raw JSON)."""
    keys = [k for k, v in counts.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    if not keys:
        return ""
    head = "| " + " | ".join(keys) + " |"
    rule = "|" + "---|" * len(keys)
    row = "| " + " | ".join(f"{counts[k]:g}" for k in keys) + " |"
    return f"**{title}**\n\n{head}\n{rule}\n{row}"


def username(request: Any) -> str:
    return getattr(request, "username", None) or "operator"
