"""The router over a real small store (real embedder, index, registry), scripted model."""

from __future__ import annotations

from sqlmodel import select

from infinstruct.platform.chat.curation import add_curated
from infinstruct.platform.db import session_scope
from infinstruct.platform.settings import Settings
from infinstruct.platform.tables import ChatTurn, Handoff
from tests.platform.chat.conftest import CANARY, ScriptedBackend, make_router

IN_TRAINING = "I am still waiting on my card?"
SHOP = "Do you ship to Canada, and how long does delivery take?"
OFF_TOPIC = "Who painted the Mona Lisa?"


def test_routes_each_kind_of_question(chat_settings: Settings) -> None:
    backend = ScriptedBackend()
    router = make_router(chat_settings, backend)
    add_curated(chat_settings, "What are your opening hours?", "We are open 9 to 5, Monday to Friday.")

    curated = router.ask("what are your opening hours")
    assert curated.route == "curated"
    assert curated.answer == "We are open 9 to 5, Monday to Friday."
    assert curated.sources[0].corpus == "curated"

    model = router.ask(IN_TRAINING)
    assert model.route == "model", model.scores
    assert model.model_version == "dialogue-v1"
    assert model.answer == "Scripted reply from dialogue-v1 ."
    assert model.sources and all(s.doc_id.startswith("example:") for s in model.sources)
    # grounded: the nearest training examples precede the question as earlier turns
    sent = backend.calls[-1]
    assert sent[0]["role"] == "system" and sent[-1]["content"] == IN_TRAINING and len(sent) >= 4

    retrieval = router.ask(SHOP)
    assert retrieval.route == "retrieval", retrieval.scores
    assert retrieval.sources[0].corpus == "shop"
    assert {"doc_id", "corpus", "title", "snippet", "score"} <= set(retrieval.sources[0].as_dict())
    assert "<<<DATA" in backend.calls[-1][-1]["content"]

    abstain = router.ask(OFF_TOPIC)
    assert abstain.route == "abstain", abstain.scores
    assert "don't know" in abstain.answer
    with session_scope(chat_settings) as session:
        handoffs = session.exec(select(Handoff)).all()
    assert [h.question for h in handoffs] == [OFF_TOPIC]
    assert handoffs[0].conversation_id == abstain.conversation_id


def test_chinese_question_gets_chinese_abstain(chat_settings: Settings) -> None:
    answer = make_router(chat_settings).ask("长城有多长？")
    assert answer.route == "abstain"
    assert "不知道" in answer.answer


def test_recommend_route_uses_the_recommender(chat_settings: Settings) -> None:
    from infinstruct.platform.chat.answers import Source

    asked: list[str] = []

    def recommender(text: str, k: int) -> list[Source]:
        asked.append(text)
        return [Source("m1", "movies", "Toy Story 2 (1999)", "animation, sequel", 0.9)]

    answer = make_router(chat_settings, recommender=recommender).ask("Recommend me something like Toy Story")
    assert answer.route == "recommend"
    assert asked == ["Toy Story"]
    assert "Toy Story 2" in answer.answer and answer.sources[0].doc_id == "m1"


def test_conversation_history_window_and_ownership(chat_settings: Settings) -> None:
    import pytest

    from infinstruct.platform.errors import NotFoundError

    backend = ScriptedBackend()
    router = make_router(
        chat_settings.model_copy(update={"chat": chat_settings.chat.model_copy(update={"history_turns": 1})}),
        backend,
    )
    first = router.ask(IN_TRAINING, client="alice")
    router.ask(SHOP, conversation_id=first.conversation_id, client="alice")
    third = router.ask(IN_TRAINING, conversation_id=first.conversation_id, client="alice")
    shown = 2 * chat_settings.chat.grounding_examples
    history = backend.calls[-1][1 + shown : -1]  # after the system prompt and the examples
    # only the previous exchange is in the one-turn window; the first one has slid out
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["content"] == SHOP
    assert third.turn_id and third.conversation_id == first.conversation_id
    with pytest.raises(NotFoundError):
        router.ask("hello", conversation_id=first.conversation_id, client="mallory")
    with session_scope(chat_settings) as session:
        assert len(session.exec(select(ChatTurn)).all()) == 6


def test_hot_switch_to_newly_activated_version(chat_settings: Settings) -> None:
    import time

    from infinstruct.platform.registry import activate

    router = make_router(chat_settings)
    assert router.ask(IN_TRAINING).model_version == "dialogue-v1"
    activate(chat_settings, "dialogue-v2")
    # Wait for the switch itself (the router polls the registry), not for a guessed time.
    deadline = time.monotonic() + max(30.0, chat_settings.chat.model_poll_s * 20)
    answer = router.ask(IN_TRAINING)
    while answer.model_version != "dialogue-v2" and time.monotonic() < deadline:
        time.sleep(chat_settings.chat.model_poll_s / 2)
        answer = router.ask(IN_TRAINING)
    assert answer.model_version == "dialogue-v2"
    assert answer.answer == "Scripted reply from dialogue-v2 ."


def test_input_limits(chat_settings: Settings) -> None:
    import pytest

    from infinstruct.platform.errors import InputError, LimitError

    router = make_router(chat_settings)
    with pytest.raises(LimitError, match="max_input_chars"):
        router.ask("x" * (chat_settings.chat.max_input_chars + 1))
    with pytest.raises(InputError, match="empty"):
        router.ask("   ")


def test_system_prompt_leak_is_refused(chat_settings: Settings) -> None:
    from infinstruct.platform.chat.prompts import SYSTEM_PROMPT

    class Leaky(ScriptedBackend):
        def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int):  # type: ignore[no-untyped-def]
            yield from (w + " " for w in SYSTEM_PROMPT.split())

    answer = make_router(chat_settings, Leaky()).ask(IN_TRAINING)
    assert answer.route == "model"
    assert answer.answer == "Sorry, I can't share that."


def test_injection_is_caught_without_spotlighting_and_blocked_with_it(chat_settings: Settings) -> None:
    from tests.platform.chat.conftest import InstructionFollowingBackend

    question = "What is the warranty on the Ridgeback hiking boots?"
    off = chat_settings.model_copy(
        update={"chat": chat_settings.chat.model_copy(update={"spotlighting": False})}
    )
    exposed = make_router(off, InstructionFollowingBackend()).ask(question)
    assert exposed.route == "retrieval"
    assert CANARY in exposed.answer  # the test can fail: a gullible model obeys the passage

    defended = make_router(chat_settings, InstructionFollowingBackend()).ask(question)
    assert defended.route == "retrieval"
    assert CANARY not in defended.answer
