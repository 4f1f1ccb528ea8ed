"""The shared text rules, and that every caller reaches the same answer through them."""

from __future__ import annotations

from infinstruct.chat import prompts, reply_check
from infinstruct.connectors.records import DocumentRecord
from infinstruct.connectors.store import document_row
from infinstruct.core import text
from infinstruct.core.settings import InstructionSettings
from infinstruct.core.text import detect_lang, find_pii, is_chinese, scrub_pii, split_sentences
from infinstruct.finetune.instructions.quality import _check_one
from infinstruct.finetune.instructions.tasks.base import Candidate
from infinstruct.retrieval import search

MIXED = "AAPL 跌"


def _builder_verdict(content_lang: str) -> str | None:
    cand = Candidate(
        task="sentiment_classification",
        domain="finance",
        lang="zh",
        content_lang=content_lang,
        system="s",
        messages=[{"role": "user", "content": MIXED}],
        group_key="g",
        corpus="c",
        content=MIXED,
        answer="negative",
        options=("negative", "positive"),
    )
    return _check_one(cand, InstructionSettings())


def test_mixed_ticker_text_is_chinese_on_every_path() -> None:
    """The connector, the builder, chat and retrieval once disagreed on exactly this text."""
    assert detect_lang(MIXED) == "zh" and is_chinese(MIXED)
    row = document_row(
        DocumentRecord(kind="news", text=MIXED), corpus_name="c", scrub=True, keep_originals=False
    )
    assert row["lang"] == "zh"  # the connectors' store
    assert _builder_verdict("zh") is None and _builder_verdict("en") == "language_mismatch"  # the builder
    assert prompts.lang_of(MIXED) == "zh" and prompts.system_prompt(MIXED) == prompts.SYSTEM_PROMPT_ZH  # chat
    # the retrieval query language and chat's reply check call the one rule itself
    assert search.is_chinese is text.is_chinese and reply_check.is_chinese is text.is_chinese


def test_language_rule() -> None:
    assert detect_lang("Shares of 阿里巴巴 rose after the earnings call on Tuesday") == "en"
    assert detect_lang("紫金矿业 NVIDIA 今天涨停") == "zh"
    assert detect_lang("$AAPL up 3%") == "en"
    assert detect_lang("12345 !!!") is None and not is_chinese("12345 !!!")


def test_scrub_removes_what_find_reports() -> None:
    for sample in ("write to jane.doe@example.com", "我的手机是13812345678", "card 4111 1111 1111 1111 ok"):
        assert find_pii(sample) is not None
        assert find_pii(scrub_pii(sample)) is None


def test_a_resident_id_is_scrubbed_but_an_order_number_is_kept() -> None:
    # 11010519491231002X is the standard's own example (valid date, valid check character).
    assert scrub_pii("身份证 11010519491231002X 已验证") == "身份证 <ID> 已验证"
    assert find_pii("身份证 11010519491231002X") == "national_id"
    for order in ("订单号 202312181234567890", "订单号 110105194912310021"):  # bad date / check char
        assert scrub_pii(order) == order and find_pii(order) is None


def test_split_sentences_keeps_terminators() -> None:
    assert split_sentences("利润下降；股价上涨。Why? Yes") == ["利润下降；", "股价上涨。", "Why?", "Yes"]
