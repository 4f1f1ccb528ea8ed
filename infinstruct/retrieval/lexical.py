"""BM25 over chunk texts (bm25s), English and Chinese in one vocabulary.

English is lower-cased word tokens without stop words; Chinese runs are segmented with
jieba's search mode (which also emits the sub-words of long words, so a query for 退货
matches a text that jieba segmented as 退货单). Ids are the chunk ids, kept beside the index.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.text import CJK, CJK_CHARS

log = logging.getLogger(__name__)

_TOKEN = re.compile(rf"[{CJK_CHARS}]+|[^\W_]+", re.UNICODE)
# A short list on purpose: BM25's idf already discounts common words; these only add noise.
_EN_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
        "i",
        "me",
        "my",
        "you",
        "your",
        "we",
        "our",
        "he",
        "she",
        "him",
        "her",
        "them",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "am",
        "been",
        "being",
    ]
)
_ZH_STOP = frozenset(
    [
        "的",
        "了",
        "呢",
        "吗",
        "吧",
        "啊",
        "哦",
        "嗯",
        "亲",
        "是",
        "在",
        "和",
        "也",
        "就",
        "都",
        "要",
        "有",
        "我",
        "你",
        "您",
        "他",
        "她",
        "它",
    ]
)


@functools.cache
def _jieba() -> Any:
    # Once per process: ``setLogLevel`` clears the logging cache, which cost half of a
    # 10k-chunk BM25 build when it ran for every Chinese piece.
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def tokenize(text: str) -> list[str]:
    """BM25 tokens of one text: English words and jieba-segmented Chinese words."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        piece = match.group(0)
        if CJK.match(piece):
            for word in _jieba().lcut_for_search(piece):
                if word not in _ZH_STOP:
                    tokens.append(word)
        elif piece not in _EN_STOP:
            tokens.append(piece)
    return tokens


class LexicalIndex:
    """A BM25 index whose rows carry external integer ids."""

    def __init__(self, bm25: Any, ids: np.ndarray) -> None:
        self._bm25 = bm25
        self.ids = ids.astype(np.int64)
        self._row_of = {int(i): r for r, i in enumerate(self.ids)}

    @classmethod
    def build(cls, ids: Sequence[int], texts: Iterable[str]) -> LexicalIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # per-build chatter
        corpus = [tokenize(t) or ["<empty>"] for t in texts]
        bm25 = bm25s.BM25()
        if corpus:
            bm25.index(corpus, show_progress=False)
        return cls(bm25, np.asarray(list(ids), dtype=np.int64))

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self, queries: Sequence[str], k: int, *, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Per query, up to ``k`` ``(id, score)`` pairs with a positive BM25 score."""
        n = len(self.ids)
        if n == 0 or k <= 0:
            return [[] for _ in queries]
        mask = None
        if allowed is not None:
            mask = np.zeros(n, dtype=np.float32)
            rows = [self._row_of[int(i)] for i in allowed if int(i) in self._row_of]
            if not rows:
                return [[] for _ in queries]
            mask[rows] = 1.0
        tokens = [tokenize(q) or ["<empty>"] for q in queries]
        docs, scores = self._bm25.retrieve(
            tokens, k=min(k, n), show_progress=False, weight_mask=mask, n_threads=1
        )
        out: list[list[tuple[int, float]]] = []
        for row_docs, row_scores in zip(docs, scores, strict=True):
            out.append(
                [(int(self.ids[d]), float(s)) for d, s in zip(row_docs, row_scores, strict=True) if s > 0]
            )
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "ids.npy", self.ids)
        if len(self.ids):
            self._bm25.save(str(folder), show_progress=False)
        (folder / "lexical.json").write_text(json.dumps({"count": len(self.ids)}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        ids = np.load(folder / "ids.npy")
        if len(ids) == 0:
            return cls(bm25s.BM25(), ids)
        bm25 = bm25s.BM25.load(str(folder), show_progress=False, mmap=False)
        return cls(bm25, ids)
