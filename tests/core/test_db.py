from __future__ import annotations

import os

import pytest
from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core import db
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import Corpus, CorpusVersion


def _postgres_url() -> str:
    url = os.environ.get("INFINSTRUCT_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("INFINSTRUCT_TEST_POSTGRES_URL is unset; .ci/run starts PostgreSQL (make services)")
        pytest.skip("no PostgreSQL: run `bash .ci/postgres.sh` and set INFINSTRUCT_TEST_POSTGRES_URL")
    return url


def test_sqlite_upgrade_pragmas_and_no_pending_changes(settings: Settings) -> None:
    assert db.current_revision(settings) == db.head_revision()
    db.check_pending(settings)
    with db.get_engine(settings).connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(settings: Settings) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), db.session_scope(settings) as session:
        session.add(CorpusVersion(corpus_id=999, version=1, content_hash="x"))


def test_db_upgrade_cli_creates_schema(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INFINSTRUCT_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["db", "upgrade", "--json"])
    assert result.exit_code == 0, result.output
    assert '"revision": "0001"' in result.output or db.head_revision() in result.output
    assert (tmp_path / "infinstruct.db").exists()


@pytest.mark.postgres
def test_postgres_upgrade_roundtrip_and_no_pending_changes() -> None:
    s = load_settings(database={"url": _postgres_url()})
    with db.get_engine(s).begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    assert db.upgrade(s) == db.head_revision()
    db.check_pending(s)
    with db.session_scope(s) as session:
        session.add(Corpus(name="pg", domain="support", connector="x"))
    with db.session_scope(s) as session:
        assert session.exec(select(Corpus).where(Corpus.name == "pg")).one().domain == "support"
