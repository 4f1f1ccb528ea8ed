"""The continual-learning claim on real data: the default strategy (replay) forgets less than
half of what naive sequential fine-tuning forgets, at the same step budget from the same parent
(PhraseBank slice -> FinFE (zh) slice; forgetting = drop of PhraseBank test accuracy)."""

from __future__ import annotations

from typing import Any

import pytest

from infinstruct.core.settings import Settings
from infinstruct.finetune.sentiment.train import run_sentiment_recipe
from tests.finetune.sentiment.conftest import FAST

pytestmark = pytest.mark.slow

#: Enough Chinese-only steps for naive fine-tuning to forget measurably (the premise below).
STEPS = 30


def _forgetting(settings: Settings, parent: str, strategy: str) -> float:
    result = run_sentiment_recipe(
        settings,
        "sentiment-minilm-finfe",
        continue_from=parent,
        overrides={**FAST, "optim.max_steps": STEPS, "continual.strategy": strategy},
        show_progress=False,
    )
    return float(result["forgetting"]["domains"]["phrasebank"]["forgetting"])


def test_replay_forgets_less_than_half_of_naive(sentiment_store: Settings, trained: dict[str, Any]) -> None:
    naive = _forgetting(sentiment_store, trained["version"], "naive")
    replay = _forgetting(sentiment_store, trained["version"], "replay")
    # Premise: naive forgets something worth halving, else the comparison says nothing.
    assert naive >= 0.05, f"naive forgot only {naive:.3f} in {STEPS} steps; raise STEPS"
    assert replay < 0.5 * naive, f"replay forgot {replay:.3f}, naive {naive:.3f}"
