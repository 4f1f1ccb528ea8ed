"""Broken inputs: each gives a clear error or a quarantine, and no good row is lost."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from infinstruct.connectors.ingest import ingest
from infinstruct.core.db import get_engine
from infinstruct.core.errors import ConnectorError, LimitError
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import CorpusVersion, Document, Quarantine
from tests.conftest import REPO
from tests.connectors.conftest import FIXTURES


def _docs(settings: Settings) -> int:
    with Session(get_engine(settings)) as session:
        return int(session.exec(select(func.count()).select_from(Document)).one())


def _reviews_gz(path: Path, n: int) -> bytes:
    lines = [
        json.dumps(
            {
                "overall": 5.0,
                "reviewerID": f"U{i}",
                "asin": f"B{i % 3}",
                "unixReviewTime": 1_500_000_000 + i,
                "reviewText": f"review number {i} " + "x" * 40,
                "summary": f"s{i}",
            }
        )
        for i in range(n)
    ]
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(("\n".join(lines) + "\n").encode())
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def test_truncated_gzip_keeps_the_rows_before_the_cut(settings: Settings, tmp_path: Path) -> None:
    whole = tmp_path / "whole.json.gz"
    data = _reviews_gz(whole, 2000)
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(data[: len(data) // 2])
    report = ingest(settings, cut, show_progress=False)
    assert report["quarantined"] >= 1 and any("damaged gzip" in r for r in report["quarantine_reasons"])
    assert 0 < report["kinds"]["interaction:review"] < 2000


def test_gzip_bomb_is_refused(settings: Settings, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.json.gz"
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(b'{"reviewerID": "A", "asin": "B", "overall": 1}\n' + b" " * (50 * 1024 * 1024))
    bomb.write_bytes(buffer.getvalue())
    with pytest.raises(LimitError, match="gzip bomb"):
        ingest(settings, bomb, connector="amazon-reviews", show_progress=False)


def test_xml_bomb_and_invalid_xml(settings: Settings) -> None:
    with pytest.raises(LimitError, match="bomb.xml declares XML entities"):
        ingest(settings, FIXTURES / "bomb.xml", show_progress=False)
    with pytest.raises(ConnectorError, match="invalid.xml is not well-formed XML"):
        ingest(settings, FIXTURES / "invalid.xml", show_progress=False)


def test_wrong_delimiter_is_sniffed_and_a_mixed_one_quarantined(settings: Settings) -> None:
    report = ingest(settings, FIXTURES / "wrong_delimiter.csv", show_progress=False)
    assert (report["loaded"], report["quarantined"]) == (3, 0)
    mixed = ingest(settings, FIXTURES / "mixed_delimiter.csv", show_progress=False)
    assert (mixed["connector"], mixed["loaded"], mixed["quarantined"]) == ("banking77", 1, 1)


def test_binary_junk_is_refused_by_name(settings: Settings, tmp_path: Path) -> None:
    junk = tmp_path / "export.csv"
    junk.write_bytes(os.urandom(4096).replace(b"\n", b"\x00"))
    with pytest.raises(ConnectorError, match="export.csv"):
        ingest(settings, junk, show_progress=False)
    with pytest.raises(ConnectorError, match="looks binary"):
        ingest(settings, junk, connector="labelled", show_progress=False)


@pytest.mark.slow
def test_a_50mb_field_is_quarantined_and_the_rest_loads(settings: Settings, tmp_path: Path) -> None:
    big = tmp_path / "reviews.csv"
    with big.open("w", encoding="utf-8") as out:
        out.write("label,review\n1,before the big one\n0,")
        out.write("y" * (50 * 1024 * 1024))
        out.write("\n1,after the big one\n")
    report = ingest(settings, big, show_progress=False)
    assert (report["loaded"], report["quarantined"]) == (2, 1)
    assert "max_field_chars" in next(iter(report["quarantine_reasons"]))
    with Session(get_engine(settings)) as session:
        raw = session.exec(select(Quarantine.raw)).one()
    assert len(raw) < 20_000


def test_file_size_limit_names_the_setting(tmp_path: Path, settings: Settings) -> None:
    small = load_settings(data_dir=settings.data_dir, ingest={"max_file_mb": 1})
    big = tmp_path / "big.csv"
    big.write_text("label,review\n" + "1,ok\n" * 300_000, encoding="utf-8")
    with pytest.raises(LimitError, match="ingest.max_file_mb"):
        ingest(small, big, show_progress=False)


@pytest.mark.slow
def test_kill_minus_nine_then_rerun_finishes_without_duplicates(settings: Settings, tmp_path: Path) -> None:
    rows = 30_000
    source = tmp_path / "many.csv"
    source.write_text(
        "label,review\n" + "".join(f"{i % 2},review text number {i}\n" for i in range(rows)), encoding="utf-8"
    )
    env = {
        **os.environ,
        "INFINSTRUCT_DATA_DIR": str(settings.data_dir),
        "INFINSTRUCT_INGEST__BATCH_SIZE": "500",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "infinstruct", "ingest", str(source), "--json"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _docs(settings) < 1000:
            if proc.poll() is not None:
                pytest.fail("the load finished before it could be killed; make the file bigger")
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = _docs(settings)
    assert 0 < partial < rows
    assert partial % 500 == 0  # whole batches only: every transaction all or nothing
    with Session(get_engine(settings)) as session:
        assert session.exec(select(CorpusVersion.status)).one() == "loading"

    report = ingest(settings, source, show_progress=False)
    assert report["resumed"] and report["version"] == 1
    assert report["loaded"] == rows and _docs(settings) == rows
    with Session(get_engine(settings)) as session:
        assert session.exec(select(CorpusVersion.status)).one() == "complete"
