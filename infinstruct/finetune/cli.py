"""Commands of the finetune part; registered on the root app by ``infinstruct.cli``."""

from __future__ import annotations

import typer


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this part's commands to the root app and the shared ``eval`` group."""
