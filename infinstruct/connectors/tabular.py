"""Rows of any table-shaped file: CSV/TSV, JSON array, JSON lines, Parquet.

The generic connectors (conversation, labelled, news, catalogue) read through here, so
they all accept the same four formats and reach nested JSON fields the same way: a nested
object is flattened into dotted keys (``{"author": {"type": "admin"}}`` → ``author.type``),
which is also how ``--map`` names them. Lists are kept as values (not indexed).

A row is ``(record number, {field: value})``; a row that is not an object (a JSON array
element that is a string, a CSV row of the wrong width) comes out as ``(number, raw text)``
so the caller can quarantine it. Record numbers are line numbers for CSV and JSON lines,
1-based positions for JSON arrays and Parquet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from infinstruct.connectors.safeio import (
    DEFAULT_LIMITS,
    MIB,
    Limits,
    TruncatedInput,
    check_file_size,
    csv_header,
    csv_rows,
    load_json,
    looks_binary,
    peek,
    text_lines,
)
from infinstruct.core.errors import ConnectorError, LimitError

Row = dict[str, Any]
#: Nesting deeper than this is kept as JSON text rather than flattened further.
MAX_DEPTH = 8
#: Keys under which exports wrap their list of records (``{"data": [...]}``).
WRAPPER_KEYS = ("data", "records", "rows", "items", "results", "comments", "conversation_parts", "messages")
_TEXT_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
_ARRAY_OF_OBJECTS = re.compile(r"\[\s*\{")


def _suffix(path: Path) -> str:
    """The data suffix, looking through ``.gz`` (``export.csv.gz`` → ``.csv``)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def table_format(path: Path) -> str | None:
    """``csv`` | ``json`` | ``jsonl`` | ``parquet``, or None when ``path`` is no table."""
    if path.is_dir():
        return None
    head = peek(path, 4096)
    if head[:4] == b"PAR1":
        return "parquet"
    if not head or looks_binary(head):
        return None
    suffix = _suffix(path)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    if suffix == ".parquet":
        return None  # named parquet but not one: read() says so, detection just declines
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".json":
        return "jsonl" if _first_line_is_object(text) else "json"
    return _TEXT_SUFFIXES.get(suffix)


def _first_line_is_object(text: str) -> bool:
    """JSON lines saved as ``.json``: a whole object on the first line and more after it."""
    first, sep, rest = text.partition("\n")
    if not sep or not first.strip().startswith("{") or not rest.lstrip().startswith("{"):
        return False
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False


def flatten(obj: dict[Any, Any], prefix: str = "", depth: int = 0) -> Row:
    """Nested objects → dotted keys; other values as they are."""
    out: Row = {}
    for key, value in obj.items():
        name = f"{prefix}{str(key).strip()}"
        if isinstance(value, dict) and depth < MAX_DEPTH:
            out.update(flatten(value, f"{name}.", depth + 1))
        elif isinstance(value, dict):
            out[name] = json.dumps(value, ensure_ascii=False, default=str)
        else:
            out[name] = value
    return out


def cell_text(value: Any) -> str:
    """A cell as text: None → ``""``, booleans lower-case, lists joined by ``;``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float | Decimal) and float(value).is_integer() and abs(float(value)) < 1e15:
        return str(int(value))  # pandas writes integer ids as floats (3.0)
    if isinstance(value, list | tuple):
        return ";".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def table_rows(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[tuple[int, Row | str]]:
    """Every row of ``path`` in file order (see the module docstring), read within ``limits``."""
    fmt = table_format(path)
    if fmt is None and _suffix(path) == ".parquet":
        fmt = "parquet"  # let pyarrow name what is wrong with it
    elif fmt is None:  # binary junk named .csv: the reader refuses it by name ("looks binary")
        fmt = _TEXT_SUFFIXES.get(_suffix(path))
    if fmt == "csv":
        yield from csv_rows(path, limits=limits)
    elif fmt == "jsonl":
        yield from _jsonl_rows(path, limits)
    elif fmt == "json":
        yield from _json_rows(path, limits)
    elif fmt == "parquet":
        yield from _parquet_rows(path, limits)
    else:
        raise ConnectorError(
            f"{path} is not a CSV/TSV, JSON array, JSON lines or Parquet file; "
            "export it as one of those (or pick a specific --connector)"
        )


def _jsonl_rows(path: Path, limits: Limits) -> Iterator[tuple[int, Row | str]]:
    for number, line in text_lines(path, limits=limits):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            yield number, line
            continue
        yield (number, flatten(row)) if isinstance(row, dict) else (number, line)


def records_of(data: Any) -> list[Any]:
    """The records of a parsed JSON document: the array itself, a wrapper's list, or one object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = {k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        for key in (*WRAPPER_KEYS, *lists):
            if key in lists:
                return lists[key]
        return [data]
    return [data]


