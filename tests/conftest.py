"""Shared fixtures: real settings over a real small SQLite store, and the shared data."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Offline and quiet, before anything imports transformers or the hub client.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _key in [k for k in os.environ if k.startswith("INFINSTRUCT_") and not k.startswith("INFINSTRUCT_TEST_")]:
    del os.environ[_key]

from infinstruct.core.settings import Settings, load_settings  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data; skip (or, with CI=true, fail) when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"{path} is absent (the real data sets live in ../shared/data beside the repo)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sqlalchemy import text

    from infinstruct.core.db import get_engine, upgrade

    folder = tmp_path_factory.mktemp("template")
    template = load_settings(data_dir=folder)
    upgrade(template)
    engine = get_engine(template)
    with engine.connect() as conn:  # fold the WAL into the file so a plain copy is complete
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return folder / "infinstruct.db"


@pytest.fixture
def settings(tmp_path: Path, _migrated_template: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings over a fresh, migrated SQLite store in a temporary data dir."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    shutil.copy(_migrated_template, data_dir / "infinstruct.db")
    return load_settings(data_dir=data_dir)


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Environment that points the CLI (in-process or a subprocess) at ``settings``."""
    monkeypatch.setenv("INFINSTRUCT_DATA_DIR", str(settings.data_dir))
    yield {**os.environ, "INFINSTRUCT_DATA_DIR": str(settings.data_dir)}


def subprocess_env(data_dir: Path, home: Path) -> dict[str, str]:
    """A clean environment for a CLI subprocess over ``data_dir`` (offline, no INFINSTRUCT_*)."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(home)),  # shares the converted-model cache
        "INFINSTRUCT_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of one `infinstruct demo --smoke` run, started outside the checkout
    (as anyone who installed the package would); shared by the demo and the UI tests."""
    import subprocess
    import sys

    elsewhere = tmp_path_factory.mktemp("not-the-checkout")
    data_dir = elsewhere / "var"
    prepared = os.environ.get("INFINSTRUCT_TEST_DEMO_STORE")  # a store made by an earlier run
    if prepared:
        shutil.copytree(prepared, data_dir)
        return data_dir
    result = subprocess.run(
        [sys.executable, "-m", "infinstruct", "demo", "--smoke"],
        cwd=elsewhere,
        env=subprocess_env(data_dir, elsewhere),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return data_dir


@contextlib.contextmanager
def postgres_database(prefix: str, **settings: object) -> Iterator[Settings]:
    """Settings on a migrated PostgreSQL database of its own, dropped afterwards.

    The server comes from ``INFINSTRUCT_TEST_POSTGRES_URL`` (``.ci/run`` starts one); without
    it the test skips, except under ``CI=true``, where it fails.
    """
    from sqlalchemy import create_engine, text

    from infinstruct.core.db import get_engine, upgrade

    url = os.environ.get("INFINSTRUCT_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("INFINSTRUCT_TEST_POSTGRES_URL is unset; .ci/run starts PostgreSQL (make services)")
        pytest.skip("no PostgreSQL: run `bash .ci/postgres.sh` and set INFINSTRUCT_TEST_POSTGRES_URL")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_settings = load_settings(database={"url": url.rsplit("/", 1)[0] + "/" + name}, **settings)
    upgrade(db_settings)
    try:
        yield db_settings
    finally:
        get_engine(db_settings).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
