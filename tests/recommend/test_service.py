"""The Recommender on the tiny catalogue with the bag-of-words embedder (fast)."""

from __future__ import annotations

import pytest

from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.recommend.dataset import ItemData
from infinstruct.recommend.explain import normalise, query_terms
from infinstruct.recommend.profiles import profile_texts
from infinstruct.recommend.ranking import Weights
from infinstruct.recommend.service import Recommender
from tests.recommend.conftest import HashEmbedder

SPACE = {"1", "2", "3", "7"}


@pytest.fixture
def recommender(tiny: ItemData) -> Recommender:
    emb = HashEmbedder()
    return Recommender(
        tiny, emb.embed(profile_texts(tiny)), Weights(), embed_query=lambda text: emb.embed([text])[0]
    )


def test_a_user_gets_unseen_items_of_their_taste_with_reasons(recommender: Recommender) -> None:
    seen = {"1", "2", "3"}  # u0 rated the first three space films
    recs = recommender.recommend(user="u0", k=3)
    assert len(recs) == 3
    assert not seen & {r.item_id for r in recs}
    assert recs[0].item_id == "7"
    assert recs[0].why.startswith("similar to ")
    assert "'sci-fi'" in recs[0].why
    assert recs[0].score >= recs[1].score >= recs[2].score


def test_liked_items_cold_start_and_title_errors(recommender: Recommender) -> None:
    recs = recommender.recommend(likes="Star Voyage (1990);Moon Base (1992)", k=2)
    assert {r.item_id for r in recs} <= SPACE - {"1", "2"}
    assert "similar to" in recs[0].why
    with pytest.raises(InputError, match=r"ambiguous.*\[id 5\].*\[id 6\]"):
        recommender.recommend(likes="Emma (1996)")


def test_free_text_cold_start_matches_genres(recommender: Recommender) -> None:
    recs = recommender.recommend(text="a light sci-fi comedy", k=2)
    assert {r.item_id for r in recs} == {"2", "3"}
    assert "matches 'sci-fi', 'comedy'" in recs[0].why


def test_text_and_history_combine(recommender: Recommender) -> None:
    recs = recommender.recommend(user="u1", text="sci-fi comedy", k=8)
    assert recs[0].item_id in {"2", "3"}


def test_requests_must_say_something_and_users_must_exist(recommender: Recommender) -> None:
    with pytest.raises(InputError, match="a user id, liked items, or a text"):
        recommender.recommend(text="  ")
    with pytest.raises(NotFoundError, match=r"user 'nobody' has no interactions in corpus 'tiny'.*--text"):
        recommender.recommend(user="nobody")


def test_query_terms_meet_keywords_in_one_form() -> None:
    assert normalise("Sci-Fi") == "scifi" and normalise("comedies") == "comedy"
    assert {"scifi", "comedy", "light"} <= query_terms("A light sci fi comedies")
