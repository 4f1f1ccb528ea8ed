from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infinstruct.core.errors import InputError, LimitError
from infinstruct.core.settings import Settings
from infinstruct.core.uploads import safe_filename, store_upload


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


def test_gradio_temp_copies_are_removed_whether_stored_or_refused(settings: Settings) -> None:
    from infinstruct.core.uploads import gradio_temp_dir

    accepted = gradio_temp_dir(settings) / "abc123" / "notes.csv"
    refused = gradio_temp_dir(settings) / "def456" / "tool.exe"
    for path, text in ((accepted, "a,b\n1,2\n"), (refused, "MZ")):
        path.parent.mkdir(parents=True)
        path.write_text(text)
    assert store_upload(settings, accepted, accepted.name).read_text() == "a,b\n1,2\n"
    with pytest.raises(InputError):
        store_upload(settings, refused, refused.name)
    assert not accepted.exists() and not refused.exists()
    assert not accepted.parent.exists() and not refused.parent.exists()


def test_operator_sources_stay_inside_the_import_roots(settings: Settings, tmp_path: Path) -> None:
    from infinstruct.core.uploads import check_operator_source

    root = settings.uploads_dir
    (root / "day").mkdir(parents=True)
    good = root / "day" / "tickets.csv"
    good.write_text("a\n")
    assert check_operator_source(settings, str(good)) == str(good.resolve())
    assert check_operator_source(settings, "day/tickets.csv") == str(good.resolve())  # relative to the root
    outside = tmp_path / "secret.txt"
    outside.write_text("s3cret")
    (root / "link.txt").symlink_to(outside)
    (root / "linked").mkdir()
    (root / "linked" / "inner").symlink_to(outside)
    for source in (
        "/etc/passwd",
        str(settings.data_dir / "secret_key"),
        "../../etc/passwd",
        "link.txt",
        "linked",
    ):
        with pytest.raises(InputError):
            check_operator_source(settings, source)
    with pytest.raises(InputError, match="only http"):
        check_operator_source(settings, "file:///etc/passwd")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:7860/healthz",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/feed.xml",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_urls_to_internal_addresses_are_refused(settings: Settings, url: str) -> None:
    from infinstruct.core.errors import ConnectorError
    from infinstruct.core.uploads import check_operator_source

    with pytest.raises(ConnectorError, match="refusing to fetch"):
        check_operator_source(settings, url)


def test_a_fetch_refuses_loopback_unless_the_intranet_is_allowed(settings: Settings) -> None:
    """The same rule inside the download (first hop; every redirect goes through it too)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from infinstruct.connectors.fetch import fetch_to_cache
    from infinstruct.core.errors import ConnectorError

    class Feed(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<rss><channel></channel></rss>"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
    try:
        with pytest.raises(ConnectorError, match="loopback"):
            fetch_to_cache(settings, url)
        settings.ingest.allow_private_urls = True
        assert fetch_to_cache(settings, url).read_bytes().startswith(b"<rss>")
    finally:
        server.shutdown()
        server.server_close()


def test_job_sources_come_after_a_double_dash(settings: Settings) -> None:
    from infinstruct.core import jobs

    job = jobs.launch_cli_job(settings, kind="ingest", args=["ingest"], positional=["--help"])
    assert job.command[-2:] == ["--", "--help"], job.command
