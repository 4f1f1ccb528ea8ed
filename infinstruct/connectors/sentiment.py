"""One sentiment scheme: every labelled source maps onto ``negative|neutral|positive``.

The sets disagree on integer codes, so each has its own table here, next to the others,
where a reader can compare them.
"""

from __future__ import annotations

from infinstruct.core.protocols import SENTIMENT_LABELS

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

#: A numeric score becomes a label by one rule (:func:`score_label`): below LOW is
#: negative, above HIGH positive, in between (inclusive) neutral. Generic files default to
#: ±0.05, the cut-offs VADER documents for its compound score in [-1, 1]; an operator sets
#: others with ``--score-thresholds LOW,HIGH``.
DEFAULT_SCORE_THRESHOLDS = (-0.05, 0.05)
#: FiQA scores live in [-1, 1]. Cut-offs fitted on FiQA_post.json (675 posts): the score
#: histogram is bimodal with a sparse band around zero (31 posts in [-0.1, 0.1], 4.6%; 218 below, 426 above);
#: that band is "neutral", matching how annotators scored mixed/no-opinion posts near 0.
FIQA_THRESHOLDS = (-0.1, 0.1)
#: Columns whose numbers are scores even when whole (a -1/0/1 polarity column).
SCORE_COLUMNS = frozenset({"score", "sentiment_score", "polarity", "compound"})


def score_label(score: float, thresholds: tuple[float, float] = DEFAULT_SCORE_THRESHOLDS) -> str:
    """``negative`` below ``thresholds[0]``, ``positive`` above ``thresholds[1]``, else ``neutral``."""
    low, high = thresholds
    if score < low:
        return "negative"
    if score > high:
        return "positive"
    return "neutral"


def parse_thresholds(text: str) -> tuple[float, float]:
    """``"-0.05,0.05"`` → ``(-0.05, 0.05)``; a clear error naming the value otherwise."""
    from infinstruct.core.errors import InputError

    parts = [p.strip() for p in text.split(",")]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        low = high = float("nan")
    if not low <= high:  # also catches NaN and the wrong number of parts
        raise InputError(
            f"--score-thresholds takes LOW,HIGH numbers with LOW <= HIGH (got {text!r}), e.g. -0.05,0.05"
        )
    return low, high


def to_label(
    raw: object, *, column: str = "", thresholds: tuple[float, float] | None = None
) -> tuple[str | None, float | None]:
    """The label (and score, when ``raw`` is one) of a generic file's label cell.

    A number is a score (→ :func:`score_label`) when thresholds were given, when the column
    is a score column, when it is typed as a float (JSON ``0.0``, a Parquet double) or when
    it is not whole; whole numbers in text are codes (binary 0/1, pandas' ``1.0``) or kept
    as custom labels; words map by name (``bullish`` → positive) or are kept.
    """
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None, None
    try:
        number: float | None = float(text)
    except ValueError:
        number = None
    if number is not None and number == number and abs(number) != float("inf"):
        typed_float = isinstance(raw, float)
        if (
            thresholds is not None
            or column.lower() in SCORE_COLUMNS
            or typed_float
            or not number.is_integer()
        ):
            return score_label(number, thresholds or DEFAULT_SCORE_THRESHOLDS), number
    return map_label(text, BINARY) or map_label(text, NAMED) or text, None


def map_label(raw: object, table: dict[str, str]) -> str | None:
    """The scheme label for ``raw`` under ``table`` (None when unknown)."""
    key = str(raw).strip().lower()
    if key.endswith(".0"):  # a float-written integer code
        key = key[:-2]
    label = table.get(key)
    assert label is None or label in SENTIMENT_LABELS
    return label
