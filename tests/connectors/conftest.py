"""Fixtures of the connectors tests: a module-scoped store, fixture paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from infinstruct.core.settings import Settings, load_settings
from tests.conftest import REPO, TEST_DATA

FIXTURES = TEST_DATA / "connectors"
SAMPLES = REPO / "samples"


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Settings:
    """One migrated store shared by a module's tests (loads are the expensive part)."""
    data_dir = tmp_path_factory.mktemp("connectors") / "var"
    data_dir.mkdir()
    shutil.copy(_migrated_template, data_dir / "infinstruct.db")
    return load_settings(data_dir=data_dir)
