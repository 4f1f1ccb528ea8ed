"""The customer's view of an answer and the console's pure pieces, without a browser."""

from __future__ import annotations

from types import SimpleNamespace

from infinstruct.chat.answers import Answer, Source
from infinstruct.chat.customer_view import customer_answer
from infinstruct.ui.chat.texts import lang_of, say
from infinstruct.ui.operator.common import progress_html


def test_customer_sees_public_and_curated_sources_only_as_title_and_excerpt() -> None:
    leaked = "Why is my payment declined? It looked like everything worked ok and my account was fine."
    answer = Answer(
        answer="Your card may be frozen.",
        route="retrieval",
        sources=[
            Source(
                "d1", "help", "Why was my card payment declined?", "A card payment can be declined " * 20, 0.9
            ),
            Source("e1", "sample-banking77", "intent_classification", leaked, 0.8),
            Source("curated:3", "curated", "", "a customer's own question", 0.7),
        ],
        intent="declined_card_payment",
        intent_confidence=0.9,
    )
    view = customer_answer(answer, {"help"})
    assert [s["title"] for s in view["sources"]] == [
        "Why was my card payment declined?",
        "Answer reviewed by our support team",
    ]
    assert all(set(s) == {"title", "excerpt"} for s in view["sources"])
    assert len(view["sources"][0]["excerpt"]) <= 181 and view["sources"][0]["excerpt"].endswith("…")
    text = repr(view)
    for internal in (leaked, "sample-banking77", "intent_classification", "a customer's own question", "0.9"):
        assert internal not in text, internal
    assert view["topic"] == "Declined card payment"


def test_messages_follow_the_browser_language() -> None:
    zh = SimpleNamespace(headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"})
    en = SimpleNamespace(headers={"accept-language": "en-GB,en;q=0.9"})
    assert lang_of(zh) == "zh" and lang_of(en) == "en" and lang_of(None) == "en"
    assert say("err_rate", "zh") != say("err_rate", "en")
    assert "infinstruct" not in say("rec_unavailable", "en")


def test_a_failed_job_shows_the_clis_message() -> None:
    job = SimpleNamespace(
        id=7,
        status="failed",
        done=0,
        total=None,
        unit="",
        rate=None,
        message="",
        error="no connector recognises x.csv; Pick one with --connector NAME",
    )
    html = progress_html(job, "load")  # type: ignore[arg-type]
    assert "Pick one with --connector NAME" in html and "failed: 0" not in html
    running = SimpleNamespace(
        id=8, status="running", done=30, total=120, unit="step", rate=2.0, message="", error=""
    )
    shown = progress_html(running, "training")  # type: ignore[arg-type]
    assert "30/120 step" in shown and "ETA 45s" in shown and "width:25%" in shown


def test_a_run_that_ends_between_two_polls_still_draws_its_whole_loss_curve() -> None:
    from infinstruct.core.tables import JobRun
    from infinstruct.finetune.training.run import loss_curve
    from infinstruct.ui.operator.backend import OperatorBackend
    from infinstruct.ui.operator.training import _with_point

    curve = loss_curve([3.0 - 0.1 * i for i in range(450)], start=0)
    assert len(curve) <= 200 and curve[0] == [1, 3.0] and curve[-1][0] == 450
    # the page never saw the job running: its first poll finds it finished
    job = JobRun(
        kind="train",
        command=["train"],
        status="succeeded",
        done=450,
        total=450,
        message="",
        result={"validation_loss": 1.5, "train": {"loss_curve": curve}},
    )
    points = _with_point(SimpleNamespace(loss_point=OperatorBackend.loss_point), job, [])  # type: ignore[arg-type]
    series = {p["series"] for p in points}
    assert series == {"training", "validation (end)"}
    assert [p["step"] for p in points if p["series"] == "training"] == [step for step, _ in curve]


def test_the_console_maps_a_generic_file_and_previews_it_as_the_cli_would(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from infinstruct.core.errors import InputError
    from infinstruct.services import build_operator_backend
    from infinstruct.ui.operator.backend import LoadMapping
    from infinstruct.ui.operator.corpora import preview
    from tests.conftest import REPO

    mapping = LoadMapping("conversation=ticket_id, role=author_role text=body", "agent,admin", "-0.05,0.05")
    assert mapping.cli_args() == [
        "--map",
        "conversation=ticket_id",
        "--map",
        "role=author_role",
        "--map",
        "text=body",
        "--agent-roles",
        "agent,admin",
        "--score-thresholds=-0.05,0.05",
    ]
    for bad in (LoadMapping("text"), LoadMapping(score_thresholds="low,high")):
        with pytest.raises(InputError):
            bad.cli_args()

    # A helpdesk export renamed so no detection rule knows it: the mapping makes it load.
    upload = tmp_path / "tickets.csv"
    text = (REPO / "tests/data/connectors/zendesk_comments.csv").read_text(encoding="utf-8")
    upload.write_text(text.replace("ticket_id", "case").replace("author_role", "who"), encoding="utf-8")
    backend = build_operator_backend(settings)
    shown = preview(
        backend,
        str(upload),
        "",
        "conversation",
        "conversation=case role=who text=body time=created_at",
        "agent",
    )
    assert "connector **conversation**" in shown and "`conversation` ← `case`" in shown, shown
    assert "First records" in shown and "charged twice" in shown, shown
    # the mapping fields sit in a closed accordion: the browser then sends None for each
    plain = preview(
        backend, str(REPO / "tests/data/connectors/zendesk_comments.csv"), "", "auto", None, None, None
    )
    assert "connector **conversation**" in plain, plain
