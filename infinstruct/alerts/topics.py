"""Topics: which news items a watchlist entry is about.

A watchlist entry is a ticker, a company (name + aliases, English and Chinese) or a
keyword. Tickers are extracted from cashtags (``$AAPL``), exchange notes
(``(NASDAQ: AAPL)``) and the connectors' ``meta.tickers``; names and aliases match as
whole words (case-insensitive) in English and as substrings in Chinese, where words are
not separated by spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from infinstruct.core.errors import InputError
from infinstruct.core.text import CJK

KINDS = ("ticker", "company", "keyword")

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,5}(?:\.[A-Za-z]{1,2})?)\b")
_EXCHANGE = re.compile(
    r"\(\s*(?:NASDAQ|NYSE(?:\s*(?:American|Arca|MKT))?|AMEX|OTC(?:QX|QB)?|TSXV?|LSE|HKEX|SSE|SZSE|ASX)"
    r"\s*[:：]\s*([A-Za-z0-9]{1,6}(?:\.[A-Za-z]{1,2})?)\s*\)",
    re.IGNORECASE,
)
#: Bare upper-case words shorter than this are too ambiguous ("IT", "A") to count as tickers.
MIN_BARE_TICKER = 3


def extract_tickers(text: str) -> set[str]:
    """Tickers named explicitly: ``$AAPL``, ``(NASDAQ: AAPL)``; upper-cased."""
    found = {m.group(1).upper() for m in _CASHTAG.finditer(text)}
    found.update(m.group(1).upper() for m in _EXCHANGE.finditer(text))
    return found


def item_tickers(text: str, listed: Iterable[str] = ()) -> set[str]:
    """An item's tickers: those its source listed (``meta.tickers``) and those in its text."""
    return extract_tickers(text) | {str(t).strip().lstrip("$").upper() for t in listed if str(t).strip()}


def normalise_topic(topic: str, kind: str) -> str:
    if kind not in KINDS:
        raise InputError(f"watchlist kind must be one of {', '.join(KINDS)} (got {kind!r})")
    topic = topic.strip()
    if not topic:
        raise InputError("a watchlist topic must not be empty; give a ticker, company or keyword")
    return topic.lstrip("$").upper() if kind == "ticker" else topic


@dataclass
class TopicMatcher:
    """Matches items against one watchlist entry."""

    topic: str
    kind: str
    aliases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        terms = [self.topic, *self.aliases] if self.kind != "ticker" else list(self.aliases)
        latin = [t.strip() for t in terms if t.strip() and not CJK.search(t)]
        self._cjk = [t.strip() for t in terms if t.strip() and CJK.search(t)]
        self._words = _word_pattern(latin, ignore_case=True)
        self._ticker = self.topic.upper() if self.kind == "ticker" else ""
        bare = [self._ticker] if len(self._ticker) >= MIN_BARE_TICKER else []
        # An upper-case ticker written bare in running text ("AAPL shares fell") counts,
        # case-sensitively so that "Meta" (the word) is not "META" (the ticker).
        self._bare = _word_pattern(bare, ignore_case=False)

    def matches(self, text: str, tickers: set[str] | None = None) -> bool:
        """Whether ``text`` is about this topic; ``tickers`` = :func:`item_tickers` when known."""
        if self._ticker and self._ticker in (item_tickers(text) if tickers is None else tickers):
            return True
        if self._bare is not None and self._bare.search(text):
            return True
        if self._words is not None and self._words.search(text):
            return True
        return any(term in text for term in self._cjk)


def _word_pattern(terms: list[str], *, ignore_case: bool) -> re.Pattern[str] | None:
    if not terms:
        return None
    # Longest first so "Apple Inc" wins over "Apple" inside one alternation.
    body = "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))
    return re.compile(rf"(?<![\w$])(?:{body})(?!\w)", re.IGNORECASE if ignore_case else 0)
