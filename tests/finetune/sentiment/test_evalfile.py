"""``infinstruct eval sentiment --data PATH``: any labelled file a connector reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.db import session_scope
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus
from infinstruct.finetune.sentiment.evalfile import evaluate_file
from tests.conftest import shared_path
from tests.finetune.sentiment.conftest import phrasebank_slice

pytestmark = pytest.mark.slow


def test_phrasebank_folder_reports_agreement_subsets(
    sentiment_store: Settings, trained: dict[str, Any], tmp_path: Path
) -> None:
    from infinstruct.services import build_ingestor

    folder = phrasebank_slice(tmp_path, per_label=40)
    result = evaluate_file(sentiment_store, folder, model=trained["version"], ingestor_factory=build_ingestor)
    assert result["model"] == trained["version"] and result["connector"] == "phrasebank"
    assert result["n"] == 120 and set(result["per_class"]) == {"negative", "neutral", "positive"}
    assert {"AllAgree", "50Agree"} <= set(result["subsets"]) and result["subsets"]["50Agree"]["n"] == 120
    with session_scope(sentiment_store) as session:  # the user's store never sees the file
        assert "eval-sentiment" not in {c.name for c in session.exec(select(Corpus)).all()}


def test_cli_json_on_twitter_csv(sentiment_store: Settings, trained: dict[str, Any], tmp_path: Path) -> None:
    lines = (
        shared_path("finance", "twitter_financial_news_sentiment", "sent_train.csv").read_bytes().splitlines()
    )
    csv = tmp_path / "sent_train.csv"
    csv.write_bytes(b"\n".join(lines[:61]) + b"\n")
    result = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(sentiment_store.data_dir),
            "eval",
            "sentiment",
            "--model",
            trained["version"],
            "--data",
            str(csv),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["n"] == 60 and data["connector"] == "twitter-fin-news"
    assert 0 <= data["accuracy"] <= 1 and 0 <= data["macro_f1"] <= 1
    assert sum(row["support"] for row in data["per_class"].values()) == 60


def test_cli_without_a_model_names_the_fix(settings: Settings, tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("text,label\nup,1\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--data-dir", str(settings.data_dir), "eval", "sentiment", "--data", str(csv)]
    )
    assert result.exit_code == 2
    assert "no active sentiment model" in result.output and "--model" in result.output


def test_bad_model_or_path_exits_2(sentiment_store: Settings, trained: dict[str, Any]) -> None:
    base = ["--data-dir", str(sentiment_store.data_dir), "eval", "sentiment"]
    missing = CliRunner().invoke(app, [*base, "--data", "/nonexistent/x.csv", "--model", trained["version"]])
    assert missing.exit_code == 2 and "no file or folder at /nonexistent/x.csv" in missing.output
    unknown = CliRunner().invoke(app, [*base, "--data", "/nonexistent/x.csv", "--model", "nope"])
    assert unknown.exit_code == 2 and "'nope'" in unknown.output
