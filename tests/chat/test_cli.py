"""The chat's commands through typer's CliRunner over the real small store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.settings import Settings


@pytest.fixture
def run(chat_settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INFINSTRUCT_DATA_DIR", str(chat_settings.data_dir))
    runner = CliRunner()

    def invoke(*args: str) -> object:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        text = result.stdout.strip()
        return json.loads(text.splitlines()[-1]) if "--json" in args else text

    return invoke


def test_chat_json_handoff_answer_becomes_curated(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    question = "Who painted the Mona Lisa?"
    first = run("chat", question, "--json")
    assert set(first) == {
        "answer",
        "route",
        "sources",
        "model_version",
        "latency_ms",
        "intent",
        "intent_confidence",
        "rejections",
    }
    assert first["route"] == "abstain" and first["model_version"] == "dialogue-v1"

    open_ = run("handoffs", "list", "--json")
    assert [h["question"] for h in open_] == [question]
    answered = run("handoffs", "answer", str(open_[0]["id"]), "Leonardo da Vinci.", "--by", "ops", "--json")
    assert answered["handoff"]["status"] == "answered"
    assert run("handoffs", "list", "--json") == []

    again = run("chat", question, "--json")
    assert again["route"] == "curated" and again["answer"] == "Leonardo da Vinci."

    pairs = tmp_path / "pairs.csv"
    pairs.write_text("question,answer\nDo you sell gift cards?,Yes in every store.\n", encoding="utf-8")
    assert run("curated", "import", str(pairs), "--json")["imported"] == 1
    run("curated", "add", "Where is the Leeds store?", "On Briggate.")
    listed = run("curated", "list", "--json")
    assert {c["origin"] for c in listed} == {"handoff", "import", "operator"}
    assert run("feedback", "list", "--json") == []


def test_answers_by_intent_through_the_cli(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tagged = run("chat", "I am still waiting on my card?", "--json")
    assert tagged["route"] == "abstain" and tagged["intent"] == "card_arrival"
    assert run("handoffs", "intents", "--json") == [{"intent": "card_arrival", "open_handoffs": 1}]

    table = tmp_path / "intents.csv"
    table.write_text("intent,answer\ncard_arrival,Cards arrive within 5 working days.\n", encoding="utf-8")
    assert run("curated", "import", str(table), "--json")["imported"] == 1
    assert run("handoffs", "intents", "--json") == []
    answered = run("chat", "Where is my new card? It still has not arrived.", "--json")
    assert answered["route"] == "curated" and answered["answer"] == "Cards arrive within 5 working days."

    replaced = run("curated", "intent", "card_arrival", "Allow 7 working days.", "--json")
    assert replaced["intent"] == "card_arrival" and replaced["question"] == ""
    assert run("chat", "I am still waiting on my card?", "--json")["answer"] == "Allow 7 working days."
    bad = tmp_path / "bad.csv"
    bad.write_text("intent,answer\ncard_arrival,\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["curated", "import", str(bad)])
    assert result.exit_code == 2 and "lack an intent or an answer" in result.output
