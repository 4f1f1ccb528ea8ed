from __future__ import annotations

import hashlib

import numpy as np

from infinstruct.core.settings import Settings
from infinstruct.recommend.dataset import ItemData
from infinstruct.recommend.profiles import cache_path, embed_profiles, profile_texts
from tests.recommend.conftest import HashEmbedder


def test_profiles_hold_title_genres_and_tags_by_frequency(tiny: ItemData) -> None:
    texts = profile_texts(tiny)
    assert texts[1] == "Moon Base (1992). Genres: Sci-Fi, Comedy. Tags: funny"
    assert texts[2].endswith("Tags: space opera")


def test_held_out_pairs_leave_no_text_in_profiles(tiny: ItemData) -> None:
    u4 = tiny.user_index["u4"]
    assert "space opera" not in profile_texts(tiny, exclude={(u4, 2)})[2]
    assert "funny" in profile_texts(tiny, exclude={(u4, 1)})[1]


def test_embeddings_are_cached_on_disk_by_content(settings: Settings, embedder: HashEmbedder) -> None:
    first = embed_profiles(settings, ["a b", "c", "a b"], embedder=embedder)
    assert embedder.texts == 2  # duplicates embed once
    again = embed_profiles(settings, ["c", "a b", "d"], embedder=embedder)
    assert embedder.texts == 3  # only the new text
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[1], first[0])
    assert cache_path(settings, embedder.model_name).exists()


def test_digests_ending_in_nul_bytes_survive_the_cache(settings: Settings, embedder: HashEmbedder) -> None:
    text = next(f"t{i}" for i in range(10_000) if hashlib.sha256(f"t{i}".encode()).digest().endswith(b"\0"))
    embed_profiles(settings, [text], embedder=embedder)
    embed_profiles(settings, [text], embedder=embedder)
    assert embedder.calls == 1


def test_a_corrupt_cache_is_rebuilt(settings: Settings, embedder: HashEmbedder) -> None:
    path = cache_path(settings, embedder.model_name)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    assert embed_profiles(settings, ["x"], embedder=embedder).shape == (1, embedder.dimension)
