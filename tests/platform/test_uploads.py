from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infinstruct.platform.errors import InputError, LimitError
from infinstruct.platform.settings import Settings
from infinstruct.platform.uploads import safe_filename, store_upload


@given(st.text(min_size=1, max_size=80))
def test_safe_filename_never_escapes(name: str) -> None:
    try:
        cleaned = safe_filename(name)
    except InputError:
        return
    assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")
    assert cleaned not in ("", ".", "..")


def test_traversal_names_land_in_uploads(settings: Settings, tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("a,b\n1,2\n")
    stored = store_upload(settings, src, "../../etc/passwd.csv")
    assert stored.is_relative_to(settings.uploads_dir.resolve())
    assert stored.name.endswith("-passwd.csv") and stored.read_text() == "a,b\n1,2\n"
    assert safe_filename("评论.csv") == "评论.csv"


def test_type_size_and_content_checks(settings: Settings, tmp_path: Path) -> None:
    src = tmp_path / "x.exe"
    src.write_bytes(b"MZ\x00\x00")
    with pytest.raises(InputError, match="not an accepted corpus file"):
        store_upload(settings, src, "x.exe")
    fake = tmp_path / "fake.csv"
    fake.write_bytes(b"\x00\x01binary junk")
    with pytest.raises(InputError, match="looks binary"):
        store_upload(settings, fake, "fake.csv")
    not_gz = tmp_path / "n.gz"
    not_gz.write_text("plain")
    with pytest.raises(InputError, match="is not"):
        store_upload(settings, not_gz, "n.gz")
    real_gz = tmp_path / "r.json.gz"
    real_gz.write_bytes(gzip.compress(b'{"a": 1}\n'))
    assert store_upload(settings, real_gz, "r.json.gz").exists()
    small = settings.model_copy(update={"server": settings.server.model_copy(update={"max_upload_mb": 0})})
    with pytest.raises(LimitError, match="upload limit"):
        store_upload(small, real_gz, "r.json.gz")
