"""Lexical evidence that a question really is of an intent, before its curated answer is sent.

A hand-off tag needs only the vote; a curated answer also needs a clearer vote
(``chat.intent_answer_min_confidence``), a margin over the other in-domain evidence
(``ANSWER_MARGIN``) and the words below.

The intent vote is a similarity-weighted vote of the nearest labelled questions; MiniLM puts
"my package hasn't arrived" next to BANKING77's "my card hasn't arrived", so the vote alone
would send the card-delivery answer to a parcel question. A curated answer chosen by intent
therefore also needs the question's content words to be ones that the intent's own training
questions use ("package" never occurs in card_arrival's); otherwise the question is handed off
tagged with the intent, where a wrong guess costs a colleague a glance, not a customer a wrong
answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping

from infinstruct.core.text import is_chinese

#: Share of a question's content words that the intent's training questions must contain.
MIN_INTENT_COVERAGE = 0.75
#: The intent's nearest labelled question must also be this much closer than the nearest
#: trained reply question: a parcel question sits almost as close to twcs tweets about parcels
#: (0.57) as to "my card hasn't arrived" (0.64); a card question is far closer to its intent.
ANSWER_MARGIN = 0.1

_WORD = re.compile(r"[a-z][a-z']+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "our",
        "us",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "and",
        "or",
        "but",
        "not",
        "no",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "why",
        "how",
        "there",
        "here",
        "from",
        "by",
        "as",
        "about",
        "into",
        "onto",
        "than",
        "then",
        "so",
        "if",
        "just",
        "get",
        "got",
        "please",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "yet",
        "still",
        "any",
        "some",
        "all",
        "also",
        "very",
        "too",
        "much",
        "many",
        "more",
        "most",
        "only",
        "own",
        "same",
        "other",
        "such",
        "up",
        "out",
        "off",
        "over",
        "again",
        "once",
        "now",
        "need",
        "want",
        "like",
        "know",
        "tell",
        "ok",
        "okay",
        "hasn't",
        "haven't",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "can't",
        "cannot",
        "won't",
        "wouldn't",
        "shouldn't",
        "couldn't",
        "i'm",
        "i've",
        "i'd",
        "it's",
        "there's",
        "what's",
        "you're",
    ]
)
_SUFFIXES = ("ing", "ed", "es", "s", "e")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Stemmed words that carry meaning (characters for Chinese)."""
    if is_chinese(text):
        return set(_CJK.findall(text))
    words = (w.strip("'") for w in _WORD.findall(text.casefold()))
    return {_stem(w) for w in words if len(w) >= 3 and w not in _STOP}


def intent_vocabularies(payloads: Iterable[Mapping[str, object]]) -> dict[str, frozenset[str]]:
    """Intent label -> the content words of its training questions."""
    words: dict[str, set[str]] = defaultdict(set)
    for payload in payloads:
        words[str(payload.get("answer", ""))] |= content_words(str(payload.get("question", "")))
    return {label: frozenset(vocabulary) for label, vocabulary in words.items()}


def coverage(question: str, vocabulary: frozenset[str]) -> float:
    """Share of the question's content words the vocabulary holds (1.0 without any)."""
    words = content_words(question)
    return sum(1 for w in words if w in vocabulary) / len(words) if words else 1.0
