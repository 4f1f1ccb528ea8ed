"""Commands of the chat: ``chat``, ``handoffs``, ``curated``, ``feedback``, ``eval chat`` and
``eval answers``.

Registered on the root app by ``infinstruct.cli``; heavy imports happen inside commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from
from infinstruct.dialogue.loading import NO_FORMATS, ArtefactFormats

if TYPE_CHECKING:
    from infinstruct.chat.router import ChatRouter
    from infinstruct.core.settings import Settings


def _sources_text(sources: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  [{n}] {s['corpus']} {s['doc_id'][:16]} ({s['score']:.3f}) {s['snippet'][:80]!r}"
        for n, s in enumerate(sources, 1)
    )


def _eval_text(report: Mapping[str, Any]) -> str:
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


def _answers_text(report: Mapping[str, Any]) -> str:
    a, sim, lat = report["answers"], report["similarity"], report["latency"]
    return "\n".join(
        [
            f"model version: {report['model_version']}  questions: {report['questions']}",
            "answers: " + "  ".join(f"{k} {a[k]:.3f}" for k in a if k.endswith("_share")),
            f"off-domain declined {report['off_domain']['decline_share']:.3f}  "
            f"in-domain answered {report['in_domain']['answered_share']:.3f}  "
            f"intent accuracy {report['intent']['accuracy']:.3f}",
            f"similarity to the real reply: ours {sim['ours']:.3f}  nearest past reply "
            f"{sim['nearest_reply']:.3f}  constant apology {sim['constant']:.3f}",
            f"latency p50 {lat['p50_s']:.2f} s  p95 {lat['p95_s']:.2f} s  rejections {report['rejections']}",
        ]
    )


def register(
    app: typer.Typer, eval_app: typer.Typer, *, formats: Callable[[], ArtefactFormats] = lambda: NO_FORMATS
) -> None:
    """Add this part's commands to the root app and the shared ``eval`` group; ``formats``
    gives the parts' model version formats (from the composition root) when a command loads one."""

    def router(settings: Settings) -> ChatRouter:
        from infinstruct.chat.backends import factory_with
        from infinstruct.chat.service import build_chat_router

        return build_chat_router(settings, backend_factory=factory_with(formats()))

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
    _register_chat(app, router)
    _register_handoffs(handoffs_app)
    _register_curated(curated_app)
    _register_feedback(feedback_app)
    _register_evals(eval_app, router)


def _register_chat(app: typer.Typer, router: Callable[[Settings], ChatRouter]) -> None:
    """``chat``: one question to the router from the terminal."""

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
        from infinstruct.core.db import ensure_schema

        settings = settings_from(ctx)
        ensure_schema(settings)
        answer = router(settings).ask(question, conversation_id=conversation, client="cli")
        data = answer.as_dict()
        human = (
            f"{answer.answer}\n-- route {answer.route}, model {answer.model_version}, "
            f"{answer.latency_ms:.0f} ms, conversation {answer.conversation_id}"
        )
        if answer.intent:
            human += f"\n-- intent {answer.intent} ({answer.intent_confidence or 0:.2f})"
        if answer.rejections:
            human += f"\n-- rejected replies: {answer.rejections}"
        if data["sources"]:
            human += "\n" + _sources_text(data["sources"])
        emit(data, as_json=as_json, human=human)


def _register_handoffs(handoffs_app: typer.Typer) -> None:
    """``handoffs list|answer|intents``: the questions waiting for a person."""

    @handoffs_app.command("list")
    def handoffs_list(
        ctx: typer.Context,
        status: str = typer.Option("open", help="open, answered or all."),
        as_json: bool = JsonOption,
    ) -> None:
        """List hand-offs (open ones by default)."""
        from infinstruct.chat.curation import list_handoffs

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
        from infinstruct.chat.curation import answer_handoff

        row, curated_id = answer_handoff(settings_from(ctx), handoff_id, answer, by=by)
        emit(
            {"handoff": row.model_dump(mode="json"), "curated_id": curated_id},
            as_json=as_json,
            human=f"hand-off {handoff_id} answered; curated answer {curated_id} added",
        )

    @handoffs_app.command("intents")
    def handoffs_intents(
        ctx: typer.Context,
        limit: int = typer.Option(20, help="How many intents to list."),
        as_json: bool = JsonOption,
    ) -> None:
        """The intents of open hand-offs without a curated answer, most frequent first."""
        from infinstruct.chat.curation import top_unanswered_intents

        rows = [
            {"intent": i, "open_handoffs": n}
            for i, n in top_unanswered_intents(settings_from(ctx), limit=limit)
        ]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(f"{r['open_handoffs']:>5}  {r['intent']}" for r in rows)
            or "no open hand-off lacks an intent answer",
        )


