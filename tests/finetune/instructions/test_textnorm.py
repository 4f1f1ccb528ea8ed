from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from infinstruct.core.text import detect_lang, find_pii, normalise_sentence, sentence_key, tidy
from infinstruct.finetune.instructions.textnorm import cashtags


def test_sentence_key_ignores_case_width_punctuation_and_links() -> None:
    a = "Operating profit rose to EUR 13.1 mn!"
    assert sentence_key(a) == sentence_key("  OPERATING profit rose to EUR 13.1 mn ")
    assert sentence_key("$BYND down https://t.co/abc") == sentence_key("$BYND down https://t.co/xyz")
    assert sentence_key("好吃，量大") == sentence_key("好吃, 量大")  # full-width comma
    assert sentence_key(a) != sentence_key("Operating profit fell to EUR 13.1 mn")


@given(st.text(max_size=80))
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise_sentence(text)
    assert normalise_sentence(once) == once


def test_detect_lang() -> None:
    assert detect_lang("The company reported a loss.") == "en"
    assert detect_lang("补仓补的心力憔悴") == "zh"
    assert detect_lang("紫金矿业 NVIDIA 今天涨停") == "zh"
    assert detect_lang("Shares of 阿里巴巴 rose after the earnings call on Tuesday") == "en"
    assert detect_lang("12345 !!!") is None


def test_tidy_undoes_chinese_word_segmentation_only() -> None:
    assert tidy("你好 ， 请问 这个 什么 时候 发货 ？", "zh") == "你好，请问这个什么时候发货？"
    assert tidy("iPhone 12 很 好", "zh") == "iPhone 12 很好"
    assert tidy("keep  the   spaces", "en") == "keep the spaces"


def test_find_pii() -> None:
    assert find_pii("write to jane.doe@example.com") == "email"
    assert find_pii("call +1 415-555-0132 now") == "phone"
    assert find_pii("我的手机是13812345678") == "phone"
    assert find_pii("card 4111 1111 1111 1111 please") == "card_number"
    assert find_pii("Revenue was EUR 1,234,567 and 2019 was good; order 1234567890123") is None
    assert find_pii("see @sprintcare for help") is None


def test_cashtags() -> None:
    assert cashtags("$AAPL $MSFT rally; $AAPL again and $BRK.B") == ["AAPL", "MSFT", "BRK.B"]
    assert cashtags("costs $5 only") == []
