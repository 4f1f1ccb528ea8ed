"""Turning "ID_OR_EXACT_TITLE;..." into item indexes, with clear errors.

Titles may themselves contain ';' (MovieLens: "Steins;Gate the Movie: ... (2013)"), so the
list is not split blindly: from each position the longest run of ';'-separated pieces that
names an item wins. A piece matches, in order of preference, an item id, an exact title, a
title ignoring case, or a title without its "(year)". MovieLens has duplicate titles
("Emma (1996)" twice): a name that fits several items is an error listing them with their
ids, never a silent pick.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Sequence

from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.recommend.dataset import ItemData

_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")
_MAX_LISTED = 8


class TitleIndex:
    """Lookups from ids and titles to item indexes for one catalogue."""

    def __init__(self, data: ItemData) -> None:
        self.data = data
        self.exact: dict[str, list[int]] = defaultdict(list)
        self.folded: dict[str, list[int]] = defaultdict(list)
        self.base: dict[str, list[int]] = defaultdict(list)
        for i, item in enumerate(data.items):
            self.exact[item.title.strip()].append(i)
            self.folded[_fold(item.title)].append(i)
            self.base[_fold(_YEAR_SUFFIX.sub("", item.title))].append(i)

    def lookup(self, name: str) -> list[int]:
        """Every item ``name`` could mean under the first rule that matches anything."""
        name = name.strip()
        if not name:
            return []
        if name in self.data.item_index:
            return [self.data.item_index[name]]
        for table, key in ((self.exact, name), (self.folded, _fold(name)), (self.base, _fold(name))):
            found = table.get(key)
            if found:
                return list(found)
        return []

    def resolve(self, likes: str | Sequence[str]) -> list[int]:
        """Item indexes for a ';'-separated string, or for a list of names (taken whole)."""
        if isinstance(likes, str):
            names = self._split(likes)
        else:
            names = [(n, self.lookup(n)) for n in likes if n.strip()]
        out: list[int] = []
        for name, found in names:
            if not found:
                raise NotFoundError(self._unknown(name))
            if len(found) > 1:
                listed = ", ".join(
                    f"{self.data.items[i].title!r} [id {self.data.items[i].item_id}]"
                    for i in found[:_MAX_LISTED]
                )
                raise InputError(
                    f"{name.strip()!r} is ambiguous in corpus {self.data.corpus!r}: it matches "
                    f"{len(found)} items: {listed}; name one by its id instead"
                )
            if found[0] not in out:
                out.append(found[0])
        if not out:
            raise InputError("--likes named no item; give item ids or exact titles separated by ';'")
        return out

    def _split(self, text: str) -> list[tuple[str, list[int]]]:
        pieces = text.split(";")
        out: list[tuple[str, list[int]]] = []
        start = 0
        while start < len(pieces):
            if not pieces[start].strip():
                start += 1
                continue
            for end in range(len(pieces), start, -1):
                name = ";".join(pieces[start:end])
                found = self.lookup(name)
                if found:
                    out.append((name, found))
                    start = end
                    break
            else:
                out.append((pieces[start], []))
                start += 1
        return out

    def _unknown(self, name: str) -> str:
        titles = [item.title for item in self.data.items]
        close = difflib.get_close_matches(name.strip(), titles, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"no item {name.strip()!r} in corpus {self.data.corpus!r} (give an item id or the exact "
            f"title, several separated by ';'){hint}"
        )


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())
