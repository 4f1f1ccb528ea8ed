"""Interop: Alpaca JSON, ShareGPT JSONL and OpenAI ``messages`` JSONL, both ways.

Every record carries our fields beside the format's own (``task``, ``domain``, ``lang``,
``split``, ``group_key``, ``source_document_id``, and ``meta`` as a JSON *string* so
Arrow-based loaders such as LLaMA-Factory's never trip on heterogeneous nested types).
They make an export -> import round trip lossless; loaders that do not know them ignore
them. Alpaca keeps the last user message as ``instruction`` + ``input``, split at its first
blank line (our prompts put the instruction first) and re-joined with one on import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from infinstruct.core.errors import InputError

Format = Literal["alpaca", "sharegpt", "messages"]
FORMATS: tuple[str, ...] = ("alpaca", "sharegpt", "messages")
EXTRA_FIELDS: tuple[str, ...] = ("task", "domain", "lang", "split", "group_key", "source_document_id")
_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


def to_record(example: dict[str, Any], fmt: str) -> dict[str, Any]:
    """One example (``system``, ``messages`` and our fields) as a record of ``fmt``."""
    messages: list[dict[str, str]] = example["messages"]
    extras = {k: example.get(k) or "" for k in EXTRA_FIELDS}
    extras["meta"] = json.dumps(example.get("meta") or {}, ensure_ascii=False, sort_keys=True)
    system = example.get("system") or ""
    if fmt == "alpaca":
        *earlier, last_user, answer = messages
        instruction, sep, query = last_user["content"].partition("\n\n")
        history = [[earlier[i]["content"], earlier[i + 1]["content"]] for i in range(0, len(earlier), 2)]
        return {
            "instruction": instruction,
            "input": query if sep else "",
            "output": answer["content"],
            "system": system,
            "history": history,
            **extras,
        }
    if fmt == "sharegpt":
        turns = [{"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]} for m in messages]
        return {"conversations": turns, "system": system, **extras}
    if fmt == "messages":
        head = [{"role": "system", "content": system}] if system else []
        return {"messages": head + [{"role": m["role"], "content": m["content"]} for m in messages], **extras}
    raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def from_record(record: dict[str, Any], fmt: str) -> dict[str, Any]:
    """A record of ``fmt`` back to ``system``, ``messages`` and whichever of our fields it has."""
    system = str(record.get("system") or "")
    messages: list[dict[str, str]] = []
    if fmt == "alpaca":
        for pair in record.get("history") or []:
            messages += [
                {"role": "user", "content": str(pair[0])},
                {"role": "assistant", "content": str(pair[1])},
            ]
        query = str(record.get("input") or "")
        user = str(record.get("instruction") or "") + (f"\n\n{query}" if query else "")
        messages += [
            {"role": "user", "content": user},
            {"role": "assistant", "content": str(record.get("output") or "")},
        ]
    else:
        key, role_key, text_key = (
            ("conversations", "from", "value") if fmt == "sharegpt" else ("messages", "role", "content")
        )
        for turn in record.get(key) or []:
            role = _SHAREGPT_ROLES.get(str(turn.get(role_key, "")).lower())
            if role is None:
                raise InputError(f"unknown role {turn.get(role_key)!r}; expected user/human or assistant/gpt")
            if role == "system":
                system = str(turn.get(text_key) or "")
                continue
            messages.append({"role": role, "content": str(turn.get(text_key) or "")})
    check_messages(messages)
    out: dict[str, Any] = {"system": system, "messages": messages}
    for field in EXTRA_FIELDS:
        if record.get(field):
            out[field] = str(record[field])
    meta = record.get("meta")
    if isinstance(meta, str) and meta:
        try:
            out["meta"] = json.loads(meta)
        except json.JSONDecodeError as exc:
            raise InputError(f"field 'meta' is not JSON ({exc.msg})") from exc
    elif isinstance(meta, dict):
        out["meta"] = meta
    return out


def check_messages(messages: list[dict[str, str]]) -> None:
    """user, assistant, user, … ending with assistant, none empty (what trainers expect)."""
    if len(messages) < 2 or len(messages) % 2:
        raise InputError(
            f"needs alternating user/assistant turns ending with the answer (got {len(messages)})"
        )
    for index, message in enumerate(messages):
        expected = "user" if index % 2 == 0 else "assistant"
        if message["role"] != expected:
            raise InputError(f"turn {index + 1} is {message['role']!r}, expected {expected!r}")
        if not message["content"].strip():
            raise InputError(f"turn {index + 1} is empty")


def detect_format(path: Path) -> str:
    """``alpaca``, ``sharegpt`` or ``messages`` from the first record's keys."""
    first = next(iter(_raw_records(path)), None)
    if first is None:
        raise InputError(f"{path} holds no records")
    _, record = first
    if isinstance(record, dict):
        if "conversations" in record:
            return "sharegpt"
        if "messages" in record:
            return "messages"
        if "instruction" in record and "output" in record:
            return "alpaca"
    raise InputError(
        f"cannot tell the format of {path}: the first record has keys {sorted(record) if isinstance(record, dict) else type(record).__name__}; "
        "pass --format alpaca|sharegpt|messages"
    )


def _raw_records(path: Path) -> Iterator[tuple[int, Any]]:
    """(record number, parsed record) from a JSON array or JSON-lines file."""
    with path.open(encoding="utf-8-sig") as handle:
        head = handle.read(1)
        while head and head.isspace():
            head = handle.read(1)
        handle.seek(0)
        if head == "[":
            try:
                data = json.load(handle)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
            yield from enumerate(data, start=1)
            return
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield number, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path} line {number} is not JSON: {exc.msg}") from exc


def read_records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | InputError]]:
    """Parsed examples, or the error of a record that could not be read (kept going)."""
    for number, raw in _raw_records(path):
        if not isinstance(raw, dict):
            yield number, InputError(f"record {number} is a {type(raw).__name__}, not an object")
            continue
        try:
            yield number, from_record(raw, fmt)
        except (InputError, KeyError, IndexError, TypeError, AttributeError) as exc:
            yield number, InputError(f"record {number}: {exc}")


def write_records(path: Path, records: list[dict[str, Any]], fmt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        if fmt == "alpaca":
            json.dump(records, handle, ensure_ascii=False, indent=1)
            handle.write("\n")
        else:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def dataset_info_entry(file_name: str, fmt: str) -> dict[str, Any]:
    """The ``dataset_info.json`` entry LLaMA-Factory needs to read a file of ``fmt``."""
    if fmt == "alpaca":
        return {
            "file_name": file_name,
            "formatting": "alpaca",
            "columns": {
                "prompt": "instruction",
                "query": "input",
                "response": "output",
                "system": "system",
                "history": "history",
            },
        }
    if fmt == "sharegpt":
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {
                "role_tag": "from",
                "content_tag": "value",
                "user_tag": "human",
                "assistant_tag": "gpt",
                "system_tag": "system",
            },
        }
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
            "system_tag": "system",
        },
    }


def update_dataset_info(folder: Path, name: str, entry: dict[str, Any]) -> Path:
    """Add/replace ``name`` in ``folder/dataset_info.json``, keeping other entries."""
    path = folder / "dataset_info.json"
    info: dict[str, Any] = {}
    if path.exists():
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} exists but is not JSON ({exc.msg}); move it away or fix it") from exc
    info[name] = entry
    path.write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
