"""The Hand-offs tab: every question the chat did not answer, the most frequent intents
first. Click one, write the Answer, click Answer: it becomes a curated answer (and, with the
box ticked, the answer of its whole intent), and the hand-off closes."""

import functools
from typing import Any

import gradio as gr

from infinstruct.ui.operator.backend import OperatorBackend
from infinstruct.ui.operator.common import frame, guarded, username

HANDOFF_COLUMNS = ["id", "question", "intent", "asked for this intent", "asked"]
EMPTY = "No unanswered questions. Questions the chat hands off or declines appear here."


def handoffs_frame(backend: OperatorBackend) -> Any:
    return frame(backend.handoff_rows(), HANDOFF_COLUMNS)


def empty_note(backend: OperatorBackend) -> str:
    return "" if backend.handoff_rows() else EMPTY


def pick(evt: gr.SelectData) -> tuple[int | None, str]:
    if not evt.row_value:
        return None, ""
    return int(evt.row_value[0]), f"**Question:** {evt.row_value[1]}  \n**Intent:** {evt.row_value[2]}"


def make_answer(backend: OperatorBackend) -> Any:
    # Not functools.partial: Gradio injects gr.Request by the annotation of a plain function.
    def answer(
        handoff_id: int | None, text: str, to_intent: bool, request: gr.Request
    ) -> tuple[str, Any, None, str, str]:
        note = backend.answer_handoff(handoff_id, text, to_intent=to_intent, by=username(request))
        return note, handoffs_frame(backend), None, "", empty_note(backend)

    return guarded(answer)


def build(backend: OperatorBackend) -> Any:
    gr.Markdown("Questions the chat handed off or declined. Click one to answer it.")
    empty = gr.Markdown(empty_note(backend), elem_id="handoffs-empty")
    table = gr.Dataframe(
        handoffs_frame(backend), label="Unanswered questions", interactive=False, elem_id="handoffs"
    )
    picked = gr.State(None)
    shown = gr.Markdown(elem_id="handoff-picked")
    text = gr.Textbox(label="Answer", lines=3, elem_id="handoff-answer")
    to_intent = gr.Checkbox(label="Also use this answer for every question of this intent", value=False)
    button = gr.Button("Answer", variant="primary")
    note = gr.Markdown(elem_id="handoff-msg")
    table.select(guarded(pick), None, [picked, shown])
    button.click(make_answer(backend), [picked, text, to_intent], [note, table, picked, text, empty])
    refresh = functools.partial(handoffs_frame, backend)
    return table, refresh, empty
