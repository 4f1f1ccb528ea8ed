"""The analyst dashboard: ``view`` (handlers for one user), ``handlers`` (per request), ``app``."""

from typing import Any

from infinstruct.ui.analyst.handlers import caller, per_caller
from infinstruct.ui.analyst.view import AnalystView


def build_analyst_app(settings: Any) -> Any:
    from infinstruct.ui.analyst.app import build_analyst_app as build

    return build(settings)


__all__ = ["AnalystView", "build_analyst_app", "caller", "per_caller"]
