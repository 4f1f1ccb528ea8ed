"""The Instructions tab: the latest instruction set as tables, and a rebuild job."""

import functools
from typing import Any

import gradio as gr

from infinstruct.ui.operator.backend import OperatorBackend
from infinstruct.ui.operator.common import FINISHED, frame, guarded, progress_html

STAT_COLUMNS = ["task", "lang", "examples"]


def stats(backend: OperatorBackend) -> tuple[str, Any]:
    """A headline and examples per task and language (never raw JSON)."""
    try:
        latest = backend.instruction_stats()
    except Exception:  # noqa: BLE001  # an empty store has no set yet: say so instead
        return "No instruction set yet: load a corpus, then click Rebuild.", frame([], STAT_COLUMNS)
    report = latest.get("report") or {}
    head = f"**{latest.get('name')} v{latest.get('version')}**" + (
        " (stale: rebuild it)" if latest.get("stale") else ""
    )
    head += f" · {report.get('examples', 0)} examples"
    rows = [
        {"task": task, "lang": lang, "examples": count}
        for task, by_lang in (report.get("by_task_lang") or {}).items()
        for lang, count in (by_lang.items() if isinstance(by_lang, dict) else [("", by_lang)])
    ]
    return head, frame(rows, STAT_COLUMNS)


def rebuild(backend: OperatorBackend) -> tuple[int, str]:
    job_id = backend.start_instructions()
    return job_id, progress_html(backend.job(job_id), "rebuild")


def watch(backend: OperatorBackend, job_id: int | None, seen: int | None) -> tuple[Any, ...]:
    if not job_id:
        return gr.skip(), gr.skip(), gr.skip(), seen
    job = backend.job(int(job_id))
    if job.status in FINISHED and seen != job.id:
        head, table = stats(backend)
        return progress_html(job, "rebuild"), head, table, job.id
    return progress_html(job, "rebuild"), gr.skip(), gr.skip(), seen


def build(backend: OperatorBackend) -> tuple[Any, ...]:
    on = functools.partial
    head_value, table_value = stats(backend)
    head = gr.Markdown(head_value, elem_id="instructions-head")
    table = gr.Dataframe(table_value, label="Examples per task and language", interactive=False)
    button = gr.Button("Rebuild instruction set")
    job, seen = gr.State(None), gr.State(None)
    status = gr.HTML(progress_html(None, "rebuild"), elem_id="rebuild-status")
    button.click(guarded(on(rebuild, backend)), None, [job, status])
    return job, seen, status, head, table
