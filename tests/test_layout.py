"""The layout and the dependency rule of DESIGN.md, checked for real."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERED_PACKAGES = (
    "core",
    "auth",
    "embeddings",
    "recommend",
    "retrieval",
    "dialogue",
    "sentiment",
    "chat",
    "alerts",
    "connectors",
    "finetune",
    "ui",
)


def test_layout_has_the_parts() -> None:
    for part in LAYERED_PACKAGES:
        assert (REPO / "infinstruct" / part / "__init__.py").is_file(), part
    for path in (
        "infinstruct/cli.py",
        "infinstruct/services.py",
        "infinstruct/config/settings.yaml",
        "Makefile",
        ".ci/run",
        "pyproject.toml",
        "README.md",
        "bench",
        "tests",
    ):
        assert (REPO / path).exists(), path
    assert not (REPO / "platform").exists(), "a top-level platform/ would shadow the standard library"


def test_stdlib_platform_is_not_shadowed() -> None:
    # With the repo root first on sys.path (as `python -m` from the root does).
    out = subprocess.run(
        [sys.executable, "-c", "import platform, sys; print(platform.__file__); print(platform.system())"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "site-packages" not in out[0] and "infinstruct" not in out[0], out[0]
    assert out[1] == "Linux"


def test_config_holds_only_yaml() -> None:
    files = [p for p in (REPO / "infinstruct" / "config").rglob("*") if p.is_file()]
    assert files and all(p.suffix in {".yaml", ".yml"} for p in files), files


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )


def test_dependency_contracts_hold() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("where", "imports"),
    [
        ("core", "infinstruct.chat"),  # the kernel reaching up into a feature
        ("retrieval", "infinstruct.chat"),  # a runtime reaching up a layer
        ("dialogue", "infinstruct.sentiment"),  # two siblings of one layer
        ("ui", "infinstruct.connectors"),  # a part importing another part
    ],
)
def test_dependency_check_catches_a_planted_violation(tmp_path: Path, where: str, imports: str) -> None:
    shutil.copytree(
        REPO / "infinstruct", tmp_path / "infinstruct", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    # An import hidden inside a function still counts.
    (tmp_path / "infinstruct" / where / "planted.py").write_text(
        f"def sneaky() -> None:\n    import {imports}  # noqa: F401\n"
    )
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"infinstruct.{where}.planted" in result.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from infinstruct.cli import app\n"
        "r = CliRunner().invoke(app, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "for sub in ('ingest', 'index', 'train', 'eval', 'models'):\n"
        "    CliRunner().invoke(app, [sub, '--help'])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'gradio', 'sentence_transformers', 'faiss')"
        " if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
