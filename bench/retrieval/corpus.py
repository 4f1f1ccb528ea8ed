"""Real texts for the retrieval benchmark, read straight from ../shared/data.

Every source is split into sentence-sized chunks with the platform's chunker. When the
real pool is smaller than the size asked for, the rest are composites of two real chunks
(counted separately in the results), so the vectors stay embedding-like, never random.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path

from infinstruct.retrieval.chunking import chunk_text

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _csv_column(path: Path, column: str, encoding: str = "utf-8") -> Iterator[str]:
    with path.open(encoding=encoding, errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            yield row.get(column) or ""


def _sources() -> Iterator[str]:
    yield from _csv_column(DATA / "support/banking77/train.csv", "text")
    yield from _csv_column(DATA / "support/twcs_head5000_pandas/twcs.csv", "text")
    yield from _csv_column(DATA / "finance/twitter_financial_news_sentiment/sent_train.csv", "text")
    yield from _csv_column(DATA / "finance/seeking_alpha_summaries/seeking_alpha_articles.csv", "summary")
    for name in ("Sentences_50Agree.txt",):
        for line in (DATA / "finance/financial_phrasebank" / name).read_text("latin-1").splitlines():
            yield line.rsplit("@", 1)[0]
    for title, genres in zip(
        _csv_column(DATA / "items/movielens_latest_small/movies.csv", "title"),
        _csv_column(DATA / "items/movielens_latest_small/movies.csv", "genres"),
        strict=True,
    ):
        yield f"{title}: {genres.replace('|', ', ')}"
    yield from _csv_column(DATA / "items/movielens_latest_small/tags.csv", "tag")
    with gzip.open(
        DATA / "items/amazon_fashion_5core/AMAZON_FASHION_5.json.gz", "rt", encoding="utf-8"
    ) as fh:
        for line in fh:
            row = json.loads(line)
            yield f"{row.get('summary', '')}. {row.get('reviewText', '')}"
    yield from _csv_column(DATA / "zh/waimai_10k/waimai_10k.csv", "review")
    for name in ("fincuge_finnsp", "fincuge_finfe"):
        for row in json.loads((DATA / "zh" / name / "train_list.json").read_text("utf-8")):
            yield str(row[1] if name == "fincuge_finnsp" else row[0])


def real_chunks() -> list[str]:
    """Unique real chunks (≤ 300 characters) from every shared data source."""
    seen: dict[str, None] = {}
    for text in _sources():
        for piece in chunk_text(text, chunk_chars=300, overlap=0):
            if len(piece) >= 8:
                seen.setdefault(piece, None)
    return list(seen)


def bench_texts(n: int, *, seed: int = 0) -> tuple[list[str], int]:
    """``n`` texts (shuffled real chunks, then composites); returns (texts, how many are real)."""
    pool = real_chunks()
    random.Random(seed).shuffle(pool)
    if n <= len(pool):
        return pool[:n], n
    rng = random.Random(seed + 1)
    extra = [f"{rng.choice(pool)} {rng.choice(pool)}" for _ in range(n - len(pool))]
    return pool + extra, len(pool)
