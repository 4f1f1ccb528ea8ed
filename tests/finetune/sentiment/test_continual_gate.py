"""Continual runs report forgetting; the gate refuses a 1-step model against a longer one."""

from __future__ import annotations

from typing import Any

import pytest

from infinstruct.core.registry import get_version
from infinstruct.core.settings import Settings
from infinstruct.finetune.sentiment.gate import sentiment_verdict
from infinstruct.finetune.sentiment.train import run_sentiment_recipe
from tests.finetune.sentiment.conftest import FAST

pytestmark = pytest.mark.slow

CONTINUE = {**FAST, "optim.max_steps": 4, "data.max_eval": 60}


@pytest.mark.parametrize("strategy", ["replay", "ewc"])
def test_continue_from_reports_forgetting(
    sentiment_store: Settings, trained: dict[str, Any], strategy: str
) -> None:
    overrides = {**CONTINUE, "continual.strategy": strategy, "continual.fisher_samples": 8}
    result = run_sentiment_recipe(
        sentiment_store,
        "sentiment-minilm-finfe",
        continue_from=trained["version"],
        overrides=overrides,
        show_progress=False,
    )
    forgetting = result["forgetting"]
    assert forgetting["strategy"] == strategy
    row = forgetting["domains"]["phrasebank"]
    assert row["accuracy_before"] == trained["accuracy"]  # same split, same model: same number
    assert row["forgetting"] == pytest.approx(row["accuracy_before"] - row["accuracy_after"], abs=1e-4)
    version = get_version(sentiment_store, result["version"])
    assert version.parent_id == get_version(sentiment_store, trained["version"]).id
    assert [d["domain"] for d in version.recipe_resolved["domains"]] == ["phrasebank", "finfe"]
    assert version.metrics["forgetting"]["mean_forgetting"] == forgetting["mean_forgetting"]


def test_gate_refuses_a_one_step_model(sentiment_store: Settings, trained: dict[str, Any]) -> None:
    short = run_sentiment_recipe(
        sentiment_store, "sentiment-minilm", overrides={**FAST, "optim.max_steps": 1}, show_progress=False
    )
    longer = get_version(sentiment_store, trained["version"])
    candidate = get_version(sentiment_store, short["version"])
    verdict = sentiment_verdict(sentiment_store, candidate, longer)
    assert not verdict.passed, verdict
    assert "worse than active" in verdict.reason and verdict.details["metric"] == "macro_f1"
    assert sentiment_verdict(sentiment_store, longer, candidate).passed
