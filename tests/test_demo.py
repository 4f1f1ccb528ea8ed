"""`infinstruct demo --smoke` runs the demo on the bundled samples and exits once /healthz answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from infinstruct.core.settings import load_settings


@pytest.mark.slow
def test_demo_smoke(demo_store: Path) -> None:
    # The fixture ran the demo from outside the checkout and checked that it exited 0.
    from infinstruct.core import registry
    from infinstruct.core.corpus_visibility import visibility_by_corpus

    settings = load_settings(data_dir=demo_store)
    assert {v.kind for v in registry.list_versions(settings) if v.status == "active"} == {
        "dialogue",
        "sentiment",
    }
    shown = visibility_by_corpus(settings)
    assert shown["sample-help_centre"] == "public" and shown["sample-banking77"] == "internal"


@pytest.mark.slow
def test_demo_answers_the_card_question_with_a_sentence(demo_store: Path) -> None:
    from infinstruct.chat.answers import humanize_intent
    from infinstruct.chat.service import build_chat_router

    settings = load_settings(data_dir=demo_store)
    answer = build_chat_router(settings).ask(
        "My card payment was declined, why?", persist=False, handoff=False
    )
    # the sample intent answers were loaded: the intent decides, its curated answer is sent
    assert answer.route == "curated" and answer.intent == "declined_card_payment", answer
    assert answer.answer.startswith("Sorry your payment didn't go through.")
    assert humanize_intent(answer.intent) == "Declined card payment"
