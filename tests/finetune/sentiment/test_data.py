"""The grouped split never leaks a sentence; nested PhraseBank files become one example each."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from infinstruct.core.settings import Settings
from infinstruct.finetune.sentiment.config import DataSection
from infinstruct.finetune.sentiment.data import (
    LabelledExample,
    dedupe,
    load_examples,
    load_splits,
    normalise,
    sentence_hash,
    split_examples,
)
from infinstruct.finetune.sentiment.loop import plan_batches

sentences = st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=60)


def _examples(texts: list[str]) -> list[LabelledExample]:
    return [LabelledExample(text=t, label=i % 3, group=sentence_hash(t)) for i, t in enumerate(texts)]


@given(texts=sentences, test=st.floats(0.05, 0.5), val=st.floats(0.0, 0.3))
@hsettings(max_examples=60, deadline=None)
def test_split_is_grouped_and_complete(texts: list[str], test: float, val: float) -> None:
    examples = _examples(texts)
    splits = split_examples(examples, test_fraction=test, val_fraction=val)
    sides = [{e.group for e in part} for part in (splits.train, splits.validation, splits.test)]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert sorted(map(id, splits.train + splits.validation + splits.test)) == sorted(map(id, examples))
    again = split_examples(list(reversed(examples)), test_fraction=test, val_fraction=val)
    assert [e.text for e in again.test] == [e.text for e in splits.test]  # order-independent


@given(words=st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1), min_size=1))
def test_case_and_spacing_do_not_change_the_group(words: list[str]) -> None:
    assert sentence_hash(" ".join(words)) == sentence_hash("  " + "\t ".join(w.upper() for w in words) + "\n")


def test_dedupe_keeps_the_highest_agreement() -> None:
    low = LabelledExample("Sales rose .", 2, "g", agreement=50)
    high = LabelledExample("sales  rose .", 2, "g", agreement=100)
    assert dedupe([low, high]) == [high]
    assert dedupe([high, low]) == [high]


def test_replay_keeps_the_batch_size_and_ratio() -> None:
    new = _examples([f"new {i}" for i in range(10)])
    old = _examples([f"old {i}" for i in range(7)])
    batches = plan_batches(new, batch_size=10, steps=5, seed=1, replay=old, replay_ratio=0.3)
    assert all(len(b) == 10 and sum(e.text.startswith("old") for e in b) == 3 for b in batches)
    assert plan_batches(new, batch_size=10, steps=5, seed=1) == plan_batches(
        new, batch_size=10, steps=5, seed=1
    )


def test_store_examples_are_nested_once_with_agreement(sentiment_store: Settings) -> None:
    examples = load_examples(sentiment_store, DataSection(corpora=["financial_phrasebank"]))
    assert len({normalise(e.text) for e in examples}) == len(examples)
    levels = {e.agreement for e in examples}
    assert 100 in levels and 50 in levels
    splits = load_splits(
        sentiment_store, DataSection(corpora=["financial_phrasebank"], test_fraction=0.2), seed=1
    )
    train = {normalise(e.text) for e in splits.train}
    assert not train & {normalise(e.text) for e in splits.test}
    zh = load_examples(sentiment_store, DataSection(corpora=["fincuge_finfe"], langs=["zh"]))
    assert zh and {e.lang for e in zh} == {"zh"} and {e.label for e in zh} == {0, 1, 2}
