"""Fixtures of the recommendation tests: a tiny hand-made catalogue with a deterministic
bag-of-words embedder (fast unit tests), and a real MovieLens slice plus Amazon Fashion
loaded through the real connectors and embedded with the real MiniLM (slow tests)."""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from infinstruct.core.settings import Settings, load_settings
from infinstruct.recommend.dataset import Item, ItemData, RawEvent, build_item_data
from tests.conftest import shared_path


class HashEmbedder:
    """Bag of hashed words, unit-normalised: texts sharing words get similar vectors."""

    model_name = "test-hash-embedder"
    dimension = 64

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace(",", " ").replace(".", " ").split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def tiny_catalogue() -> ItemData:
    """Two taste clusters (space films, romances), a duplicate title and a title with ';'."""
    items = [
        Item("1", "Star Voyage (1990)", "Genres: Sci-Fi, Adventure", ("Sci-Fi", "Adventure")),
        Item("2", "Moon Base (1992)", "Genres: Sci-Fi, Comedy", ("Sci-Fi", "Comedy")),
        Item("3", "Galaxy Jokes (1994)", "Genres: Sci-Fi, Comedy", ("Sci-Fi", "Comedy")),
        Item("4", "Paris Love (1991)", "Genres: Romance, Drama", ("Romance", "Drama")),
        Item("5", "Emma (1996)", "Genres: Romance", ("Romance",)),
        Item("6", "Emma (1996)", "Genres: Comedy, Romance", ("Comedy", "Romance")),
        Item("7", "Steins;Gate (2013)", "Genres: Animation, Sci-Fi", ("Animation", "Sci-Fi")),
        Item("8", "Quiet Drama (1999)", "Genres: Drama", ("Drama",)),
    ]
    rows = []
    space, love = ["1", "2", "3", "7"], ["4", "5", "6", "8"]
    for u in range(12):
        liked = space if u % 2 == 0 else love
        for step, item in enumerate(liked[: 3 + (u // 2) % 2]):
            rows.append(RawEvent(f"u{u}", item, "rating", 4.0 + (step % 2) / 2, float(1000 * u + step)))
    rows.append(RawEvent("u0", "2", "tag", None, 5.0, "funny"))
    rows.append(RawEvent("u2", "2", "tag", None, 6.0, "funny"))
    rows.append(RawEvent("u4", "3", "tag", None, 7.0, "space opera"))  # on u4's last item
    return build_item_data("tiny", items, rows)


@pytest.fixture
def tiny() -> ItemData:
    return tiny_catalogue()


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


MOVIELENS_USERS = 100  # userId <= 100: 79 users of the shared split
MOVIELENS_MOVIES = 600  # the most rated movies: ~6.7k ratings, and embedding stays cheap
MOVIELENS_EXTRA = {"838", "26958", "162982"}  # both "Emma (1996)" and "Steins;Gate ..."


def write_movielens_slice(target: Path) -> Path:
    """The real MovieLens files cut to the most rated movies (+ a few) and the first users."""
    source = shared_path("items", "movielens_latest_small")
    target.mkdir(parents=True, exist_ok=True)
    tables = {}
    for name in ("ratings.csv", "tags.csv", "movies.csv"):
        with (source / name).open(newline="", encoding="utf-8") as fh:
            tables[name] = list(csv.reader(fh))
    counts = Counter(row[1] for row in tables["ratings.csv"][1:])
    keep = {movie for movie, _ in counts.most_common(MOVIELENS_MOVIES)} | MOVIELENS_EXTRA
    for name in ("ratings.csv", "tags.csv"):
        rows = tables[name]
        _write(
            target / name, rows[:1] + [r for r in rows[1:] if int(r[0]) <= MOVIELENS_USERS and r[1] in keep]
        )
    movies = tables["movies.csv"]
    _write(target / "movies.csv", movies[:1] + [r for r in movies[1:] if r[0] in keep])
    return target


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)  # csv's default CRLF, like the originals


@pytest.fixture(scope="session")
def items_settings(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Iterator[Settings]:
    """A store holding the MovieLens slice ('movielens') and Amazon Fashion ('amazon-fashion'),
    loaded by the real connectors; one per test session (the profiles embed once)."""
    from infinstruct.services import build_ingestor

    root = tmp_path_factory.mktemp("recommend")
    data_dir = root / "var"
    data_dir.mkdir()
    shutil.copy(_migrated_template, data_dir / "infinstruct.db")
    settings = load_settings(data_dir=data_dir)
    ingest = build_ingestor(settings)
    ingest(write_movielens_slice(root / "movielens"), corpus="movielens")
    ingest(shared_path("items", "amazon_fashion_5core"), corpus="amazon-fashion")
    yield settings
