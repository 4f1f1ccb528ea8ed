"""The operator page's backend: every handler of the console reaches the services through it.

The parts the console cannot import (connectors, finetune) come in as callables filled by
``services.build_operator_backend``; the platform's shared services (jobs, registry,
hand-offs, feedback, corpus visibility) are called here. Methods return plain data (rows,
dicts, strings), so they are tested without a browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from infinstruct.core.registry import Gate
    from infinstruct.core.tables import JobRun

#: Metric columns of the models table: (header, path in the version's metrics).
METRICS: list[tuple[str, tuple[str, ...]]] = [
    ("loss", ("loss",)),
    ("perplexity", ("perplexity",)),
    ("val loss", ("splits", "validation", "loss")),
    ("accuracy", ("accuracy",)),
    ("macro-F1", ("macro_f1",)),
    ("log loss", ("log_loss",)),
    ("train steps", ("train", "steps")),
]
_LOSS = re.compile(r"\bloss=([0-9.]+)")


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return round(data, 4) if isinstance(data, float) else data


@dataclass(frozen=True)
class LoadMapping:
    """The console's mapping fields for a generic file, as ``ingest`` takes them.

    ``columns`` are ``KEY=FIELD`` pairs (``conversation=ticket_id role=author_role``),
    ``agent_roles`` a comma list and ``score_thresholds`` ``LOW,HIGH``; ``ingest`` checks the
    keys and values again, so this only splits the text and refuses what cannot be split.
    """

    columns: str = ""
    agent_roles: str = ""
    score_thresholds: str = ""

    def pairs(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for item in self.columns.replace(",", " ").split():
            key, sep, field = item.partition("=")
            if not sep or not key or not field:
                raise InputError(f"mapping {item!r} is not KEY=FIELD (e.g. text=body role=author_role)")
            found[key.strip()] = field.strip()
        return found

    def roles(self) -> list[str]:
        return [r.strip() for r in self.agent_roles.split(",") if r.strip()]

    def thresholds(self) -> tuple[float, float] | None:
        if not self.score_thresholds.strip():
            return None
        try:
            low, high = (float(v) for v in self.score_thresholds.split(","))
        except ValueError:
            raise InputError(
                f"score thresholds {self.score_thresholds!r} are not LOW,HIGH (e.g. -0.05,0.05)"
            ) from None
        return low, high

    def preview_kwargs(self) -> dict[str, Any]:
        return {
            "mapping": self.pairs() or None,
            "agent_roles": self.roles() or None,
            "score_thresholds": self.thresholds(),
        }

    def cli_args(self) -> list[str]:
        args = [arg for key, field in self.pairs().items() for arg in ("--map", f"{key}={field}")]
        if self.roles():
            args += ["--agent-roles", ",".join(self.roles())]
        if (bounds := self.thresholds()) is not None:
            args.append(f"--score-thresholds={bounds[0]:g},{bounds[1]:g}")  # "=": a leading minus
        return args


@dataclass
class OperatorBackend:
    """What the console needs from the parts; ``services.build_operator_backend`` fills it."""

    connector_names: Callable[[], list[str]]
    list_corpora: Callable[[], list[dict[str, Any]]]
    show_corpus: Callable[[str], dict[str, Any]]
    rollback_corpus: Callable[[str, int], dict[str, Any]]
    instruction_stats: Callable[[], dict[str, Any]]
    recipes: Callable[[], list[str]]
    gate: Gate | None
    settings: Settings | None = None
    recipe_summary: Callable[[str], dict[str, Any]] | None = None
    preview_ingest: Callable[..., dict[str, Any]] | None = None
    trial: Callable[[str, str], dict[str, Any]] | None = None
    #: The last ``infinstruct train compare`` as a Markdown table ('' before the first).
    method_comparison: Callable[[], str] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def s(self) -> Settings:
        if self.settings is None:
            raise InputError("the operator backend was built without settings")
        return self.settings

    # -- corpora ----------------------------------------------------------------------
    def corpora_rows(self) -> list[dict[str, Any]]:
        from infinstruct.core.corpus_visibility import visibility_by_corpus

        seen = visibility_by_corpus(self.s)
        return [{**c, "visibility": seen.get(c["name"], "internal")} for c in self.list_corpora()]

    def versions_rows(self, name: str) -> list[dict[str, Any]]:
        if not name:
            return []
        return list(self.show_corpus(name)["versions"])

    def set_visibility(self, name: str, visibility: str) -> str:
        from infinstruct.core.corpus_visibility import set_visibility

        if not name:
            raise InputError("click a corpus in the table first")
        set_visibility(self.s, name, visibility)
        return f"{name} is now {visibility}"

    def rollback(self, name: str, version: int | None) -> str:
        if not name or not version:
            raise InputError("click a corpus, then one of its versions, first")
        result = self.rollback_corpus(name, int(version))
        return f"{name} v{version} rolled back: {result.get('documents', 0)} documents are now stale"

    def stage_source(self, upload: str | None, source: str) -> str:
        """The path or URL a load reads: a stored upload, or a checked operator source."""
        from infinstruct.core.uploads import check_operator_source, store_upload

        if upload:
            return str(store_upload(self.s, Path(upload), Path(upload).name))
        if source and source.strip():
            # Only the import roots and public URLs: the server's own files are no corpus.
            return str(check_operator_source(self.s, source))
        raise InputError("upload a file or give a path or URL")

    def start_load(
        self, path: str, connector: str, corpus: str, domain: str, mapping: LoadMapping | None = None
    ) -> int:
        from infinstruct.core import jobs

        args = ["ingest"]
        for flag, value in (("--connector", connector), ("--corpus", corpus), ("--domain", domain)):
            if value and value.strip() and value != "auto":
                args += [flag, value.strip()]
        args += (mapping or LoadMapping()).cli_args()
        # The source goes after "--": a name like "--help" stays a path, never an option.
        job = jobs.launch_cli_job(self.s, kind="ingest", args=args, positional=[path])
        assert job.id is not None
        return job.id

    def preview(self, path: str, connector: str, mapping: LoadMapping | None = None) -> dict[str, Any] | None:
        if self.preview_ingest is None:
            return None
        chosen = None if connector in ("", "auto") else connector
        return self.preview_ingest(path, connector=chosen, **(mapping or LoadMapping()).preview_kwargs())

    def quarantine_rows(self, corpus: str, version: int | None, limit: int = 5) -> list[dict[str, Any]]:
        """Per reason: how many records, and a sample of the raw text."""
        from sqlmodel import col, select

        from infinstruct.core.db import session_scope
        from infinstruct.core.tables import Corpus, CorpusVersion, Quarantine

        with session_scope(self.s) as session:
            query = (
                select(Quarantine.reason, Quarantine.line, Quarantine.raw)
                .join(Corpus, col(Corpus.id) == col(Quarantine.corpus_id))
                .join(CorpusVersion, col(CorpusVersion.id) == col(Quarantine.version_id))
                .where(Corpus.name == corpus)
            )
            if version:
                query = query.where(CorpusVersion.version == int(version))
            rows = session.exec(query.order_by(col(Quarantine.id)).limit(2000)).all()
        by_reason: dict[str, dict[str, Any]] = {}
        for reason, line, raw in rows:
            entry = by_reason.setdefault(reason, {"reason": reason, "records": 0, "sample": ""})
            entry["records"] += 1
            if not entry["sample"]:
                entry["sample"] = (f"line {line}: " if line else "") + " ".join(str(raw).split())[:160]
        return sorted(by_reason.values(), key=lambda r: -r["records"])[:limit]

    # -- jobs -------------------------------------------------------------------------
    def job(self, job_id: int) -> JobRun:
        from infinstruct.core import jobs

        return jobs.get_job(self.s, int(job_id))

    def jobs_rows(self, limit: int = 15) -> list[dict[str, Any]]:
        from infinstruct.core import jobs

        return [
            {
                "id": j.id,
                "kind": j.kind,
                "status": j.status,
                "done": round(j.done, 1),
                "total": j.total,
                "unit": j.unit,
                "message": (j.error or j.message)[:120],
            }
            for j in jobs.list_jobs(self.s, limit=limit)
        ]

    def start_training(self, recipe: str) -> int:
        from infinstruct.core import jobs

        if not recipe:
            raise InputError("pick a recipe first")
        job = jobs.launch_cli_job(self.s, kind="train", args=["train", recipe])
        assert job.id is not None
        return job.id

    def start_instructions(self) -> int:
        from infinstruct.core import jobs

        job = jobs.launch_cli_job(self.s, kind="instructions", args=["instructions", "build"])
        assert job.id is not None
        return job.id

    def cancel(self, job_id: int | None) -> str:
        from infinstruct.core import jobs

        if not job_id:
            raise InputError("no job is running here to cancel")
        return f"job {jobs.cancel_job(self.s, int(job_id)).id} cancelled"

    @staticmethod
    def loss_point(job: JobRun) -> float | None:
        """The training loss the job last reported (its progress message says ``loss=…``)."""
        found = _LOSS.search(job.message or "")
        return float(found.group(1)) if found else None

    # -- models -----------------------------------------------------------------------
    def models_rows(self) -> list[dict[str, Any]]:
        from infinstruct.core import registry

        rows = []
        for v in registry.list_versions(self.s):
            row: dict[str, Any] = {"name": v.name, "kind": v.kind, "status": v.status, "recipe": v.recipe}
            row["method"] = v.method
            row.update({header: _dig(v.metrics, path) for header, path in METRICS})
            row["created"] = v.created_at.isoformat()[:16] if v.created_at else ""
            rows.append(row)
        return rows

    def compare(self, first: str, second: str) -> list[dict[str, Any]]:
        """Two versions' metrics side by side, one metric a row."""
        if not first or not second:
            raise InputError("click a version in the table and pick one to compare it with")
        by_name = {r["name"]: r for r in self.models_rows()}
        for name in (first, second):
            if name not in by_name:
                raise InputError(f"no model version {name!r}; pick one from the table")
        keys = ["kind", "status", "recipe", "method", *[h for h, _ in METRICS]]
        return [{"": k, first: by_name[first].get(k), second: by_name[second].get(k)} for k in keys]

    def activate(self, name: str, force: bool) -> str:
        from infinstruct.core import registry

        if not name:
            raise InputError("click a version in the models table first")
        version, verdict = registry.activate(self.s, name.strip(), gate=self.gate, force=force)
        return f"{version.name} is active" + (f" (gate: {verdict.reason})" if verdict else "")

    def rollback_model(self, kind: str) -> str:
        from infinstruct.core import registry

        return f"{registry.rollback(self.s, kind).name} is active again"

    def dialogue_versions(self) -> list[str]:
        from infinstruct.core import registry

        return [v.name for v in registry.list_versions(self.s, kind="dialogue")]

    def try_version(self, version: str, question: str) -> dict[str, Any]:
        if self.trial is None:
            raise InputError("trying versions needs the chat router (serve wires it)")
        if not version or not (question or "").strip():
            raise InputError("pick a version and write a question")
        return self.trial(version, question.strip())

    # -- hand-offs --------------------------------------------------------------------
    def handoff_rows(self) -> list[dict[str, Any]]:
        """Open hand-offs, the most frequent intents first (then the newest)."""
        from infinstruct.chat.answers import humanize_intent
        from infinstruct.chat.curation import list_handoffs

        open_ = list_handoffs(self.s, status="open")
        counts: dict[str, int] = {}
        for h in open_:
            counts[h.intent or ""] = counts.get(h.intent or "", 0) + 1
        rows: list[dict[str, Any]] = [
            {
                "id": h.id,
                "question": h.question,
                "intent": humanize_intent(h.intent) if h.intent else "(none detected)",
                "asked for this intent": counts[h.intent or ""] if h.intent else 1,
                "asked": h.created_at.isoformat()[:16],
                "_intent": h.intent or "",
            }
            for h in open_
        ]
        rows.sort(key=lambda r: (-int(r["asked for this intent"] or 0), str(r["asked"])))
        return rows

    def answer_handoff(self, handoff_id: int | None, text: str, *, to_intent: bool, by: str) -> str:
        from infinstruct.chat.curation import answer_handoff, list_handoffs, set_intent_answer

        if not handoff_id or not (text or "").strip():
            raise InputError("click a question in the table and write the answer")
        intent = next(
            (h.intent for h in list_handoffs(self.s, status="open") if h.id == int(handoff_id)), None
        )
        _, curated_id = answer_handoff(self.s, int(handoff_id), text.strip(), by=by)
        note = f"answered; curated answer {curated_id} is used for this question from now on"
        if to_intent:
            if not intent:
                return note + " (no intent was detected for it, so only this question gets it)"
            set_intent_answer(self.s, intent=intent, answer=text.strip(), approved_by=by)
            note += f", and for every question about “{intent}”"
        return note

    def feedback_rows(self) -> list[dict[str, Any]]:
        from infinstruct.chat.conversations import list_feedback

        keys = ("rating", "question", "answer", "comment", "route")
        return [{k: f.get(k) for k in keys} for f in list_feedback(self.s, limit=100)]
