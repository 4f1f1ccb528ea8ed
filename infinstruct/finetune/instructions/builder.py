"""Build an instruction-set version from the store: route, generate, filter, split, write.

Reads only live rows (documents and interactions whose version is complete and not stale)
and the curated pairs; writes one ``InstructionSet`` and its ``InstructionExample`` rows.
When the inputs' hash equals the latest usable version's, that version is returned as is.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, SQLModel, col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError
from infinstruct.core.progress import Progress
from infinstruct.core.protocols import SENTIMENT_LABELS
from infinstruct.core.settings import InstructionSettings, Settings
from infinstruct.core.tables import InstructionSet
from infinstruct.finetune.instructions import inputs as inputs_mod
from infinstruct.finetune.instructions.grounding import ground_rows
from infinstruct.finetune.instructions.quality import diversity, filter_candidates
from infinstruct.finetune.instructions.report import BuildReport, stored_report
from infinstruct.finetune.instructions.splits import assign_split, check_shares
from infinstruct.finetune.instructions.store import refresh_staleness
from infinstruct.finetune.instructions.tasks import finance, generic, items, support
from infinstruct.finetune.instructions.tasks.base import Candidate, Context, Doc
from infinstruct.finetune.instructions.textnorm import stable_hash

log = logging.getLogger(__name__)


class EmptyStoreError(InputError):
    """Nothing to build from: no live corpus, interaction or curated answer."""


#: Core insert of plain dicts: ORM objects would cost seconds per 10k examples.
_EXAMPLE_TABLE = SQLModel.metadata.tables["instructionexample"]


#: Domains with their own tasks; any other domain (``ingest --domain NAME``) gets generic ones.
KNOWN_DOMAINS = frozenset({"support", "finance", "items", "labelled"})


def route(doc: Doc, ctx: Context) -> Iterator[Candidate]:
    """Every task one document feeds, by its kind, label set and corpus domain."""
    label_set = str(doc.meta.get("label_set") or "")
    new_domain = ctx.domain not in KNOWN_DOMAINS
    if doc.kind == "dialogue":
        yield from support.dialogue_examples(doc, ctx)
    elif doc.kind == "labelled":
        if label_set == "intent":
            yield from support.intent_examples(doc, ctx)
        elif label_set == "sentiment" and ctx.domain == "finance":
            yield from finance.sentiment_examples(doc, ctx)
        else:
            yield from generic.classification_examples(doc, ctx)
        if ctx.domain == "finance":
            yield from finance.entity_examples(doc, ctx)
    elif doc.kind == "news" and not new_domain:
        yield from finance.headline_examples(doc, ctx)
        yield from finance.entity_examples(doc, ctx)
        if doc.label in SENTIMENT_LABELS:
            yield from finance.sentiment_examples(doc, ctx)
    elif doc.kind == "item":
        yield from items.description_examples(doc, ctx)
    elif doc.kind in ("text", "news"):
        # documents of a new domain: question answering and continuation
        yield from generic.document_examples(doc, ctx)


def _labels(docs: list[Doc]) -> dict[str, tuple[str, ...]]:
    found: dict[str, set[str]] = defaultdict(set)
    for doc in docs:
        if doc.kind == "labelled" and doc.label:
            found[str(doc.meta.get("label_set") or "label")].add(doc.label.strip())
    return {key: tuple(sorted(values)) for key, values in found.items()}


def _cap(cands: list[Candidate], most: int | None) -> list[Candidate]:
    """At most ``most`` candidates per task, a deterministic sample (not the first N)."""
    if most is None:
        return cands
    by_task: dict[str, list[tuple[int, Candidate]]] = defaultdict(list)
    for index, cand in enumerate(cands):
        by_task[cand.task].append((index, cand))
    chosen: list[tuple[int, Candidate]] = []
    for task, members in by_task.items():
        members.sort(key=lambda pair: stable_hash("cap", task, pair[1].group_key, pair[1].content))
        chosen.extend(members[:most])
    return [cand for _, cand in sorted(chosen, key=lambda pair: pair[0])]


def _from_documents(docs: list[Doc], ctx: Context, skipped: Counter[str]) -> list[Candidate]:
    """Candidates of one corpus's documents, at most ``max_per_corpus`` per task.

    With a cap, documents are visited in hash order (a deterministic sample) and the walk
    stops once a long run of documents adds nothing, so a capped build of a large corpus
    does not generate everything only to throw most of it away.
    """
    cap = ctx.options.max_per_corpus
    if cap is not None:
        docs = sorted(docs, key=lambda d: stable_hash("cap", d.id))
    made: list[Candidate] = []
    per_task: Counter[str] = Counter()
    idle = 0
    for doc in docs:
        produced = routed = False
        for cand in route(doc, ctx):
            routed = True
            if cap is not None and per_task[cand.task] >= cap:
                continue
            if doc.near_dup_of:
                cand.meta["near_dup_of"] = doc.near_dup_of
            per_task[cand.task] += 1
            made.append(cand)
            produced = True
        if not routed:
            skipped[f"{doc.kind}:no_task"] += 1
        idle = 0 if produced else idle + 1
        if cap is not None and idle >= max(200, 2 * cap):
            break
    return made


def generate(
    session: Session,
    found: inputs_mod.BuildInputs,
    opts: InstructionSettings,
    *,
    show: bool,
    settings: Settings,
) -> tuple[list[Candidate], Counter[str]]:
    cands: list[Candidate] = []
    skipped: Counter[str] = Counter()
    with Progress(
        settings, total=len(found.corpora) + 1, unit="corpus", desc="instructions", show=show
    ) as bar:
        for item in found.corpora:
            docs = inputs_mod.read_documents(session, item)
            ctx = Context(
                options=opts, corpus=item.corpus.name, domain=item.corpus.domain, labels=_labels(docs)
            )
            made = _from_documents(docs, ctx, skipped)
            events = inputs_mod.read_events(session, item)
            if events:
                titles = {
                    d.external_id: d.title for d in docs if d.kind == "item" and d.external_id and d.title
                }
                made.extend(items.next_item_examples(events, titles, ctx))
            cands.extend(_cap(made, opts.max_per_corpus))
            bar.update(1, corpus=item.corpus.name)
        curated_ctx = Context(options=opts, corpus="curated", domain="curated")
        for pair in found.curated:
            cands.extend(generic.curated_examples(pair, curated_ctx))
        bar.update(1)
    return cands, skipped


def example_hash(task: str, lang: str, system: str, messages: list[dict[str, str]]) -> str:
    blob = json.dumps([task, lang, system, messages], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def _rows(kept: list[Candidate], opts: InstructionSettings) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    repeats = 0
    for cand in kept:
        id_hash = example_hash(cand.task, cand.lang, cand.system, cand.messages)
        if id_hash in seen:
            repeats += 1
            continue
        seen.add(id_hash)
        meta = {k: v for k, v in cand.meta.items() if k != "near_dup_of"}
        rows.append(
            {
                "id_hash": id_hash,
                "task": cand.task,
                "domain": cand.domain,
                "lang": cand.lang,
                "split": assign_split(cand.group_key, opts),
                "system": cand.system,
                "messages": cand.messages,
                "source_document_id": cand.source_document_id,
                "group_key": cand.group_key[:200],
                "meta": {"corpus": cand.corpus, "content_lang": cand.content_lang, **meta},
            }
        )
    return rows, repeats


def make_report(
    rows: list[dict[str, Any]],
    *,
    candidates: int,
    rejects: dict[str, int],
    reject_samples: dict[str, list[str]],
    rejects_by_task: dict[str, dict[str, int]] | None = None,
    skipped: dict[str, int] | None = None,
    grounded: int | None = None,
) -> BuildReport:
    """Counts per (task, language), domain, split and corpus, and the diversity figure."""
    by_task_lang: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts: dict[str, Counter[str]] = {"by_domain": Counter(), "by_split": Counter(), "by_corpus": Counter()}
    for row in rows:
        by_task_lang[row["task"]][row["lang"]] += 1
        counts["by_domain"][row["domain"]] += 1
        counts["by_split"][row["split"]] += 1
        counts["by_corpus"][str(row["meta"].get("corpus", ""))] += 1
    texts = [(r["task"], r["lang"], "\n".join(m["content"] for m in r["messages"])) for r in rows]
    report: BuildReport = {
        "examples": len(rows),
        "by_task_lang": {t: dict(sorted(langs.items())) for t, langs in sorted(by_task_lang.items())},
        "by_domain": dict(sorted(counts["by_domain"].items())),
        "by_split": dict(sorted(counts["by_split"].items())),
        "by_corpus": dict(sorted(counts["by_corpus"].items())),
        "diversity": diversity(texts),
        "candidates": candidates,
        "rejects": rejects,
    }
    # The key order is the JSON's: a build's report has every key, an import's only these.
    if rejects_by_task is not None:
        report["rejects_by_task"] = rejects_by_task
    report["reject_samples"] = reject_samples
    if skipped is not None:
        report["skipped"] = skipped
    if grounded is not None:
        report["grounded"] = grounded
    return report


def write_set(
    session: Session,
    *,
    name: str,
    input_hash: str,
    lineage: dict[str, Any],
    rows: list[dict[str, Any]],
    report: BuildReport,
) -> InstructionSet:
    """A new version of ``name`` with ``rows`` as its examples (the report gains version/set_id)."""
    current = session.exec(select(func.max(InstructionSet.version)).where(InstructionSet.name == name)).one()
    version = int(current or 0) + 1
    row = InstructionSet(name=name, version=version, input_hash=input_hash, lineage=lineage, report={})
    session.add(row)
    session.flush()
    row.report = {**report, "name": name, "version": version, "set_id": row.id, "input_hash": input_hash}
    session.add(row)
    for start in range(0, len(rows), 5000):
        chunk = [{**r, "set_id": row.id} for r in rows[start : start + 5000]]
        session.connection().execute(insert(_EXAMPLE_TABLE), chunk)
    return row


def build_instruction_set(
    settings: Settings,
    *,
    name: str = "default",
    max_per_corpus: int | None = None,
    force: bool = False,
    show_progress: bool = False,
) -> BuildReport:
    """Build a new version of set ``name`` (or return the latest when nothing changed)."""
    started = time.monotonic()
    opts = settings.instructions
    if max_per_corpus is not None:
        if max_per_corpus < 1:
            raise InputError(f"--max-per-corpus must be >= 1 (got {max_per_corpus})")
        opts = opts.model_copy(update={"max_per_corpus": max_per_corpus})
    check_shares(opts)
    with session_scope(settings) as session:
        refresh_staleness(session)
        found = inputs_mod.gather_inputs(session, opts)
        latest = session.exec(
            select(InstructionSet)
            .where(InstructionSet.name == name, col(InstructionSet.stale).is_(False))
            .order_by(col(InstructionSet.version).desc())
        ).first()
        if latest is not None and latest.input_hash == found.input_hash and not force:
            log.info("instruction set %s v%d is up to date (inputs unchanged)", name, latest.version)
            return stored_report(latest.report, unchanged=True)
        cands, skipped = generate(session, found, opts, show=show_progress, settings=settings)
    if not cands:
        raise EmptyStoreError(
            "the store holds no documents, interactions or curated answers to build from; "
            "load a corpus first with `infinstruct ingest PATH`"
        )
    log.info("generated %d candidates in %.1fs", len(cands), time.monotonic() - started)
    result = filter_candidates(cands, opts)
    log.info("filtered to %d in %.1fs", len(result.kept), time.monotonic() - started)
    rows, repeats = _rows(result.kept, opts)
    grounded = ground_rows(
        rows, replies=settings.chat.grounding_examples, reply_chars=settings.chat.grounding_reply_chars
    )
    for ex in rows:  # the id names the example as stored (grounded), as an import recomputes it
        ex["id_hash"] = example_hash(ex["task"], ex["lang"], ex["system"], ex["messages"])
    if repeats:
        result.rejects["exact_duplicate"] += repeats
    report = make_report(
        rows,
        candidates=len(cands),
        rejects=dict(sorted(result.rejects.items())),
        rejects_by_task={t: dict(sorted(c.items())) for t, c in sorted(result.rejects_by_task.items())},
        reject_samples=dict(result.samples),
        skipped=dict(sorted(skipped.items())),
        grounded=grounded,
    )
    with session_scope(settings) as session:
        row = write_set(
            session, name=name, input_hash=found.input_hash, lineage=found.lineage, rows=rows, report=report
        )
        report = stored_report(row.report)
    log.info(
        "instruction set %s v%d: %d examples from %d candidates in %.1fs",
        name,
        row.version,
        len(rows),
        len(cands),
        time.monotonic() - started,
    )
    return {**report, "unchanged": False, "seconds": round(time.monotonic() - started, 2)}
