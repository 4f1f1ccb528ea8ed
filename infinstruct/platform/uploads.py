"""Uploaded files: size limit, type check, safe names, stored under the data dir only."""

from __future__ import annotations

import re
import secrets
import shutil
import unicodedata
from pathlib import Path

from infinstruct.platform.errors import InputError, LimitError
from infinstruct.platform.settings import Settings
from infinstruct.platform.tables._columns import utcnow

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


def store_upload(settings: Settings, source: Path, original_name: str) -> Path:
    """Copy an uploaded temp file into ``<data_dir>/uploads`` after the checks; returns its path."""
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
