"""BM25 with English words and jieba-segmented Chinese, keyed by external ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infinstruct.core.text import is_chinese
from infinstruct.retrieval.lexical import LexicalIndex, tokenize


def test_tokenize_mixes_english_and_chinese() -> None:
    tokens = tokenize("I want to RETURN my card. 我想退货，快递发哪家？")
    assert {"want", "return", "card", "退货", "快递"} <= set(tokens)
    assert "the" not in tokenize("the card")


def test_is_chinese() -> None:
    assert is_chinese("快递什么时候到")
    assert not is_chinese("when will my parcel arrive")


def test_search_ids_mask_and_round_trip(tmp_path: Path) -> None:
    index = LexicalIndex.build([10, 20, 30], ["my card is lost", "return the parcel please", "我想退货 快递"])
    assert index.search(["lost card"], 2)[0][0][0] == 10
    assert index.search(["退货"], 2)[0][0][0] == 30
    assert index.search(["nothing in common"], 2) == [[]]
    assert index.search(["lost card"], 2, allowed=np.array([20, 30])) == [[]]
    index.save(tmp_path / "bm25")
    again = LexicalIndex.load(tmp_path / "bm25")
    assert again.search(["parcel"], 1)[0][0][0] == 20


def test_empty_index(tmp_path: Path) -> None:
    index = LexicalIndex.build([], [])
    assert index.search(["x"], 3) == [[]]
    index.save(tmp_path / "e")
    assert len(LexicalIndex.load(tmp_path / "e")) == 0
