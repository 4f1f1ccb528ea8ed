"""Commands of instructions; registered on the root app by ``infinstruct.cli``."""

from __future__ import annotations

import typer


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add these commands to the root app and the shared ``eval`` group."""
