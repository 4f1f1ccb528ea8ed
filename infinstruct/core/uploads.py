"""Uploaded files and operator sources: what the operator console may load.

Uploads: size limit, type check, safe names, stored under the data dir only; Gradio's temp
copy (under the data dir, ``gradio_temp_dir``) is removed once the upload is stored or
refused. Paths and URLs typed into the console pass :func:`check_operator_source`: local
paths only inside ``ingest.import_roots`` (default: the uploads folder), symlinks out of a
root refused; URLs only to public addresses (the SSRF rule in ``connectors.fetch``, applied
again to every redirect when the job fetches).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import unicodedata
from pathlib import Path

from infinstruct.core.errors import InputError, LimitError
from infinstruct.core.settings import Settings
from infinstruct.core.tables._columns import utcnow

ALLOWED_SUFFIXES = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".xml", ".rss", ".atom", ".gz", ".zip")
_COMPRESSED = (".gz", ".zip")
_MAGIC = {".gz": b"\x1f\x8b", ".zip": b"PK\x03\x04"}


def safe_filename(name: str) -> str:
    """The last path component, letters/digits (any script), '.', '-', '_' only; never hidden."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name))[-1]
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in base).strip("._")
    if not cleaned:
        raise InputError(f"unusable upload file name {name!r}; rename the file")
    return cleaned[:150]


def _suffix(name: str) -> str:
    lower = name.lower()
    for suffix in sorted(ALLOWED_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return suffix
    raise InputError(f"{name!r} is not an accepted corpus file; accepted: {', '.join(ALLOWED_SUFFIXES)}")


def check_content(path: Path, suffix: str) -> None:
    head = path.open("rb").read(8192)
    if suffix in _MAGIC:
        if not head.startswith(_MAGIC[suffix]):
            raise InputError(f"{path.name} says {suffix} but is not; upload the real file")
    elif b"\x00" in head:
        raise InputError(f"{path.name} looks binary, not {suffix} text; upload the real file")


def gradio_temp_dir(settings: Settings) -> Path:
    """Where Gradio writes uploads in flight (``GRADIO_TEMP_DIR``): inside the data dir."""
    return settings.data_dir / "tmp" / "gradio"


def store_upload(settings: Settings, source: Path, original_name: str) -> Path:
    """Copy an uploaded temp file into ``<data_dir>/uploads`` after the checks; returns its path.

    Gradio's temp copy is deleted whether the upload is stored or refused.
    """
    try:
        return _store_upload(settings, source, original_name)
    finally:
        _drop_gradio_temp(settings, source)


def _drop_gradio_temp(settings: Settings, source: Path) -> None:
    temp = gradio_temp_dir(settings).resolve()
    resolved = source.resolve()
    if resolved.is_relative_to(temp) and resolved != temp:
        resolved.unlink(missing_ok=True)
        folder = resolved.parent  # Gradio keeps each upload in a folder of its own
        if folder != temp and folder.is_relative_to(temp) and not any(folder.iterdir()):
            folder.rmdir()


def _store_upload(settings: Settings, source: Path, original_name: str) -> Path:
    name = safe_filename(original_name)
    suffix = _suffix(name)
    size = source.stat().st_size
    limit = settings.server.max_upload_mb * 1024 * 1024
    if size > limit:
        raise LimitError(
            f"{name} is {size / 2**20:.1f} MiB, over the {settings.server.max_upload_mb} MiB upload "
            "limit (server.max_upload_mb); load big files by path with `infinstruct ingest`"
        )
    check_content(source, suffix)
    folder = (settings.uploads_dir / utcnow().strftime("%Y%m%d")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    target = (folder / f"{secrets.token_hex(4)}-{name}").resolve()
    if not target.is_relative_to(settings.uploads_dir.resolve()):
        raise InputError(f"refusing to store {original_name!r} outside the uploads folder")
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    tmp.replace(target)  # atomic: a half-copied upload is never seen under its real name
    return target


def import_roots(settings: Settings) -> list[Path]:
    """The folders the console may load local paths from (``ingest.import_roots``)."""
    roots = [Path(r).expanduser() for r in settings.ingest.import_roots] or [settings.uploads_dir]
    return [r.resolve() for r in roots]


def check_operator_source(settings: Settings, source: str) -> str:
    """The source the console may load (a resolved local path or a checked URL), else an error.

    The console runs as the server, so without this an operator (or whoever holds an
    operator session) could load ``/etc/…``, the server's ``secret_key`` or an internal URL
    into a corpus that anonymous customers then query through the chat.
    """
    from infinstruct.core.urls import check_public_url

    text = source.strip()
    if not text:
        raise InputError("give a path or URL to load")
    if text.startswith(("http://", "https://")):
        return check_public_url(settings, text)
    if "://" in text:
        raise InputError(f"{text!r}: only http:// and https:// URLs can be loaded")
    roots = import_roots(settings)
    given = Path(text).expanduser()
    candidate = given if given.is_absolute() else roots[0] / given
    allowed = " or ".join(str(r) for r in roots)
    try:
        resolved = candidate.resolve(strict=True)  # follows symlinks: a link out lands outside
    except (FileNotFoundError, RuntimeError) as exc:
        raise InputError(f"no file or folder {text!r} under {allowed}; upload it or check the name") from exc
    root = next((r for r in roots if resolved.is_relative_to(r)), None)
    if root is None:
        raise InputError(
            f"{text!r} is outside the import roots ({allowed}); copy it there, add its folder to "
            "ingest.import_roots, or load it with `infinstruct ingest` on the server"
        )
    if resolved.is_dir():
        _refuse_links_out(resolved, root, text)
    return str(resolved)


def _refuse_links_out(folder: Path, root: Path, shown: str) -> None:
    for current, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            entry = Path(current) / name
            if entry.is_symlink() and not entry.resolve().is_relative_to(root):
                raise InputError(f"{shown!r} holds {entry.name}, a link out of the import root {root}")
