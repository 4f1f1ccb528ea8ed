"""The PostgreSQL ingest path on real data: bulk insert, idempotent re-load, and a kill -9 in
the middle of a load followed by a rerun that finishes it without duplicates.

(tests/connectors/test_limits.py covers the same on SQLite; the bulk insert differs per dialect:
``INSERT ... ON CONFLICT DO NOTHING`` here, ``INSERT OR IGNORE`` there.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from sqlmodel import Session, func, select

from infinstruct.connectors.ingest import ingest
from infinstruct.core.db import get_engine
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, CorpusVersion, Document
from tests.conftest import REPO, postgres_database, shared_path

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A migrated PostgreSQL database of its own (the server's URL from the environment)."""
    with postgres_database("ingest", data_dir=tmp_path_factory.mktemp("pg-ingest")) as settings:
        yield settings


def _docs(settings: Settings, corpus: str) -> tuple[int, int]:
    """(documents, distinct document ids) of ``corpus``."""
    with Session(get_engine(settings)) as session:
        query = select(func.count(), func.count(func.distinct(Document.id))).join(
            Corpus, Corpus.id == Document.corpus_id
        )
        total, distinct = session.exec(query.where(Corpus.name == corpus)).one()
    return int(total), int(distinct)


def _versions(settings: Settings, corpus: str) -> list[str]:
    with Session(get_engine(settings)) as session:
        query = select(CorpusVersion.status).join(Corpus, Corpus.id == CorpusVersion.corpus_id)
        return list(session.exec(query.where(Corpus.name == corpus)).all())


def _committed(settings: Settings, corpus: str) -> tuple[int, int, int]:
    """(read, duplicates, quarantined) as the loading version's row last recorded them."""
    with Session(get_engine(settings)) as session:
        query = select(CorpusVersion.read, CorpusVersion.duplicates, CorpusVersion.quarantined)
        query = query.join(Corpus, Corpus.id == CorpusVersion.corpus_id).where(Corpus.name == corpus)
        read, duplicates, quarantined = session.exec(query).one()
        return read, duplicates, quarantined


def test_bulk_load_then_an_identical_reload_adds_nothing(pg_settings: Settings) -> None:
    source = shared_path("finance", "twitter_financial_news_sentiment", "sent_train.csv")
    first = ingest(pg_settings, source, corpus="fin_news", show_progress=False)
    assert first["loaded"] > 9000 and first["quarantined"] == 0, first
    assert _docs(pg_settings, "fin_news") == (first["loaded"], first["loaded"])
    again = ingest(pg_settings, source, corpus="fin_news", show_progress=False)
    assert again["loaded"] == 0, again  # unchanged content: no new version, no new rows
    assert _docs(pg_settings, "fin_news") == (first["loaded"], first["loaded"])
    assert _versions(pg_settings, "fin_news") == ["complete"]


def test_kill_minus_nine_mid_load_then_rerun_finishes_without_duplicates(pg_settings: Settings) -> None:
    source = shared_path("support", "banking77", "train.csv")
    env = {
        **os.environ,
        "INFINSTRUCT_DATA_DIR": str(pg_settings.data_dir),
        "INFINSTRUCT_DATABASE__URL": pg_settings.database.url,
        "INFINSTRUCT_INGEST__BATCH_SIZE": "200",
    }
    proc = subprocess.Popen(  # our own CLI, argv list
        [sys.executable, "-m", "infinstruct", "ingest", str(source), "--corpus", "b77", "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _docs(pg_settings, "b77")[0] < 1000:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(
                    f"the load ended before it could be killed (exit {proc.returncode}): {err[-500:]}"
                )
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial, _ = _docs(pg_settings, "b77")
    assert 1000 <= partial < 10_000
    # Whole batches only: each transaction writes 200 records' documents together with the
    # version's counts, so what survived the kill is exactly what the counts say. (The number of
    # documents alone need not be a multiple of 200: a duplicate row in a batch adds none.)
    read, duplicates, quarantined = _committed(pg_settings, "b77")
    assert read % 200 == 0, read
    assert partial == read - duplicates - quarantined, (partial, read, duplicates, quarantined)
    assert _versions(pg_settings, "b77") == ["loading"]

    report = ingest(pg_settings, source, corpus="b77", show_progress=False)
    assert report["resumed"] and report["version"] == 1, report
    total, distinct = _docs(pg_settings, "b77")
    assert total == distinct == report["loaded"] > 9_900, (total, distinct, report)
    assert _versions(pg_settings, "b77") == ["complete"]
