"""The in-memory view recommendation works on: one catalogue, its users and their events.

Built from the store by ``infinstruct.recommend.store`` (or directly by tests and
benchmarks). Everything downstream is numpy over integer item/user indexes, so the ranking
code never touches SQL.

An *event* is one (user, item) preference signal: a rating, a review or a click. Several
rows for the same pair (Amazon lists one review per product style) collapse into one event
that keeps the latest timestamp and value. Tags and review texts are *notes*: words about an
item, used in its text profile; a note remembers its user so that evaluation can leave out
the notes of held-out pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: Interaction kinds that say "this user chose this item" (tags are text, not choices).
EVENT_KINDS = frozenset({"rating", "review", "click", "purchase", "view"})


@dataclass(frozen=True)
class Item:
    """What the catalogue knows about one item (a ``Document(kind='item')``)."""

    item_id: str
    title: str
    text: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class RawEvent:
    """One interaction row before indexing (``value`` None for implicit feedback)."""

    user_id: str
    item_id: str
    kind: str
    value: float | None = None
    ts: float = 0.0
    text: str = ""


@dataclass
class ItemData:
    """A catalogue with indexed events (one per user-item pair) and notes."""

    corpus: str
    items: list[Item]
    users: list[str]
    ev_user: np.ndarray  # int32, index into users
    ev_item: np.ndarray  # int32, index into items
    ev_value: np.ndarray  # float32, NaN for implicit feedback
    ev_ts: np.ndarray  # float64 unix seconds (0 when unknown)
    notes: list[tuple[int, int, str]] = field(default_factory=list)  # (user, item, text)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_events(self) -> int:
        return int(self.ev_user.shape[0])

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {item.item_id: i for i, item in enumerate(self.items)}

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {user: i for i, user in enumerate(self.users)}

    @cached_property
    def user_events(self) -> list[np.ndarray]:
        """Each user's event indexes, oldest first (ties keep load order: deterministic)."""
        order = np.lexsort((np.arange(self.n_events), self.ev_ts, self.ev_user))
        bounds = np.searchsorted(self.ev_user[order], np.arange(len(self.users) + 1))
        return [order[bounds[u] : bounds[u + 1]] for u in range(len(self.users))]


def build_item_data(corpus: str, items: Sequence[Item], interactions: Iterable[RawEvent]) -> ItemData:
    """Index ``interactions`` against ``items``; events on unknown items are dropped."""
    index = {item.item_id: i for i, item in enumerate(items)}
    users: dict[str, int] = {}
    pairs: dict[tuple[int, int], tuple[float, float]] = {}
    notes: list[tuple[int, int, str]] = []
    for row in interactions:
        item = index.get(row.item_id)
        if item is None:
            continue
        user = users.setdefault(row.user_id, len(users))
        if row.text.strip():
            notes.append((user, item, row.text.strip()))
        if row.kind not in EVENT_KINDS:
            continue
        value = float("nan") if row.value is None else float(row.value)
        seen = pairs.get((user, item))
        if seen is None or row.ts >= seen[1]:
            pairs[(user, item)] = (value, row.ts)
    keys = list(pairs)
    ev_user = np.fromiter((k[0] for k in keys), dtype=np.int32, count=len(keys))
    ev_item = np.fromiter((k[1] for k in keys), dtype=np.int32, count=len(keys))
    ev_value = np.fromiter((pairs[k][0] for k in keys), dtype=np.float32, count=len(keys))
    ev_ts = np.fromiter((pairs[k][1] for k in keys), dtype=np.float64, count=len(keys))
    return ItemData(
        corpus=corpus,
        items=list(items),
        users=list(users),
        ev_user=ev_user,
        ev_item=ev_item,
        ev_value=ev_value,
        ev_ts=ev_ts,
        notes=notes,
    )
