from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.recommend.dataset import Item, build_item_data
from infinstruct.recommend.resolve import TitleIndex
from tests.recommend.conftest import tiny_catalogue


@pytest.fixture
def index() -> TitleIndex:
    return TitleIndex(tiny_catalogue())


def test_ids_and_exact_titles_resolve_in_order(index: TitleIndex) -> None:
    assert index.resolve("4;Star Voyage (1990)") == [3, 0]


def test_a_title_containing_a_semicolon_is_not_split(index: TitleIndex) -> None:
    assert index.resolve("Steins;Gate (2013);1") == [6, 0]
    assert index.resolve("1; Steins;Gate (2013)") == [0, 6]


def test_case_and_missing_year_are_forgiven_when_unique(index: TitleIndex) -> None:
    assert index.resolve("moon base (1992);galaxy jokes") == [1, 2]


def test_duplicate_titles_are_an_error_listing_every_candidate(index: TitleIndex) -> None:
    with pytest.raises(InputError) as info:
        index.resolve("1;Emma (1996)")
    message = str(info.value)
    assert "'Emma (1996)' is ambiguous" in message
    assert "[id 5]" in message and "[id 6]" in message
    assert "by its id" in message
    assert index.resolve("1;6") == [0, 5]


def test_unknown_items_name_the_value_and_suggest(index: TitleIndex) -> None:
    with pytest.raises(
        NotFoundError, match=r"no item 'Moon Bass \(1992\)'.*did you mean 'Moon Base \(1992\)'"
    ):
        index.resolve("Moon Bass (1992)")


def test_a_list_takes_each_name_whole(index: TitleIndex) -> None:
    assert index.resolve(["Steins;Gate (2013)", "2"]) == [6, 1]


def test_nothing_named_is_an_input_error(index: TitleIndex) -> None:
    with pytest.raises(InputError, match="named no item"):
        index.resolve(" ; ;")


@given(
    st.lists(st.text(st.sampled_from("ab; ()"), min_size=1, max_size=8), min_size=1, max_size=6, unique=True)
)
def test_every_unique_title_resolves_to_itself(titles: list[str]) -> None:
    usable = [t for t in titles if t.strip().strip(";").strip()]
    items = [Item(f"x{i}", t) for i, t in enumerate(usable)]
    index = TitleIndex(build_item_data("prop", items, []))
    for i, title in enumerate(usable):
        found = index.lookup(title)
        assert i in found or any(items[j].title.strip() == title.strip() for j in found)
