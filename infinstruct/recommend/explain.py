"""Why an item was recommended, in one short line.

"similar to X, Y" names the history items that pull hardest towards it (their recency
and rating weight times the mix of text similarity and co-occurrence); "matches 'sci-fi'"
names the item's genres/tags that the free-text request mentions or that dominate the
user's history; a popular item with no other reason says how many people chose it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from infinstruct.recommend.dataset import ItemData
from infinstruct.recommend.signals import CoOccurrence, History

_WORD = re.compile(r"[0-9a-z\u4e00-\u9fff]+")
_MAX_TAGS = 12


def normalise(term: str) -> str:
    """'Sci-Fi' -> 'scifi', 'comedies' -> 'comedy': the form query words and keywords meet in."""
    word = "".join(_WORD.findall(term.casefold()))
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def query_terms(text: str) -> set[str]:
    """Words of a request, and adjacent pairs/triples glued ('sci fi' -> 'scifi')."""
    words = _WORD.findall(text.casefold())
    grams = {"".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
    return {normalise(g) for g in grams} - {""}


def item_keywords(data: ItemData) -> list[list[str]]:
    """Each item's genres, then its most applied short tags."""
    tags: list[Counter[str]] = [Counter() for _ in data.items]
    for _user, index, text in data.notes:
        if len(text) <= 40:
            tags[index][text.casefold()] += 1
    out = []
    for i, item in enumerate(data.items):
        words = list(dict.fromkeys(k.casefold() for k in item.keywords))
        words += [t for t, _ in tags[i].most_common(_MAX_TAGS) if t not in words]
        out.append(words)
    return out


class Explainer:
    """Builds the ``why`` line of each recommendation."""

    def __init__(
        self, data: ItemData, vectors: np.ndarray, cooc: CoOccurrence, keywords: list[list[str]]
    ) -> None:
        self.data, self.vectors, self.cooc, self.keywords = data, vectors, cooc, keywords

    def taste(self, history: History, top: int = 3) -> set[str]:
        """The user's most weighted genres (normalised)."""
        weight: dict[str, float] = {}
        for item, w in zip(history.items, history.weights, strict=True):
            for genre in self.data.items[int(item)].keywords:
                key = normalise(genre)
                weight[key] = weight.get(key, 0.0) + float(w)
        return set(sorted(weight, key=lambda g: -weight[g])[:top])

    def why(
        self,
        item: int,
        *,
        history: History | None,
        mix: dict[str, float],
        terms: set[str],
        taste: set[str],
        popularity_rank: int,
    ) -> str:
        reasons = []
        if history is not None and history.items.size:
            similar = self._similar(item, history, mix)
            if similar:
                reasons.append("similar to " + ", ".join(similar))
        wanted = terms or taste
        matched = [k for k in self.keywords[item] if normalise(k) in wanted]
        if matched:
            reasons.append("matches " + ", ".join(f"'{k}'" for k in matched[:3]))
        if not reasons or popularity_rank < 100:
            count = int(self.cooc.counts[item])
            if count:
                reasons.append(f"popular: chosen by {count} user{'s' if count != 1 else ''}")
        return "; ".join(reasons) or "close to the request overall"

    def _similar(self, item: int, history: History, mix: dict[str, float], limit: int = 2) -> Sequence[str]:
        # Only the heaviest history items can matter; bounding them keeps this O(1) per item.
        keep = np.argsort(-history.weights, kind="stable")[:50]
        items, weights = history.items[keep], history.weights[keep]
        text_sim = self.vectors[items] @ self.vectors[item]
        co_sim = self.cooc.similarity(items, item)
        pull = weights * (
            mix.get("text", 0.0) * np.maximum(text_sim, 0) + mix.get("collaborative", 0.0) * co_sim
        )
        order = [int(i) for i in np.argsort(-pull, kind="stable")[:limit] if pull[i] > 0]
        return [self.data.items[int(items[i])].title for i in order]
