"""Reading untrusted files safely: size limits, gzip bombs, encodings, CSV quirks.

Every refusal is a :class:`LimitError` or :class:`ConnectorError` that names the file and
the limit (or what was expected), so an operator can fix the input or the setting.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infinstruct.core.errors import ConnectorError, LimitError
from infinstruct.core.settings import IngestSettings

log = logging.getLogger(__name__)

MIB = 1024 * 1024
#: Bytes sniffed by ``detect`` methods: enough for a header and a few rows.
PEEK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """The ingest limits, copied from ``settings.ingest`` so connectors need no settings.

    Passed explicitly: ``ingest`` builds them from the settings into ``registry.Options``,
    which hands them to every connector it makes; each read here takes them as ``limits``.
    """

    max_file_mb: int = 512
    max_field_chars: int = 1_000_000
    max_decompressed_ratio: int = 200
    max_decompressed_mb: int = 2048

    @classmethod
    def of(cls, ingest: IngestSettings) -> Limits:
        return cls(
            ingest.max_file_mb,
            ingest.max_field_chars,
            ingest.max_decompressed_ratio,
            ingest.max_decompressed_mb,
        )


#: The settings' defaults: what a read gets when its caller passes no limits (tests, detection).
DEFAULT_LIMITS = Limits()


def check_file_size(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> None:
    size = path.stat().st_size
    if size > limits.max_file_mb * MIB:
        raise LimitError(
            f"{path} is {size / MIB:.0f} MiB, over the {limits.max_file_mb} MiB limit; "
            "raise ingest.max_file_mb (INFINSTRUCT_INGEST__MAX_FILE_MB) or split the file"
        )


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


class _BombGuard(io.RawIOBase):
    """Gunzips with zlib, counting output against the ratio/size limits.

    zlib rather than ``gzip.open``: on a cut file it hands over everything up to the cut
    before we raise :class:`TruncatedInput`, so no good row before the damage is lost.
    """

    def __init__(self, path: Path, limits: Limits) -> None:
        self._path = path
        self._limits = limits
        self._raw = path.open("rb")
        self._compressed = max(path.stat().st_size, 1)
        self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""
        self._out = 0
        self._done = False
        #: Raised once everything decoded before the damage has been handed over.
        self._error: TruncatedInput | None = None

    def readable(self) -> bool:
        return True

    def _fill(self, want: int) -> None:
        while len(self._pending) < want and not self._done:
            chunk = self._raw.read(65536)
            try:
                if not chunk:
                    self._done = True
                    if not self._decoder.eof:
                        self._error = TruncatedInput(
                            f"{self._path} is a damaged gzip (cut short) after {self._out} decompressed bytes"
                        )
                    return
                data = self._decoder.decompress(chunk)
                while self._decoder.eof and self._decoder.unused_data:  # a multi-member gzip
                    rest = self._decoder.unused_data
                    self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    data += self._decoder.decompress(rest)
            except zlib.error as exc:
                self._done = True
                self._error = TruncatedInput(
                    f"{self._path} is a damaged gzip ({exc}) after {self._out} decompressed bytes"
                )
                return
            self._out += len(data)
            cap = self._limits
            limit = min(cap.max_decompressed_mb * MIB, cap.max_decompressed_ratio * self._compressed)
            if self._out > max(limit, MIB):
                raise LimitError(
                    f"{self._path} decompresses past {self._out / MIB:.0f} MiB (limit: "
                    f"{cap.max_decompressed_ratio}x its size, at most {cap.max_decompressed_mb} MiB): "
                    "a gzip bomb? raise ingest.max_decompressed_ratio / max_decompressed_mb if it is genuine"
                )
            self._pending += data

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        if not self._pending:
            self._fill(want)
        if not self._pending and self._error is not None:
            raise self._error
        n = min(want, len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class TruncatedInput(ConnectorError):
    """The input ends early (a cut gzip); rows before the cut are still good."""


def open_binary(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> io.BufferedIOBase:
    """Bytes of ``path``, transparently gunzipped behind the bomb guard."""
    check_file_size(path, limits=limits)
    if is_gzip(path):
        return io.BufferedReader(_BombGuard(path, limits), buffer_size=MIB)
    return path.open("rb")


def peek(path: Path, size: int = PEEK_BYTES) -> bytes:
    """The first bytes of a file (decompressed when gzipped); empty when unreadable.

    A gzip is peeked with a raw decompressor, which returns what it has even when the
    file is cut short (so a truncated file is still recognised, then loaded up to the cut).
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(size)
        if head[:2] != b"\x1f\x8b":
            return head
        with path.open("rb") as fh:
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = b""
            while len(out) < size and (chunk := fh.read(16384)):
                out += decoder.decompress(chunk, size - len(out))
            return out[:size]
    except (OSError, zlib.error):
        return b""


