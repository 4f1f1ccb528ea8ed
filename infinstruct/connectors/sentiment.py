"""One sentiment scheme: every labelled source maps onto ``negative|neutral|positive``.

The sets disagree on integer codes, so each has its own table here, next to the others,
where a reader can compare them.
"""

from __future__ import annotations

from infinstruct.platform.protocols import SENTIMENT_LABELS

#: Twitter financial news: 0 = bearish, 1 = bullish, 2 = neutral (dataset card).
TWITTER_NEWS = {"0": "negative", "1": "positive", "2": "neutral"}
#: FinFE: 0 = negative, 1 = neutral, 2 = positive.
FINFE = {"0": "negative", "1": "neutral", "2": "positive"}
#: waimai_10k and other binary review sets: 1 = positive, 0 = negative.
BINARY = {"1": "positive", "0": "negative"}
#: Names used by PhraseBank and generic files.
NAMED = {
    "negative": "negative",
    "neg": "negative",
    "bearish": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
    "bullish": "positive",
}

#: FiQA scores live in [-1, 1]. Cut-offs fitted on FiQA_post.json (675 posts): the score
#: histogram is bimodal with a sparse band around zero (31 posts in [-0.1, 0.1], 4.6%; 218 below, 426 above);
#: that band is "neutral", matching how annotators scored mixed/no-opinion posts near 0.
FIQA_NEGATIVE_BELOW = -0.1
FIQA_POSITIVE_ABOVE = 0.1


def fiqa_label(score: float) -> str:
    if score < FIQA_NEGATIVE_BELOW:
        return "negative"
    if score > FIQA_POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def map_label(raw: object, table: dict[str, str]) -> str | None:
    """The scheme label for ``raw`` under ``table`` (None when unknown)."""
    key = str(raw).strip().lower()
    if key.endswith(".0"):  # a float-written integer code
        key = key[:-2]
    label = table.get(key)
    assert label is None or label in SENTIMENT_LABELS
    return label
