"""The Try tab: ask any dialogue version (active or not) a question, beside the active one,
before activating it. Nothing is stored: no conversation, feedback or hand-off."""

import functools
import html
from typing import Any

import gradio as gr

from infinstruct.ui.operator.backend import OperatorBackend
from infinstruct.ui.operator.common import guarded


def answer_markdown(title: str, data: dict[str, Any] | None) -> str:
    """Reply, route, intent and sources of one answer (the operator sees everything)."""
    if not data:
        return f"### {html.escape(title)}\n\nNo answer."
    lines = [
        f"### {html.escape(title)}",
        html.escape(str(data.get("answer", ""))),
        "",
        f"**Route:** {data.get('route')} · **Intent:** {data.get('intent') or '—'} · "
        f"**Model:** {data.get('model_version') or '—'} · {data.get('latency_ms', 0):.0f} ms",
    ]
    sources = data.get("sources") or []
    if sources:
        lines += ["", "| corpus | title | score | excerpt |", "|---|---|---|---|"]
        lines += [
            f"| {s.get('corpus', '')} | {html.escape(str(s.get('title', '')))} | {s.get('score', '')} | "
            f"{html.escape(' '.join(str(s.get('snippet', '')).split())[:100])} |"
            for s in sources
        ]
    return "\n".join(lines)


def ask(backend: OperatorBackend, version: str, question: str) -> tuple[str, str]:
    both = backend.try_version(version, question)
    active = both.get("active")
    active_title = f"Active version ({active.get('model_version')})" if active else "Active version"
    return answer_markdown(f"Tried: {version}", both.get("tried")), answer_markdown(active_title, active)


def version_choices(backend: OperatorBackend) -> Any:
    return gr.Dropdown(choices=backend.dialogue_versions())


def build(backend: OperatorBackend) -> Any:
    on = functools.partial
    gr.Markdown("Ask a version before you activate it. Nothing asked here is stored.")
    with gr.Row():
        version = gr.Dropdown(backend.dialogue_versions(), label="Version", elem_id="try-version")
        question = gr.Textbox(label="Question", elem_id="try-question", scale=3)
        ask_btn = gr.Button("Ask", variant="primary")
    with gr.Row():
        tried = gr.Markdown(elem_id="try-tried")
        active = gr.Markdown(elem_id="try-active")
    ask_btn.click(guarded(on(ask, backend)), [version, question], [tried, active])
    question.submit(guarded(on(ask, backend)), [version, question], [tried, active])
    return version, on(version_choices, backend)
