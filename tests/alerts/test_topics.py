from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infinstruct.alerts.topics import TopicMatcher, extract_tickers, item_tickers, normalise_topic
from infinstruct.core.errors import InputError


def test_cashtags_and_exchange_notes_are_extracted() -> None:
    text = "Apple (NASDAQ: AAPL) and $msft rose; Berkshire (NYSE:BRK.B) flat, IT sector (not a ticker)"
    assert extract_tickers(text) == {"AAPL", "MSFT", "BRK.B"}
    assert extract_tickers("price $100 and US$5") == set()


def test_item_tickers_merge_the_sources_list() -> None:
    assert item_tickers("no tags here", ["gva", "$LW"]) == {"GVA", "LW"}


def test_ticker_topic_matches_cashtag_bare_symbol_and_aliases() -> None:
    matcher = TopicMatcher("AAPL", "ticker", ["Apple", "苹果"])
    assert matcher.matches("$AAPL slides after guidance cut")
    assert matcher.matches("AAPL shares fell 3%")
    assert matcher.matches("Shares of apple fell")  # a company alias is case-insensitive
    assert matcher.matches("苹果公司股价下跌")  # Chinese aliases match inside running text
    assert not matcher.matches("Pineapple prices rise")  # whole words only
    assert not matcher.matches("aapl lower-case is not the ticker")


def test_short_tickers_need_an_explicit_mark() -> None:
    matcher = TopicMatcher("GE", "ticker")
    assert matcher.matches("$GE cut at Barclays")
    assert not matcher.matches("GE is mentioned bare")  # two letters: too ambiguous bare


def test_keyword_topics_and_validation() -> None:
    assert TopicMatcher("recession", "keyword").matches("Fears of a Recession grow")
    assert normalise_topic("$tsla", "ticker") == "TSLA"
    with pytest.raises(InputError, match="kind must be one of"):
        normalise_topic("x", "sector")


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=5), st.text(max_size=40))
def test_any_cashtag_is_found(symbol: str, noise: str) -> None:
    assert symbol in extract_tickers(f"{noise} ${symbol} {noise}")
