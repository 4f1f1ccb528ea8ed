"""Sentence-aware chunking: English and Chinese boundaries, sizes, overlap (property-based)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from infinstruct.core.text import split_sentences
from infinstruct.retrieval.chunking import chunk_text


def test_split_sentences_english_and_chinese() -> None:
    assert split_sentences("Hi there. Is it 3.5 or not? Yes!\nagent: ok") == [
        "Hi there.",
        "Is it 3.5 or not?",
        "Yes!",
        "agent: ok",
    ]
    assert split_sentences("你好。我想退货！可以吗？好的") == ["你好。", "我想退货！", "可以吗？", "好的"]


def test_short_text_is_one_chunk() -> None:
    assert chunk_text("  One short sentence.  ", chunk_chars=100, overlap=10) == ["One short sentence."]
    assert chunk_text("   ", chunk_chars=100, overlap=10) == []


def test_chinese_chunks_end_at_sentence_marks_and_overlap() -> None:
    text = "".join(f"这是第{i}句话。" for i in range(40))
    chunks = chunk_text(text, chunk_chars=60, overlap=15)
    assert len(chunks) > 3
    assert all(c.endswith("。") and len(c) <= 60 for c in chunks)
    # The last sentence(s) of a chunk open the next one (the overlap).
    for left, right in zip(chunks, chunks[1:], strict=False):
        assert split_sentences(left)[-1] in split_sentences(right)[:2]


sentence = st.text(alphabet="abcdefgh ", min_size=1, max_size=40).map(lambda s: s.strip() or "x")


@settings(max_examples=60, deadline=None)
@given(st.lists(sentence, min_size=1, max_size=40), st.integers(60, 200), st.integers(0, 50))
def test_every_sentence_lands_in_a_chunk_within_size(sentences: list[str], size: int, overlap: int) -> None:
    text = " ".join(s + "." for s in sentences)
    chunks = chunk_text(text, chunk_chars=size, overlap=overlap)
    assert all(len(c) <= size for c in chunks)
    joined = " ".join(chunks)
    for s in split_sentences(text):
        assert s in joined
