"""The serving scorer: the active registry version as batched probabilities in label order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infinstruct.core.errors import ModelLoadError
from infinstruct.core.protocols import SENTIMENT_LABELS, SentimentScorer
from infinstruct.core.registry import activate, register_version
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.sentiment import load_active_scorer, load_scorer
from infinstruct.sentiment.scorer import label_columns

pytestmark = pytest.mark.slow

TEXTS = ["Operating profit rose to EUR 13.1 mn .", "", "补仓补的心力憔悴", "Sales fell 5 % ." * 40]


def _tiny_classifier(folder: Path, id2label: dict[int, str]) -> Path:
    """A 2-layer BERT with the MiniLM tokenizer: the real loading path at a tiny size."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from infinstruct.core.bundled_models import minilm_path

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(folder)
    return folder


def _register(settings: Settings, folder: Path, name: str) -> None:
    register_version(
        settings,
        ModelVersion(
            name=name,
            kind="sentiment",
            base="tiny",
            method="full",
            recipe="test",
            recipe_resolved={"model": {"max_length": 32}},
            metrics={},
            artefact_path=str(folder),
        ),
    )


def test_no_active_version_means_no_scorer(settings: Settings) -> None:
    assert load_active_scorer(settings) is None


def test_active_version_scores_in_label_order(settings: Settings, tmp_path: Path) -> None:
    folder = _tiny_classifier(tmp_path / "m", {0: "negative", 1: "neutral", 2: "positive"})
    _register(settings, folder, "sentiment-v1")
    activate(settings, "sentiment-v1")
    scorer = load_active_scorer(settings, device="cpu")
    assert isinstance(scorer, SentimentScorer) and scorer.version == "sentiment-v1"
    probs = scorer.score(TEXTS)
    assert probs.shape == (len(TEXTS), 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # Batching and length-sorting do not change a text's score.
    alone = scorer.score([TEXTS[2]])
    np.testing.assert_allclose(alone[0], probs[2], atol=1e-5)
    assert scorer.score([]).shape == (0, 3)


def test_a_head_in_another_order_is_reordered(settings: Settings, tmp_path: Path) -> None:
    straight = load_scorer(
        _tiny_classifier(tmp_path / "a", {0: "negative", 1: "neutral", 2: "positive"}),
        version="a",
        device="cpu",
    )
    swapped_folder = _tiny_classifier(tmp_path / "b", {0: "positive", 1: "negative", 2: "neutral"})
    swapped = load_scorer(swapped_folder, version="b", device="cpu")
    raw = swapped.model.config.id2label
    assert [raw[c] for c in swapped._columns] == list(SENTIMENT_LABELS)
    # Same weights (same seed), so the swapped scorer's columns are a permutation of the straight one's.
    np.testing.assert_allclose(straight.logits(TEXTS)[:, [1, 2, 0]], swapped.logits(TEXTS), atol=1e-5)


def test_missing_artefact_names_the_fix(settings: Settings, tmp_path: Path) -> None:
    _register(settings, tmp_path / "gone", "sentiment-v1")
    activate(settings, "sentiment-v1")
    with pytest.raises(ModelLoadError, match="infinstruct train sentiment-minilm"):
        load_active_scorer(settings)


def test_label_columns_rules() -> None:
    assert label_columns({0: "Positive", 1: "NEGATIVE", 2: "neutral"}) == [1, 2, 0]
    assert label_columns({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == [0, 1, 2]
    with pytest.raises(ModelLoadError, match="not"):
        label_columns({0: "a", 1: "b"})
