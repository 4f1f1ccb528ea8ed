"""Sentiment recipes: the shipped ones validate; validators state the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import Settings
from infinstruct.finetune.harness.overrides import apply_overrides
from infinstruct.finetune.sentiment.config import build_config, load_config
from tests.conftest import REPO


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "infinstruct" / "config" / "finetune").glob("sentiment-*.yaml")),
    ids=lambda p: p.stem,
)
def test_shipped_recipes_validate(settings: Settings, path: Path) -> None:
    config, found = load_config(settings, path.stem)
    assert found == path
    assert config.kind == "sentiment" and config.name == path.stem
    assert config.data.corpora, "a shipped recipe names its corpora"


def test_minilm_recipe_reports_both_agreement_subsets(settings: Settings) -> None:
    config, _ = load_config(settings, "sentiment-minilm")
    assert config.eval.subsets == {"AllAgree": 100, "50Agree": 50}
    assert config.eval.baseline is True
    assert config.model.base == "minilm"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"continual": {"strategy": "replay", "replay_ratio": 0}}, "continual.replay_ratio must be > 0"),
        ({"continual": {"strategy": "ewc", "ewc_lambda": 0}}, "continual.ewc_lambda must be > 0"),
        ({"data": {"test_fraction": 0.5, "val_fraction": 0.45}}, "must be < 0.9"),
        ({"data": {"min_agreement": 120}}, "percentage in (0, 100]"),
        ({"eval": {"subsets": {"AllAgree": 0}}}, "minimum agreements in (0, 100]"),
        ({"optim": {"lr": 0}}, "optim.lr"),
        ({"kind": "dialogue"}, "kind"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_validators_name_the_rule(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="sentiment-x") as info:
        build_config(raw, name="sentiment-x", source="sentiment-x")
    assert message in str(info.value)


def test_overrides_are_dotted_and_checked(settings: Settings) -> None:
    config, _ = load_config(
        settings, "sentiment-minilm", {"optim.max_steps": 3, "continual.strategy": "naive"}
    )
    assert config.optim.max_steps == 3 and config.continual.strategy == "naive"
    with pytest.raises(ConfigError, match="'domain' is not a section"):
        apply_overrides({"domain": "x"}, {"domain.name": 1})


def test_unknown_recipe_lists_the_known_ones(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="sentiment-minilm"):
        load_config(settings, "no-such-recipe")
