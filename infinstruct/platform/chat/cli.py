"""Commands of the chat: ``chat``, ``handoffs``, ``curated``, ``feedback`` and ``eval chat``.

Registered on the root app by ``infinstruct.cli``; heavy imports happen inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from infinstruct.platform.cli_support import JsonOption, emit, settings_from


def _sources_text(sources: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  [{n}] {s['corpus']} {s['doc_id'][:16]} ({s['score']:.3f}) {s['snippet'][:80]!r}"
        for n, s in enumerate(sources, 1)
    )


def _eval_text(report: dict[str, Any]) -> str:
    t, th = report["test"], report["thresholds"]
    lines = [
        f"model version: {report['model_version'] or '(none: base model)'}",
        f"thresholds: curated {th['curated']:.3f}  model {th['model']:.3f}  retrieval {th['retrieval']:.3f}",
        f"test half ({t['items']} questions): abstain precision {t['abstain_precision']:.3f}  "
        f"recall {t['abstain_recall']:.3f}  {'OK' if report['meets_bounds'] else 'BELOW the 0.8 bounds'}",
        "per-route accuracy: " + "  ".join(f"{k} {v:.3f}" for k, v in t["per_route_accuracy"].items()),
    ]
    if report.get("saved_to"):
        lines.append(f"saved to {report['saved_to']}")
    return "\n".join(lines)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add this part's commands to the root app and the shared ``eval`` group."""
    handoffs_app = typer.Typer(
        help="Questions the chat could not answer, waiting for a person.", no_args_is_help=True
    )
    curated_app = typer.Typer(
        help="Operator-approved answers the chat returns verbatim.", no_args_is_help=True
    )
    feedback_app = typer.Typer(help="Customers' thumbs up/down on chat answers.", no_args_is_help=True)
    app.add_typer(handoffs_app, name="handoffs")
    app.add_typer(curated_app, name="curated")
    app.add_typer(feedback_app, name="feedback")

    @app.command("chat")
    def chat(
        ctx: typer.Context,
        question: str = typer.Argument(..., help="The question to ask."),
        conversation: str | None = typer.Option(
            None, "--conversation", help="Continue this conversation id."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Ask the answer router one question (route, sources, model version, latency)."""
        from infinstruct.platform.chat.service import build_chat_router
        from infinstruct.platform.db import ensure_schema

        settings = settings_from(ctx)
        ensure_schema(settings)
        answer = build_chat_router(settings).ask(question, conversation_id=conversation, client="cli")
        data = answer.as_dict()
        human = (
            f"{answer.answer}\n-- route {answer.route}, model {answer.model_version}, "
            f"{answer.latency_ms:.0f} ms, conversation {answer.conversation_id}"
        )
        if data["sources"]:
            human += "\n" + _sources_text(data["sources"])
        emit(data, as_json=as_json, human=human)

    @handoffs_app.command("list")
    def handoffs_list(
        ctx: typer.Context,
        status: str = typer.Option("open", help="open, answered or all."),
        as_json: bool = JsonOption,
    ) -> None:
        """List hand-offs (open ones by default)."""
        from infinstruct.platform.chat.curation import list_handoffs

        rows = [
            h.model_dump(mode="json")
            for h in list_handoffs(settings_from(ctx), status=None if status == "all" else status)
        ]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(f"{r['id']:>5} {r['status']:8} {r['question'][:90]}" for r in rows)
            or f"no {status} hand-offs",
        )

    @handoffs_app.command("answer")
    def handoffs_answer(
        ctx: typer.Context,
        handoff_id: int = typer.Argument(..., help="The hand-off's id."),
        answer: str = typer.Argument(..., help="The reply the customer should get."),
        by: str = typer.Option("", "--by", help="Who answered (kept with the curated answer)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Answer a hand-off: it closes and becomes a curated answer (and training data)."""
        from infinstruct.platform.chat.curation import answer_handoff

        row, curated_id = answer_handoff(settings_from(ctx), handoff_id, answer, by=by)
        emit(
            {"handoff": row.model_dump(mode="json"), "curated_id": curated_id},
            as_json=as_json,
            human=f"hand-off {handoff_id} answered; curated answer {curated_id} added",
        )

    @curated_app.command("add")
    def curated_add(
        ctx: typer.Context,
        question: str = typer.Argument(..., help="The question customers ask."),
        answer: str = typer.Argument(..., help="The approved answer."),
        by: str = typer.Option("", "--by", help="Who approved it."),
        as_json: bool = JsonOption,
    ) -> None:
        """Add one approved question/answer pair."""
        from infinstruct.platform.chat.curation import add_curated

        row = add_curated(settings_from(ctx), question, answer, approved_by=by)
        emit(row.model_dump(mode="json"), as_json=as_json, human=f"curated answer {row.id} added")

    @curated_app.command("import")
    def curated_import(
        ctx: typer.Context,
        path: Path = typer.Argument(..., help="A .csv (question,answer header) or .jsonl file."),
        by: str = typer.Option("", "--by", help="Who approved them."),
        as_json: bool = JsonOption,
    ) -> None:
        """Add every question/answer pair of a CSV or JSONL file."""
        from infinstruct.platform.chat.curation import import_curated

        count = import_curated(settings_from(ctx), path, approved_by=by)
        emit({"imported": count, "path": str(path)}, as_json=as_json, human=f"{count} curated answers added")

    @curated_app.command("list")
    def curated_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List the active curated answers."""
        from infinstruct.platform.chat.curation import list_curated

        rows = [c.model_dump(mode="json") for c in list_curated(settings_from(ctx))]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['id']:>5} {r['origin']:8} {r['question'][:50]!r} -> {r['answer'][:50]!r}" for r in rows
            )
            or "no curated answers; add one with `infinstruct curated add QUESTION ANSWER`",
        )

    @feedback_app.command("list")
    def feedback_list(
        ctx: typer.Context,
        limit: int = typer.Option(100, help="Most recent entries shown."),
        as_json: bool = JsonOption,
    ) -> None:
        """Recent feedback with the question and answer it rates."""
        from infinstruct.platform.chat.conversations import list_feedback

        rows = list_feedback(settings_from(ctx), limit=limit)
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{'+1' if r['rating'] > 0 else '-1'} {r['route'] or '':9} {r['question'][:50]!r} {r['comment'][:40]!r}"
                for r in rows
            )
            or "no feedback yet",
        )

    @eval_app.command("chat")
    def eval_chat(
        ctx: typer.Context,
        size: int | None = typer.Option(None, help="In-domain questions (chat.calibration_size)."),
        save: bool = typer.Option(True, "--save/--no-save", help="Write the fitted thresholds."),
        as_json: bool = JsonOption,
    ) -> None:
        """Calibrate the router: fit thresholds on held-out questions, report on a test half."""
        from infinstruct.platform.chat.calibration import run_calibration
        from infinstruct.platform.chat.service import build_chat_router

        settings = settings_from(ctx)
        report = run_calibration(settings, build_chat_router(settings), size=size, save=save)
        emit(report, as_json=as_json, human=_eval_text(report))
