"""Documentation test: every setting and every CLI command is mentioned in README.md or docs/."""

from __future__ import annotations

import re
from pathlib import Path
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


def _code_paragraph(page: Path) -> str:
    """The paragraph starting with ``Code:`` near the top of a docs page ('' if none)."""
    paragraphs = page.read_text(encoding="utf-8").split("\n\n")[:4]
    return next((p for p in paragraphs if p.startswith("Code:")), "")


def test_every_docs_page_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in sorted((REPO / "docs").glob("*.md")) if f"docs/{p.name}" not in readme]
    assert missing == [], f"link these pages from README.md: {missing}"


def test_every_docs_page_names_its_code_and_the_names_exist() -> None:
    # The doc map: a newcomer gets from a page to the module in one hop, so a page must say
    # where its code lives, and a renamed module must not leave the page pointing nowhere.
    pages = sorted((REPO / "docs").glob("*.md"))
    without = [p.name for p in pages if not _code_paragraph(p)]
    assert without == [], f"start these pages with a 'Code:' paragraph: {without}"
    dangling = [
        (p.name, path)
        for p in pages
        for path in re.findall(r"`((?:infinstruct|bench|tests)/[\w/.-]*)", _code_paragraph(p))
        if not (REPO / path.rstrip(":")).exists()
    ]
    assert dangling == [], f"these pages name code that does not exist: {dangling}"


def test_the_readme_layout_names_every_package() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    packages = sorted(p.parent.name for p in (REPO / "infinstruct").glob("*/__init__.py"))
    missing = [name for name in packages if f"  {name}/" not in layout]
    assert missing == [], f"list these packages in the README layout: {missing}"
