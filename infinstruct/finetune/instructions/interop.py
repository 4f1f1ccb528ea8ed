"""Export a set version to a file (+ ``dataset_info.json``); import a file as a set version."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import InstructionSet
from infinstruct.core.text import detect_lang, sentence_key
from infinstruct.finetune.instructions.builder import example_hash, make_report, write_set
from infinstruct.finetune.instructions.formats import (
    FORMATS,
    dataset_info_entry,
    detect_format,
    read_records,
    to_record,
    update_dataset_info,
    write_records,
)
from infinstruct.finetune.instructions.report import BuildReport, stored_report
from infinstruct.finetune.instructions.splits import assign_split
from infinstruct.finetune.instructions.store import SPLITS, get_set, load_examples

log = logging.getLogger(__name__)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def export_set(
    settings: Settings,
    *,
    fmt: str,
    out: Path,
    set_name: str = "default",
    version: int | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """Write one set version (optionally one split) as ``fmt`` to ``out``; register it in
    ``dataset_info.json`` beside it under ``<set>_v<version>[_<split>]_<fmt>``."""
    _check_format(fmt)
    found = get_set(settings, name=set_name, version=version)
    examples = load_examples(settings, set_name=set_name, version=found.version, split=split)
    records = [to_record(ex.model_dump(), fmt) for ex in examples]
    out = Path(out)
    if out.is_dir():
        suffix = "json" if fmt == "alpaca" else "jsonl"
        out = out / f"{set_name}-v{found.version}{'-' + split if split else ''}.{fmt}.{suffix}"
    write_records(out, records, fmt)
    entry_name = re.sub(r"\W+", "_", f"{set_name}_v{found.version}{'_' + split if split else ''}_{fmt}")
    info = update_dataset_info(out.parent, entry_name, dataset_info_entry(out.name, fmt))
    log.info("exported %d examples of %s v%d to %s", len(records), set_name, found.version, out)
    return {
        "path": str(out),
        "format": fmt,
        "examples": len(records),
        "set": set_name,
        "version": found.version,
        "split": split,
        "dataset_info": str(info),
        "dataset": entry_name,
    }


def import_file(
    settings: Settings,
    path: Path,
    *,
    fmt: str = "auto",
    set_name: str = "imported",
    domain: str = "imported",
    task: str = "imported",
) -> BuildReport:
    """Read an Alpaca/ShareGPT/messages file into a new version of ``set_name``.

    Records that carry our fields (an export of ours) keep them, so the round trip is
    lossless; others get ``task``/``domain`` from the arguments, their language detected
    and their split from the hash of their first message's sentence key. Unreadable
    records are counted by reason and skipped; a file with none readable is an error.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no file at {path}; pass the path of an exported .json/.jsonl file")
    fmt = detect_format(path) if fmt == "auto" else fmt
    _check_format(fmt)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    input_hash = hashlib.sha256(f"import:{fmt}:{domain}:{task}:{digest}".encode()).hexdigest()
    opts = settings.instructions
    with session_scope(settings) as session:
        latest = session.exec(
            select(InstructionSet)
            .where(InstructionSet.name == set_name, col(InstructionSet.stale).is_(False))
            .order_by(col(InstructionSet.version).desc())
        ).first()
        if latest is not None and latest.input_hash == input_hash:
            return stored_report(latest.report, unchanged=True)
    rows, rejects, first_errors = _import_rows(path, fmt, domain=domain, task=task, opts=opts)
    if not rows:
        raise InputError(
            f"no readable {fmt} records in {path} ({dict(rejects)}); first errors: {first_errors}"
        )
    lineage = {"kind": "import", "file": str(path), "format": fmt, "sha256": digest, "corpus_version_ids": []}
    report = make_report(
        rows,
        candidates=len(rows) + sum(rejects.values()),
        rejects=dict(rejects),
        reject_samples={"unreadable": first_errors},
    )
    with session_scope(settings) as session:
        row = write_set(
            session, name=set_name, input_hash=input_hash, lineage=lineage, rows=rows, report=report
        )
        out = stored_report(row.report, unchanged=False)
    log.info("imported %d examples from %s into %s v%d", len(rows), path, set_name, out["version"])
    return out


def _import_rows(
    path: Path, fmt: str, *, domain: str, task: str, opts: Any
) -> tuple[list[dict[str, Any]], Counter[str], list[str]]:
    """The file's readable, deduplicated records as instruction rows; rejects by reason; the
    first three parse errors (shown when nothing was readable)."""
    rows: list[dict[str, Any]] = []
    rejects: Counter[str] = Counter()
    seen: set[str] = set()
    first_errors: list[str] = []
    for _number, parsed in read_records(path, fmt):
        if isinstance(parsed, InputError):
            rejects["unreadable"] += 1
            if len(first_errors) < 3:
                first_errors.append(str(parsed))
            continue
        messages = parsed["messages"]
        text = "\n".join(m["content"] for m in messages)
        row_task = parsed.get("task") or task
        lang = parsed.get("lang") or detect_lang(text) or "en"
        id_hash = example_hash(row_task, lang, parsed["system"], messages)
        if id_hash in seen:
            rejects["exact_duplicate"] += 1
            continue
        seen.add(id_hash)
        group = parsed.get("group_key") or f"sent:{sentence_key(messages[0]['content'])}"
        split = parsed.get("split") if parsed.get("split") in SPLITS else assign_split(group, opts)
        rows.append(
            {
                "id_hash": id_hash,
                "task": row_task,
                "domain": parsed.get("domain") or domain,
                "lang": lang,
                "split": split,
                "system": parsed["system"],
                "messages": messages,
                "source_document_id": parsed.get("source_document_id") or None,
                "group_key": group[:200],
                "meta": parsed.get("meta", {"imported_from": path.name}),
            }
        )
    return rows, rejects, first_errors
