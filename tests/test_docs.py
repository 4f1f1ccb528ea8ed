"""Documentation test: every setting and every CLI command is mentioned in README.md or docs/."""

from __future__ import annotations

from typing import Any

import typer

from infinstruct.cli import app
from infinstruct.core.settings import describe_fields
from tests.conftest import REPO


def _docs() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    )


def _command_paths(group: Any, prefix: str = "") -> list[str]:
    paths = []
    for name, cmd in group.commands.items():
        path = f"{prefix}{name}"
        if hasattr(cmd, "commands"):
            paths.extend(_command_paths(cmd, prefix=f"{path} "))
        else:
            paths.append(path)
    return paths


def test_every_cli_command_is_documented() -> None:
    docs = _docs()
    root = typer.main.get_command(app)
    missing = [p for p in _command_paths(root) if f"infinstruct {p}" not in docs]
    assert missing == [], f"document these commands in README.md or docs/*.md: {missing}"


def test_every_setting_is_documented() -> None:
    docs = _docs()
    missing = [row["key"] for row in describe_fields() if f"`{row['key']}`" not in docs]
    assert missing == [], f"document these settings in README.md or docs/*.md: {missing}"
