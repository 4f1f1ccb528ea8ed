"""Article-level sentiment from a headline and its summary sentences — the one article scorer.

A headline carries the news; a summary sentence often only context. So an article's
probabilities are the weighted mean of its units — the title (counted ``title_weight``
times) and the first ``max_sentences`` summary sentences. The alerts (``alerts.scoring``),
the backtest (``alerts.backtest_run``) and the benchmarks all score articles here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from infinstruct.core import text as core_text
from infinstruct.core.protocols import SENTIMENT_LABELS, SentimentScorer

TITLE_WEIGHT = 2.0
MAX_SENTENCES = 3
_TAG = re.compile(r"<[^>]+>")


def split_sentences(text: str) -> list[str]:
    """Sentences of a summary (HTML tags dropped), empty pieces removed."""
    return core_text.split_sentences(_TAG.sub(" ", text or ""))


def article_units(
    title: str, summary: str, *, title_weight: float = TITLE_WEIGHT, max_sentences: int = MAX_SENTENCES
) -> list[tuple[str, float]]:
    """(text, weight) units of one article; never empty (an empty article is one empty unit)."""
    units: list[tuple[str, float]] = []
    if title.strip():
        units.append((title.strip(), title_weight))
    units.extend((s, 1.0) for s in split_sentences(summary)[:max_sentences])
    return units or [("", 1.0)]


@dataclass(frozen=True)
class ArticleScore:
    probs: tuple[float, float, float]  # negative, neutral, positive
    units: int

    @property
    def label(self) -> str:
        return SENTIMENT_LABELS[int(np.argmax(self.probs))]

    @property
    def negative(self) -> bool:
        """The model's verdict is negative (what the detector counts)."""
        return self.label == "negative"


def score_articles(
    scorer: SentimentScorer,
    articles: Sequence[tuple[str, str]],
    *,
    batch_size: int | None = None,
    title_weight: float = TITLE_WEIGHT,
    max_sentences: int = MAX_SENTENCES,
) -> list[ArticleScore]:
    """One score per (title, summary).

    Every unit of every article is scored in one scorer call, or in calls of ``batch_size``
    units when given (the alerts bound the memory of a run that way); an article's units
    may straddle two calls, which changes nothing in its mean.
    """
    texts: list[str] = []
    owners: list[tuple[int, float]] = []
    for index, (title, summary) in enumerate(articles):
        for text, weight in article_units(
            title, summary, title_weight=title_weight, max_sentences=max_sentences
        ):
            texts.append(text)
            owners.append((index, weight))
    step = batch_size or max(len(texts), 1)
    sums = np.zeros((len(articles), 3), dtype=np.float64)
    weights = np.zeros(len(articles), dtype=np.float64)
    counts = np.zeros(len(articles), dtype=np.int64)
    for start in range(0, len(texts), step):
        probs = scorer.score(texts[start : start + step])
        for row, (index, weight) in zip(probs, owners[start : start + step], strict=True):
            sums[index] += weight * np.asarray(row, dtype=np.float64)
            weights[index] += weight
            counts[index] += 1
    out = []
    for s, w, n in zip(sums, weights, counts, strict=True):
        p = s / w
        out.append(ArticleScore(probs=(float(p[0]), float(p[1]), float(p[2])), units=int(n)))
    return out


def score_article(scorer: SentimentScorer, title: str, summary: str) -> ArticleScore:
    """Article-level sentiment of one headline + summary."""
    return score_articles(scorer, [(title, summary)])[0]
