"""Article-level scores: headline counted twice, first summary sentences, one batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from infinstruct.sentiment import article_units, score_article, score_articles, split_sentences


class KeywordScorer:
    """A deterministic stand-in at the protocol edge: 'up' positive, 'down' negative."""

    version = "kw"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def score(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = [
            [0.1, 0.1, 0.8] if "up" in t else [0.8, 0.1, 0.1] if "down" in t else [0.1, 0.8, 0.1]
            for t in texts
        ]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), 3)


def test_split_sentences_handles_english_chinese_and_html() -> None:
    assert split_sentences("Sales rose 3.5 % . Costs fell! Why?") == [
        "Sales rose 3.5 % .",
        "Costs fell!",
        "Why?",
    ]
    assert split_sentences("股价上涨。利润下降！") == ["股价上涨。", "利润下降！"]
    assert split_sentences("<p>Shares up.</p><p>More</p>") == ["Shares up.", "More"]
    assert split_sentences("") == []


def test_units_weight_the_title_and_cap_sentences() -> None:
    units = article_units("Title", "One. Two. Three. Four.")
    assert units == [("Title", 2.0), ("One.", 1.0), ("Two.", 1.0), ("Three.", 1.0)]
    assert article_units("", "") == [("", 1.0)]


def test_article_score_is_the_weighted_mean_in_one_batch() -> None:
    scorer = KeywordScorer()
    scores = score_articles(scorer, [("Shares up", "Nothing new. Costs down."), ("", "")])
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == 4
    first = np.asarray(scores[0].probs)
    expected = (2 * np.array([0.1, 0.1, 0.8]) + np.array([0.1, 0.8, 0.1]) + np.array([0.8, 0.1, 0.1])) / 4
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    assert scores[0].label == "positive" and scores[0].units == 3
    assert scores[1].label == "neutral"
    assert score_article(scorer, "Profit down", "").label == "negative"


def test_batched_calls_give_the_same_scores_as_one_call() -> None:
    """The alerts bound a run's memory with ``batch_size``; an article split across two calls
    keeps its weighted mean."""
    articles = [("Shares up", "Nothing new. Costs down."), ("Profit down", "More. Costs down.")]
    whole = score_articles(KeywordScorer(), articles)
    scorer = KeywordScorer()
    batched = score_articles(scorer, articles, batch_size=2)
    assert [len(call) for call in scorer.calls] == [2, 2, 2]
    for a, b in zip(whole, batched, strict=True):
        np.testing.assert_allclose(a.probs, b.probs, rtol=1e-6)
        assert a.units == b.units
    assert batched[1].negative and not batched[0].negative
