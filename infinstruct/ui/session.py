"""The Log out button of every signed-in page (operator, analyst)."""

from __future__ import annotations

from typing import Any

LOGOUT_JS = """() => {
  const form = document.createElement('form');
  form.method = 'post'; form.action = '/logout';
  document.body.appendChild(form); form.submit();
}"""


def logout_button() -> Any:
    """A Log out button that posts to ``/logout`` (the server ends the session there)."""
    import gradio as gr

    button = gr.Button("Log out", elem_id="logout", size="sm", scale=0, min_width=100)
    button.click(None, None, None, js=LOGOUT_JS)
    return button
