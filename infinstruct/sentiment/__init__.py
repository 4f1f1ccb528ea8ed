"""Sentiment scoring at serving time: the active registry version as a ``SentimentScorer``.

``load_active_scorer(settings)`` gives batched probabilities over negative/neutral/positive
from the active ``sentiment`` model version (None when none is active); ``score_articles``
turns a headline + summary into one article-level score. Torch loads on first use only.
"""

from __future__ import annotations

from infinstruct.sentiment.article import (
    ArticleScore,
    article_units,
    score_article,
    score_articles,
    split_sentences,
)
from infinstruct.sentiment.scorer import (
    SENTIMENT_KIND,
    ClassifierScorer,
    load_active_scorer,
    load_scorer,
)

__all__ = [
    "SENTIMENT_KIND",
    "ArticleScore",
    "ClassifierScorer",
    "article_units",
    "load_active_scorer",
    "load_scorer",
    "score_article",
    "score_articles",
    "split_sentences",
]