def looks_binary(data: bytes) -> bool:
    if not data:
        return False
    if b"\x00" in data[:8192]:
        return True
    control = sum(1 for b in data[:8192] if b < 9 or 13 < b < 32)
    return control / min(len(data), 8192) > 0.05


def detect_encoding(data: bytes) -> str:
    """UTF-8 when it decodes (the common case), else charset-normalizer's guess, else latin-1."""
    try:
        data.decode("utf-8")
        return "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte sequence cut at the end of the sample is still UTF-8.
        if exc.start >= len(data) - 4 and exc.reason == "unexpected end of data":
            return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(data[:PEEK_BYTES]).best()
    if best is not None and best.encoding.replace("-", "_").lower() in _MULTIBYTE:
        return best.encoding
    # Single-byte guesses on short Western text are unreliable (PhraseBank's Latin-1 files
    # come back as cp1250 and lose their accents); Latin-1 is the common truth, cp1252
    # when the 0x80-0x9f range (curly quotes, dashes) is used.
    return "cp1252" if re.search(rb"[\x80-\x9f]", data) else "latin-1"


_MULTIBYTE = {
    "gb18030",
    "gb2312",
    "gbk",
    "big5",
    "big5hkscs",
    "shift_jis",
    "cp932",
    "euc_jp",
    "euc_kr",
    "cp949",
    "utf_16",
    "utf_16_le",
    "utf_16_be",
    "utf_32",
    "hz",
    "iso2022_jp",
}


def read_text(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """The whole file as text, encoding detected; binary junk is refused by name."""
    with open_binary(path, limits=limits) as fh:
        data = fh.read()
    if looks_binary(data):
        raise ConnectorError(f"{path} looks binary (control bytes), not text; check the file")
    return data.decode(detect_encoding(data), errors="replace")


def text_lines(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` without its end-of-line, any encoding, any line ending."""
    text = read_text(path, limits=limits)
    yield from enumerate(text.splitlines(), start=1)


def load_json(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Any:
    text = read_text(path, limits=limits)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConnectorError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


def csv_rows(
    path: Path, *, delimiter: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Iterator[tuple[int, dict[str, str] | str]]:
    """Rows of a CSV file as ``(record number, {column: value})``; a row of the wrong width
    comes out as ``(number, raw line text)`` so the caller can quarantine it.

    Quirks handled: BOM, CRLF and stray ``\\r`` inside unquoted fields (read in newline=''
    mode, then bare ``\\r`` in values dropped), a pandas index column (empty header name),
    fields far beyond csv's default 128 KiB limit (length is judged later, per record).
    """
    text = read_text(path, limits=limits)
    csv.field_size_limit(max(limits.max_file_mb * MIB, 1 << 27))
    if delimiter is None:
        delimiter = sniff_delimiter(text[:PEEK_BYTES])
    # A stray bare \r (not part of \r\n) would end a record in csv's eyes; it separated
    # words in the original text, so it becomes a space.
    text = text.replace("\r\n", "\n").replace("\r", " ")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    names = [h.strip() for h in header]
    for number, row in enumerate(reader, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(names):
            yield number, delimiter.join(row)
            continue
        yield number, dict(zip(names, row, strict=True))


def csv_header(path: Path) -> list[str]:
    """The header of a CSV file (for ``detect``); empty when it is not text."""
    data = peek(path, 8192)
    if not data or looks_binary(data):
        return []
    first = data.decode(detect_encoding(data), errors="replace").splitlines()[:1]
    if not first:
        return []
    delimiter = sniff_delimiter(first[0])
    return [h.strip().strip('"').lstrip("\ufeff") for h in next(csv.reader([first[0]], delimiter=delimiter))]


def sniff_delimiter(sample: str) -> str:
    first = sample.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","
