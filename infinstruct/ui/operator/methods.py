"""The Training tab's method comparison: the last ``infinstruct train compare`` as a table
beside the recipe picker, so the operator picks a method from numbers measured on their data.
Re-read on every page load (a comparison run from the CLI shows up without a restart)."""

import functools
from typing import Any

import gradio as gr

from infinstruct.ui.operator.backend import OperatorBackend

EMPTY = (
    "No comparison yet. `infinstruct train compare smollm2-lora --methods lora,bottleneck,full` "
    "trains each method on this data with the same steps and seed and shows here what each costs "
    "(trainable parameters, tokens/s, memory, artifact size, time) and gives (validation loss)."
)


def comparison_markdown(backend: OperatorBackend) -> str:
    if backend.method_comparison is None:
        return EMPTY
    return backend.method_comparison() or EMPTY


def build(backend: OperatorBackend) -> Any:
    return gr.Markdown(functools.partial(comparison_markdown, backend), elem_id="method-comparison")
