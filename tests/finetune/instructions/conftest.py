"""A store filled by ``factory.fill_store`` and built once per module (reads are shared)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infinstruct.core.settings import Settings, load_settings
from infinstruct.finetune.instructions import build_instruction_set
from tests.finetune.instructions.factory import fill_store


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path
) -> Iterator[tuple[Settings, dict[str, Any]]]:
    """(settings, report) of one build over the factory store; tests must not write to it."""
    data_dir = tmp_path_factory.mktemp("instructions") / "var"
    data_dir.mkdir()
    shutil.copy(_migrated_template, data_dir / "infinstruct.db")
    settings = load_settings(data_dir=data_dir)
    fill_store(settings)
    yield settings, build_instruction_set(settings)
