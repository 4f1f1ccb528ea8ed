"""Properties of the normalisation that ids, dedup and PII scrubbing rest on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from infinstruct.connectors import sentiment
from infinstruct.connectors.textnorm import document_id, fingerprint
from infinstruct.core.text import detect_lang, join_cjk, normalise, scrub_pii

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_normalise_is_idempotent_and_ids_ignore_whitespace(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)
    assert document_id("c", "labelled", text) == document_id("c", "labelled", f"  {text}\n")
    assert len(document_id("c", "labelled", text)) == 32


@settings(max_examples=200, deadline=None)
@given(texts)
def test_scrubbing_is_stable(text: str) -> None:
    once = scrub_pii(text)
    assert scrub_pii(once) == once


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["买二送", "一是", "坚果", "类产品", "呢"]), min_size=1, max_size=8))
def test_join_cjk_removes_segmentation_spaces(words: list[str]) -> None:
    assert join_cjk(" ".join(words)) == "".join(words)


def test_join_cjk_keeps_spaces_around_latin() -> None:
    assert join_cjk("韵达 邮政 EMS 仓库") == "韵达邮政 EMS 仓库"


def test_pii_kinds() -> None:
    text = "mail a.b@x.com, call (415) 555-0134, card 4111 1111 1111 1111, @jane, https://x.io/r?token=abc"
    assert scrub_pii(text) == "mail <EMAIL>, call <PHONE>, card <CARD>, @user, <URL>"
    assert scrub_pii("EUR 205.5 mn, up 34.9 % to 2,150.000") == "EUR 205.5 mn, up 34.9 % to 2,150.000"


def test_language_and_fingerprints() -> None:
    assert detect_lang("补仓补的心力憔悴") == "zh" and detect_lang("$AAPL up 3%") == "en"
    assert fingerprint("Acme jumps 8% https://a.example/1") == fingerprint(
        "ACME jumps 9%! https://b.example/2"
    )
    assert fingerprint("ok") == ""


def test_label_tables_follow_the_one_scheme() -> None:
    assert sentiment.map_label("0", sentiment.TWITTER_NEWS) == "negative"
    assert sentiment.map_label("2", sentiment.TWITTER_NEWS) == "neutral"
    assert sentiment.map_label(2, sentiment.FINFE) == "positive"
    assert sentiment.map_label("1.0", sentiment.BINARY) == "positive"
    fiqa = [sentiment.score_label(s, sentiment.FIQA_THRESHOLDS) for s in (-0.5, 0.05, 0.459)]
    assert fiqa == ["negative", "neutral", "positive"]
    # The same rule with the generic default (±0.05): 0.05 itself is still neutral.
    assert [sentiment.score_label(s) for s in (-0.06, 0.05, 0.051)] == ["negative", "neutral", "positive"]
