"""Per-request handlers: one mounted dashboard serves every analyst.

Each handler resolves the caller from the request (``request.username``, set by the login
layer's ``auth_dependency``), never from a user fixed when the page was built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from infinstruct.core.errors import AuthError, InfinstructError
from infinstruct.core.settings import Settings
from infinstruct.ui.analyst.view import AnalystView


def caller(request: Any) -> str:
    """The logged-in username of a Gradio request (the mount's ``auth_dependency`` sets it)."""
    username = getattr(request, "username", None)
    if not username:
        raise AuthError("log in as an analyst at /login?next=/analyst/ to see your alerts")
    return str(username)


def per_caller(
    settings: Settings, action: Callable[[AnalystView], Callable[..., Any]], arity: int
) -> Callable[..., Any]:
    """A Gradio handler taking ``arity`` component values, run as the request's user.

    Gradio injects the request into a positional parameter annotated ``gr.Request``; the
    signature is built explicitly because this module cannot name ``gr.Request`` at import
    time (gradio is imported lazily, and string annotations would not resolve).
    """
    import gradio as gr

    def handler(*args: Any) -> Any:
        *values, request = args
        try:
            return action(AnalystView(settings, caller(request)))(*values)
        except InfinstructError as exc:  # the UI boundary
            raise gr.Error(str(exc)) from exc

    params = [inspect.Parameter(f"value{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(arity)]
    params.append(
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
    )
    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # read by gradio
    handler.__annotations__ = {"request": gr.Request}
    return handler


def picked_alert(evt: Any) -> int | None:
    """The alert id of a clicked alerts-table row."""
    value = getattr(evt, "row_value", None)
    return int(value[0]) if value else None
