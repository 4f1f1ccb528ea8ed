"""The operator console: one small builder per tab, wired to the page's backend.

Loads and training run as tracked CLI jobs, so the console only starts them and polls the
job-run table once a second; closing the browser never stops a load. When a job ends, the
tables it changed refresh (corpora after a load, models and the Try versions after training).
"""

import functools
from typing import Any

import gradio as gr

from infinstruct.core.settings import Settings
from infinstruct.ui.operator import corpora, handoffs, instructions, models, training, try_tab
from infinstruct.ui.operator.backend import OperatorBackend
from infinstruct.ui.operator.common import frame, guarded
from infinstruct.ui.session import logout_button

FEEDBACK_COLUMNS = ["rating", "question", "answer", "comment", "route"]


def _header() -> None:
    with gr.Row():
        gr.Markdown("# Operator console")
        logout_button()


def _feedback_tab(backend: OperatorBackend) -> Any:
    rows = functools.partial(lambda b: frame(b.feedback_rows(), FEEDBACK_COLUMNS), backend)
    table = gr.Dataframe(rows(), label="Customer feedback", interactive=False)
    return table, rows


def _wire_timer(backend: OperatorBackend, tabs: dict[str, Any]) -> None:
    on = functools.partial
    c, t, i = tabs["corpora"], tabs["training"], tabs["instructions"]
    timer = gr.Timer(1.0)
    timer.tick(
        guarded(on(corpora.watch_load, backend)),
        [c.job, c.seen],
        [c.status, c.report, c.quarantine, c.table, c.seen],
        show_progress="hidden",
    )
    timer.tick(
        guarded(on(training.watch_training, backend)),
        [t.job, t.seen, t.points],
        [t.status, t.plot, t.points, t.seen, tabs["models"], tabs["try_version"]],
        show_progress="hidden",
    )
    timer.tick(
        guarded(on(instructions.watch, backend)),
        [i[0], i[1]],
        [i[2], i[3], i[4], i[1]],
        show_progress="hidden",
    )
    slow = gr.Timer(3.0)
    slow.tick(guarded(on(training.jobs_frame, backend)), None, t.jobs, show_progress="hidden")


def build_operator_app(settings: Settings, backend: OperatorBackend) -> gr.Blocks:
    """The console; ``backend`` carries everything its handlers call."""
    if backend.settings is None:
        backend.settings = settings
    tabs: dict[str, Any] = {}
    with gr.Blocks(title="infinstruct — operator") as app:
        _header()
        with gr.Tab("Corpora"):
            tabs["corpora"] = corpora.build(backend)
        with gr.Tab("Instructions"):
            tabs["instructions"] = instructions.build(backend)
        with gr.Tab("Training"):
            tabs["training"] = training.build(backend)
        with gr.Tab("Models"):
            tabs["models"] = models.build(backend)
        with gr.Tab("Try"):
            try_version, try_choices = try_tab.build(backend)
            tabs["try_version"] = try_version
        with gr.Tab("Hand-offs"):
            handoff_table, handoff_rows, handoff_empty = handoffs.build(backend)
        with gr.Tab("Feedback"):
            feedback_table, feedback_rows = _feedback_tab(backend)
        _wire_timer(backend, tabs)
        # Every page load shows the store as it is now, not as it was when the app was built.
        app.load(guarded(functools.partial(corpora.corpora_frame, backend)), None, tabs["corpora"].table)
        app.load(guarded(functools.partial(models.models_frame, backend)), None, tabs["models"])
        app.load(guarded(try_choices), None, try_version)
        app.load(guarded(handoff_rows), None, handoff_table)
        app.load(guarded(functools.partial(handoffs.empty_note, backend)), None, handoff_empty)
        app.load(guarded(feedback_rows), None, feedback_table)
    return app