def _json_rows(path: Path, limits: Limits) -> Iterator[tuple[int, Row | str]]:
    for index, row in enumerate(records_of(load_json(path, limits=limits)), start=1):
        if isinstance(row, dict):
            yield index, flatten(row)
        else:
            yield index, json.dumps(row, ensure_ascii=False, default=str)[:2000]


def _parquet_rows(path: Path, limits: Limits) -> Iterator[tuple[int, Row | str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_file_size(path, limits=limits)
    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ConnectorError(f"{path} is not a readable Parquet file ({exc}); check the export") from exc
    number, decoded = 0, 0
    # Parquet compresses too: the same ceiling as a gzip's (ratio to the file, absolute cap).
    ceiling = max(
        min(
            limits.max_decompressed_mb * MIB,
            limits.max_decompressed_ratio * path.stat().st_size,
        ),
        MIB,
    )
    try:
        for batch in reader.iter_batches(batch_size=4096):
            decoded += batch.nbytes
            if decoded > ceiling:
                raise LimitError(
                    f"{path} decodes past {decoded / MIB:.0f} MiB (limit: {limits.max_decompressed_ratio}x its "
                    f"size, at most {limits.max_decompressed_mb} MiB); raise ingest.max_decompressed_ratio / "
                    "max_decompressed_mb if it is genuine"
                )
            for row in batch.to_pylist():
                number += 1
                yield number, flatten(row)
    except (pa.ArrowException, OSError) as exc:
        # Row groups before the damage were good and were handed over; the cut is reported.
        raise TruncatedInput(f"{path} is a damaged Parquet file ({exc}) after {number} rows") from exc


def field_key(name: str) -> str:
    """How field names are compared: ``Ticket ID``, ``ticket-id`` and ``ticket_id`` are one."""
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff")).lower()


def find_field(fields: list[str], *names: str) -> str | None:
    """The first of ``names`` present in ``fields`` (compared by :func:`field_key`), as spelt there."""
    spelt = {field_key(f): f for f in reversed(fields)}
    return next((spelt[field_key(n)] for n in names if field_key(n) in spelt), None)


def fields_with(known: list[str], row: Row) -> list[str]:
    """The file's fields (from its head) plus any this row adds: a JSON record that lacks a
    field still maps (its value is empty, so it is quarantined, not the whole file refused)."""
    seen = set(known)
    return known + [k for k in row if k not in seen]


def table_fields(path: Path) -> list[str]:
    """The field names of a table file (dotted for nested JSON), for ``detect``; cheap."""
    try:
        stat = path.stat()
    except OSError:
        return []
    return list(_cached_fields(str(path), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=64)
def _cached_fields(path_text: str, _mtime: int, _size: int) -> tuple[str, ...]:
    """Detection asks once per connector; the answer only changes with the file."""
    path = Path(path_text)
    fmt = table_format(path)
    if fmt == "csv":
        return tuple(csv_header(path))
    if fmt == "parquet":
        return tuple(_parquet_fields(path))
    if fmt in ("json", "jsonl"):
        return tuple(_json_head_fields(path, fmt))
    return ()


def _parquet_fields(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return []

    def names(field: Any, prefix: str) -> list[str]:
        if pa.types.is_struct(field.type):
            return [
                n
                for i in range(field.type.num_fields)
                for n in names(field.type.field(i), f"{prefix}{field.name}.")
            ]
        return [f"{prefix}{field.name}"]

    return [n for field in schema for n in names(field, "")]


def _json_head_fields(path: Path, fmt: str) -> list[str]:
    """Fields of the first few records visible in the file's head (no full parse)."""
    text = peek(path).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    decoder = json.JSONDecoder()
    found: dict[str, None] = {}
    if fmt == "jsonl":
        position = 0 if text.startswith("{") else -1
    else:
        match = _ARRAY_OF_OBJECTS.search(text)
        position = match.end() - 1 if match else -1
    for _ in range(20):
        if position < 0:
            break
        try:
            obj, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError:
            break
        if isinstance(obj, dict):
            found.update(dict.fromkeys(flatten(obj)))
        following = text[end:].lstrip(" \t\r\n,")
        position = len(text) - len(following) if following.startswith("{") else -1
    return list(found)
