"""Items and interactions: MovieLens, Amazon review JSON lines, generic catalogues."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infinstruct.connectors.labelled import raise_columns
from infinstruct.connectors.records import DocumentRecord, InteractionRecord, Item, Quarantined
from infinstruct.connectors.safeio import (
    DEFAULT_LIMITS,
    Limits,
    TruncatedInput,
    csv_header,
    csv_rows,
    detect_encoding,
    open_binary,
    peek,
)
from infinstruct.connectors.tabular import cell_text, fields_with, find_field, table_fields, table_rows

_YEAR = re.compile(r"\((\d{4})\)\s*$")
_MOVIELENS = {
    "movies.csv": ["movieId", "title", "genres"],
    "ratings.csv": ["userId", "movieId", "rating", "timestamp"],
    "tags.csv": ["userId", "movieId", "tag", "timestamp"],
    "links.csv": ["movieId", "imdbId", "tmdbId"],
}


def _unix(value: str | float) -> datetime:
    return datetime.fromtimestamp(float(value), tz=UTC).replace(tzinfo=None)


def item(
    title: str, description: str, external_id: str, *, line: int | None = None, **meta: Any
) -> DocumentRecord:
    return DocumentRecord(
        kind="item",
        title=title,
        text=description,
        external_id=external_id,
        identity=external_id,
        group_key=f"item:{external_id}",
        meta=meta,
        line=line,
    )


class MovieLensConnector:
    """MovieLens (latest-small layout, CRLF): a folder, or any one of its CSV files.

    Movies become items (title, year, genres, the users' tags and the links in meta);
    ratings and tags become interactions.
    """

    name = "movielens"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "items"
    expects = "movies.csv (movieId,title,genres) and/or ratings.csv, tags.csv, links.csv"

    def detect(self, path: Path) -> float:
        files = self._files(path)
        if path.is_dir():
            return 0.95 if "movies.csv" in files else 0.0
        return 0.95 if files else 0.0

    @staticmethod
    def _files(path: Path) -> dict[str, Path]:
        candidates = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        return {p.name: p for p in candidates if _MOVIELENS.get(p.name) == csv_header(p)}

    def read(self, path: Path) -> Iterator[Item]:
        files = self._files(path)
        tags: dict[str, list[str]] = defaultdict(list)
        if "tags.csv" in files:
            for item_ in self._interactions(files["tags.csv"], "tag"):
                if isinstance(item_, InteractionRecord):
                    tags[item_.item_id].append(item_.text)
                yield item_
        if "ratings.csv" in files:
            yield from self._interactions(files["ratings.csv"], "rating")
        links: dict[str, dict[str, str]] = {}
        if "links.csv" in files:
            for _, row in csv_rows(files["links.csv"], limits=self.limits):
                if isinstance(row, dict):
                    links[row["movieId"]] = {"imdb_id": row["imdbId"], "tmdb_id": row["tmdbId"]}
        if "movies.csv" in files:
            yield from self._movies(files["movies.csv"], tags, links)

    def _movies(
        self, path: Path, tags: dict[str, list[str]], links: dict[str, dict[str, str]]
    ) -> Iterator[Item]:
        for number, row in csv_rows(path, limits=self.limits):
            if isinstance(row, str) or not row["movieId"].strip().isdigit() or not row["title"].strip():
                yield Quarantined(str(path), "expected movieId,title,genres", raw=str(row), line=number)
                continue
            title = row["title"].strip()
            year = _YEAR.search(title)
            genres = [] if row["genres"] == "(no genres listed)" else row["genres"].split("|")
            movie_tags = sorted(set(tags.get(row["movieId"], [])))
            description = (
                "Genres: " + ", ".join(genres) + (". Tags: " + ", ".join(movie_tags) if movie_tags else "")
            )
            yield item(
                title,
                description,
                row["movieId"],
                line=number,
                genres=genres,
                year=int(year.group(1)) if year else None,
                tags=movie_tags,
                **links.get(row["movieId"], {}),
            )

    def _interactions(self, path: Path, kind: str) -> Iterator[Item]:
        for number, row in csv_rows(path, limits=self.limits):
            try:
                assert isinstance(row, dict)
                value = float(row["rating"]) if kind == "rating" else None
                if value is not None and not 0.5 <= value <= 5.0:
                    raise ValueError(f"rating {value} outside 0.5-5")
                yield InteractionRecord(
                    user_id=row["userId"].strip(),
                    item_id=row["movieId"].strip(),
                    kind=kind,
                    value=value,
                    text=row.get("tag", ""),
                    ts=_unix(row["timestamp"]),
                    line=number,
                )
            except (AssertionError, KeyError, ValueError, OverflowError) as exc:
                yield Quarantined(str(path), f"bad {kind} row: {exc}", raw=str(row), line=number)


class AmazonReviewsConnector:
    """Amazon review JSON lines (gzip or plain): reviews → interactions; products → items."""

    name = "amazon-reviews"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "items"
    expects = 'JSON lines (often .json.gz) with "reviewerID", "asin", "overall"'

    def detect(self, path: Path) -> float:
        if path.is_dir():
            return 0.0
        head = peek(path, 4096).decode("utf-8", errors="replace").lstrip()
        return 0.95 if head.startswith("{") and '"reviewerID"' in head and '"asin"' in head else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        reviews: dict[str, list[str]] = defaultdict(list)
        number = 0
        try:
            for number, line in _binary_lines(path, self.limits):
                try:
                    row = json.loads(line)
                    stamp = _unix(row["unixReviewTime"]) if "unixReviewTime" in row else None
                    text = str(row.get("reviewText", ""))
                    record = InteractionRecord(
                        user_id=str(row["reviewerID"]),
                        item_id=str(row["asin"]),
                        kind="review",
                        value=float(row["overall"]),
                        text=text,
                        ts=stamp,
                        line=number,
                        meta={
                            "summary": row.get("summary", ""),
                            "verified": row.get("verified"),
                            "style": row.get("style", {}),
                        },
                    )
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    yield Quarantined(str(path), f"bad review line: {exc}", raw=line[:2000], line=number)
                    continue
                if len(reviews[record.item_id]) < 20:
                    reviews[record.item_id].append(str(row.get("summary", "")) or text[:200])
                yield record
        except TruncatedInput as exc:
            yield Quarantined(str(path), str(exc), line=number + 1)
        for asin, summaries in reviews.items():
            product = item(
                asin, "Reviews: " + " | ".join(s for s in summaries if s), asin, review_sample=len(summaries)
            )
            product.source_rows = 0  # derived from the reviews, not a row of the file
            yield product


def _binary_lines(path: Path, limits: Limits) -> Iterator[tuple[int, str]]:
    """Lines of a possibly gzipped file, decoded per line (streams: no full read)."""
    with open_binary(path, limits=limits) as fh:
        encoding = "utf-8"
        for number, raw in enumerate(fh, start=1):
            if number == 1:
                encoding = detect_encoding(raw)
            line = raw.decode(encoding, errors="replace").strip()
            if line:
                yield number, line


class GenericCatalogueConnector:
    """Items from CSV/TSV, JSON array, JSONL or Parquet: ``--map id=FIELD --map title=FIELD``
    (also ``text`` and ``genres``); dotted paths reach nested JSON."""

    name = "catalogue"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "items"
    expects = (
        "CSV/TSV, JSON array, JSONL or Parquet with id and title fields; --map id=FIELD --map title=FIELD"
    )

    def __init__(self, columns: dict[str, str] | None = None) -> None:
        self.columns = columns or {}

    def _col(self, key: str, header: list[str], *guesses: str) -> str | None:
        if key in self.columns:
            return self.columns[key] if self.columns[key] in header else None
        return find_field(header, key, *guesses)

    def mapping(self, path: Path) -> dict[str, str]:
        header = table_fields(path)
        found = {key: self._col(key, header, *guesses) for key, guesses in _CATALOGUE_FIELDS}
        return {k: v for k, v in found.items() if v}

    def detect(self, path: Path) -> float:
        header = table_fields(path)
        if self._col("id", header, "item_id", "sku") and self._col("title", header, "name"):
            return 0.5 if self.columns else 0.4
        return 0.0

    def read(self, path: Path) -> Iterator[Item]:
        known = table_fields(path)
        for number, row in table_rows(path, limits=self.limits):
            if isinstance(row, str):
                yield Quarantined(
                    str(path), "wrong number of columns or not a JSON object", raw=row, line=number
                )
                continue
            header = fields_with(known, row)
            cols = {key: self._col(key, header, *guesses) for key, guesses in _CATALOGUE_FIELDS}
            id_col, title_col = cols["id"], cols["title"]
            if id_col is None or title_col is None:
                raise_columns(path, header, "id and title", self.columns)
            assert id_col is not None and title_col is not None
            external, title = cell_text(row.get(id_col)).strip(), cell_text(row.get(title_col)).strip()
            if not external or not title:
                yield Quarantined(str(path), "empty id or title", raw=str(row), line=number)
                continue
            raw_genres = row.get(cols["genres"]) if cols["genres"] else None
            genres = (
                [str(g) for g in raw_genres if g]
                if isinstance(raw_genres, list)
                else [g for g in re.split(r"[|;,]", cell_text(raw_genres)) if g]
            )
            yield item(
                title,
                cell_text(row.get(cols["text"])) if cols["text"] else "",
                external,
                line=number,
                genres=genres,
            )


#: The catalogue fields and the names recognised for each when not mapped.
_CATALOGUE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("id", ("item_id", "sku")),
    ("title", ("name",)),
    ("text", ("description",)),
    ("genres", ("categories", "category")),
)
