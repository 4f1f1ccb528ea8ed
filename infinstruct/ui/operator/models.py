"""The Models tab: every version with its metrics as columns (click a row to select it),
two versions side by side, Activate (through the regression gate), roll back."""

import functools
from typing import Any

import gradio as gr

from infinstruct.ui.operator.backend import METRICS, OperatorBackend
from infinstruct.ui.operator.common import frame, guarded

MODEL_COLUMNS = ["name", "kind", "status", "recipe", "method", *[h for h, _ in METRICS], "created"]


def models_frame(backend: OperatorBackend) -> Any:
    return frame(backend.models_rows(), MODEL_COLUMNS)


def pick_model(backend: OperatorBackend, evt: gr.SelectData) -> tuple[str, Any]:
    name = str(evt.row_value[0]) if evt.row_value else ""
    others = [r["name"] for r in backend.models_rows() if r["name"] != name]
    return name, gr.Dropdown(choices=others, value=None)


def compare(backend: OperatorBackend, first: str, second: str) -> Any:
    rows = backend.compare(first, second)
    return frame(rows, ["", first, second])


def activate(backend: OperatorBackend, name: str, force: bool) -> tuple[str, Any]:
    return backend.activate(name, force), models_frame(backend)


def rollback_model(backend: OperatorBackend, kind: str) -> tuple[str, Any]:
    return backend.rollback_model(kind), models_frame(backend)


def build(backend: OperatorBackend) -> Any:
    on = functools.partial
    gr.Markdown("Click a version to select it.")
    table = gr.Dataframe(models_frame(backend), label="Models", interactive=False, elem_id="models")
    with gr.Row():
        selected = gr.Textbox(label="Selected version", interactive=False, elem_id="selected-model")
        force = gr.Checkbox(label="Force past the regression gate")
        activate_btn = gr.Button("Activate", variant="primary")
    with gr.Row():
        kind = gr.Dropdown(["dialogue", "sentiment"], value="dialogue", label="Kind")
        rollback_btn = gr.Button("Roll back to previous")
    note = gr.Markdown(elem_id="model-msg")
    with gr.Row():
        other = gr.Dropdown([], label="Compare with")
        compare_btn = gr.Button("Compare")
    side_by_side = gr.Dataframe(label="Side by side", interactive=False, elem_id="compare")
    table.select(guarded(on(pick_model, backend)), None, [selected, other])
    activate_btn.click(guarded(on(activate, backend)), [selected, force], [note, table])
    rollback_btn.click(guarded(on(rollback_model, backend)), kind, [note, table])
    compare_btn.click(guarded(on(compare, backend)), [selected, other], side_by_side)
    return table