def _register_curated(curated_app: typer.Typer) -> None:
    """``curated add|import|intent|list``: the answers returned verbatim."""

    @curated_app.command("add")
    def curated_add(
        ctx: typer.Context,
        question: str = typer.Argument(..., help="The question customers ask."),
        answer: str = typer.Argument(..., help="The approved answer."),
        by: str = typer.Option("", "--by", help="Who approved it."),
        as_json: bool = JsonOption,
    ) -> None:
        """Add one approved question/answer pair."""
        from infinstruct.chat.curation import add_curated

        row = add_curated(settings_from(ctx), question, answer, approved_by=by)
        emit(row.model_dump(mode="json"), as_json=as_json, human=f"curated answer {row.id} added")

    @curated_app.command("import")
    def curated_import(
        ctx: typer.Context,
        path: Path = typer.Argument(..., help="A .csv (question,answer header) or .jsonl file."),
        by: str = typer.Option("", "--by", help="Who approved them."),
        as_json: bool = JsonOption,
    ) -> None:
        """Add every question/answer pair of a CSV or JSONL file (a CSV with intent,answer
        columns sets the answer of each intent instead)."""
        import csv

        from infinstruct.chat.curation import import_curated, import_intent_answers

        header: list[str] = []
        if path.suffix.lower() == ".csv" and path.exists():
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), [])
        if "intent" in header:
            count = import_intent_answers(settings_from(ctx), path, approved_by=by)
        else:
            count = import_curated(settings_from(ctx), path, approved_by=by)
        emit({"imported": count, "path": str(path)}, as_json=as_json, human=f"{count} curated answers added")

    @curated_app.command("intent")
    def curated_intent(
        ctx: typer.Context,
        intent: str = typer.Argument(..., help="The intent label, e.g. declined_card_payment."),
        answer: str = typer.Argument(..., help="The reply every question of that intent gets."),
        by: str = typer.Option("", "--by", help="Who approved it."),
        as_json: bool = JsonOption,
    ) -> None:
        """Attach an approved answer to an intent (replaces its earlier answer)."""
        from infinstruct.chat.curation import set_intent_answer

        row = set_intent_answer(settings_from(ctx), intent=intent, answer=answer, approved_by=by)
        emit(row.model_dump(mode="json"), as_json=as_json, human=f"intent {intent}: curated answer {row.id}")

    @curated_app.command("list")
    def curated_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List the active curated answers."""
        from infinstruct.chat.curation import list_curated

        rows = [c.model_dump(mode="json") for c in list_curated(settings_from(ctx))]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['id']:>5} {r['origin']:8} {(r['question'] or 'intent:' + str(r['intent']))[:50]!r} "
                f"-> {r['answer'][:50]!r}"
                for r in rows
            )
            or "no curated answers; add one with `infinstruct curated add QUESTION ANSWER`",
        )


def _register_feedback(feedback_app: typer.Typer) -> None:
    """``feedback list``."""

    @feedback_app.command("list")
    def feedback_list(
        ctx: typer.Context,
        limit: int = typer.Option(100, help="Most recent entries shown."),
        as_json: bool = JsonOption,
    ) -> None:
        """Recent feedback with the question and answer it rates."""
        from infinstruct.chat.conversations import list_feedback

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


def _register_evals(eval_app: typer.Typer, router: Callable[[Settings], ChatRouter]) -> None:
    """``eval chat`` and ``eval answers``."""

    @eval_app.command("chat")
    def eval_chat(
        ctx: typer.Context,
        size: int | None = typer.Option(None, help="In-domain questions (chat.calibration_size)."),
        save: bool = typer.Option(True, "--save/--no-save", help="Write the fitted thresholds."),
        as_json: bool = JsonOption,
    ) -> None:
        """Calibrate the router: fit thresholds on held-out questions, report on a test half."""
        from infinstruct.chat.calibration import run_calibration

        settings = settings_from(ctx)
        report = run_calibration(settings, router(settings), size=size, save=save)
        emit(report, as_json=as_json, human=_eval_text(report))

    @eval_app.command("answers")
    def eval_answers(
        ctx: typer.Context,
        size: int = typer.Option(30, help="Questions per sample (reply, intent, off-domain)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Judge the replies customers get on held-out questions, next to two baselines."""
        from infinstruct.chat.answer_eval import run_answer_eval

        if size < 1:
            raise typer.BadParameter(f"--size must be >= 1 (got {size})")
        settings = settings_from(ctx)
        report = run_answer_eval(settings, router(settings), size=size)
        emit(report, as_json=as_json, human=_answers_text(report))
