"""The operator console (Gradio): one module per tab, handlers through ``OperatorBackend``.

``app.build_operator_app`` composes the tabs: Corpora, Instructions, Training, Models, Try,
Hand-offs and Feedback. Nothing here holds business logic: the backend reaches the parts
(wired in ``services.py``) and the platform's shared services.
"""

from infinstruct.ui.operator.backend import OperatorBackend


def build_operator_app(*args, **kwargs):  # type: ignore[no-untyped-def]  # gradio imports on use
    from infinstruct.ui.operator.app import build_operator_app as build

    return build(*args, **kwargs)


__all__ = ["OperatorBackend", "build_operator_app"]
