"""Finance news: RSS 2.0 / Atom feeds, Seeking Alpha CSV, and generic news CSV/JSONL.

Feeds are checked with defusedxml first (no DTD entities: no billion-laughs, no external
entities), then parsed by feedparser, which knows the many dialects of real feeds.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infinstruct.connectors.labelled import raise_columns
from infinstruct.connectors.records import DocumentRecord, Item, Quarantined
from infinstruct.connectors.safeio import (
    DEFAULT_LIMITS,
    Limits,
    csv_header,
    csv_rows,
    looks_binary,
    open_binary,
    peek,
)
from infinstruct.connectors.tabular import cell_text, fields_with, find_field, table_fields, table_rows
from infinstruct.core.errors import ConnectorError, LimitError

_TAG = re.compile(r"<[^>]+>")


def clean_html(text: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(_TAG.sub(" ", text or ""))).strip()


def news(
    title: str,
    body: str,
    *,
    guid: str = "",
    link: str = "",
    source: str = "",
    published_at: datetime | None = None,
    tickers: list[str] | None = None,
    line: int | None = None,
    **meta: Any,
) -> DocumentRecord:
    return DocumentRecord(
        kind="news",
        title=title.strip(),
        text=body.strip(),
        published_at=published_at,
        external_id=(guid or link or None),
        identity=guid or None,
        meta={"guid": guid, "link": link, "tickers": tickers or [], "source": source, **meta},
        line=line,
    )


def check_xml(data: bytes, where: str) -> None:
    """Refuse XML with entity declarations (bombs, external entities) or that is not well-formed."""
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as safe_et
    from defusedxml import DefusedXmlException

    try:
        safe_et.fromstring(data)
    except DefusedXmlException as exc:
        raise LimitError(
            f"{where} declares XML entities ({exc.__class__.__name__}); refused as a possible "
            "XML bomb or external-entity attack; remove the DTD from the feed"
        ) from exc
    except ParseError as exc:
        raise ConnectorError(
            f"{where} is not well-formed XML ({exc}); check the file or the feed URL"
        ) from exc


def parse_feed(data: bytes, where: str) -> Iterator[Item]:
    """News records of an RSS/Atom document (already fetched)."""
    import feedparser

    check_xml(data, where)
    parsed = feedparser.parse(data)
    channel = parsed.feed.get("title", "")
    for index, entry in enumerate(parsed.entries):
        title = clean_html(entry.get("title", ""))
        body = clean_html(entry.get("summary", "") or entry.get("description", ""))
        if not title and not body:
            yield Quarantined(
                where, "feed entry without title or summary", raw=str(entry)[:2000], offset=index
            )
            continue
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = datetime(*stamp[:6]) if stamp else None  # feedparser gives UTC
        yield news(
            title,
            body,
            guid=entry.get("id", "") or entry.get("guid", ""),
            link=entry.get("link", ""),
            source=channel,
            published_at=published,
            offset=index,
        )


class FeedConnector:
    name = "feed"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = "RSS 2.0 or Atom XML (<rss> or <feed>), file or http(s) URL"

    def detect(self, path: Path) -> float:
        if path.is_dir():
            return 0.0
        head = peek(path, 2048)
        if looks_binary(head):
            return 0.0
        text = head.decode("utf-8", errors="replace").lower()
        return 0.95 if "<rss" in text or "<feed" in text or "<rdf:rdf" in text else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        with open_binary(path, limits=self.limits) as fh:
            data = fh.read()
        yield from parse_feed(data, str(path))


_SEEKING_ALPHA = ["author", "date", "ticker", "summary"]


def parse_time(value: str | datetime) -> datetime | None:
    """A timestamp as naive UTC; None when unreadable.

    Reads ISO-8601 (with or without offset), unix seconds or milliseconds (helpdesk APIs
    use both), RFC 2822 (e-mail, RSS) and Twitter's ``Tue Oct 31 22:10:47 +0000 2017``.
    """
    if isinstance(value, datetime):
        stamp = value
    else:
        value = value.strip()
        if not value:
            return None
        try:
            if value.replace(".", "", 1).isdigit():
                seconds = float(value)
                # Past 1e11 s (year 5138) a count is milliseconds.
                seconds = seconds / 1000 if seconds > 1e11 else seconds
                return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, OverflowError, OSError):
            parsed = _other_formats(value)
            if parsed is None:
                return None
            stamp = parsed
    return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _other_formats(value: str) -> datetime | None:
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return None


class SeekingAlphaConnector:
    """Seeking Alpha summaries ``author,date,ticker,summary`` (dated, one ticker)."""

    name = "seeking-alpha"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = "CSV header author,date,ticker,summary"

    def detect(self, path: Path) -> float:
        return 0.95 if not path.is_dir() and csv_header(path) == _SEEKING_ALPHA else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        for number, row in csv_rows(path, limits=self.limits):
            if isinstance(row, str):
                yield Quarantined(str(path), "wrong number of columns", raw=row, line=number)
                continue
            stamp = parse_time(row["date"])
            if not row["summary"].strip() or stamp is None:
                yield Quarantined(str(path), "empty summary or unreadable date", raw=str(row), line=number)
                continue
            tickers = [t.strip() for t in re.split(r"[;,| ]+", row["ticker"]) if t.strip()]
            record = news(
                "",
                row["summary"],
                published_at=stamp,
                tickers=tickers,
                source="seekingalpha",
                line=number,
                author=row["author"],
            )
            # One summary is filed under several tickers and dates: each filing is a document
            # (the alerts count per ticker); repeats across them are flagged near-duplicates.
            record.identity = f"{row['date']}|{row['ticker']}|{row['summary']}"
            yield record


class GenericNewsConnector:
    """News from CSV/TSV, JSON array, JSONL or Parquet: ``--map title=FIELD --map date=FIELD …``.

    Keys: ``title``, ``text`` (one of them required), ``date``, ``link``, ``guid``,
    ``tickers``, ``label`` (a word or a score, as in the labelled connector); dotted paths
    reach nested JSON. Without a mapping it is only detected for fields naming title+date.
    """

    name = "news"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = "CSV/TSV, JSON array, JSONL or Parquet with title/text/date fields; --map title=FIELD --map date=FIELD"

    def __init__(
        self, columns: dict[str, str] | None = None, *, score_thresholds: tuple[float, float] | None = None
    ) -> None:
        self.columns = columns or {}
        self.score_thresholds = score_thresholds

    def _col(self, key: str, header: list[str], *guesses: str) -> str | None:
        if key in self.columns:
            return self.columns[key] if self.columns[key] in header else None
        return find_field(header, key, *guesses)

    def mapping(self, path: Path) -> dict[str, str]:
        header = table_fields(path)
        found = {key: self._col(key, header, *guesses) for key, guesses in _NEWS_FIELDS}
        return {k: v for k, v in found.items() if v}

    def detect(self, path: Path) -> float:
        header = table_fields(path)
        found = self.mapping(path)
        if "title" in found and "date" in found:
            return 0.6
        return 0.3 if self.columns.get("text") in header or self.columns.get("title") in header else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        known = table_fields(path)
        for number, row in table_rows(path, limits=self.limits):
            if isinstance(row, str):
                yield Quarantined(
                    str(path), "wrong number of columns or not a JSON object", raw=row, line=number
                )
                continue
            header = fields_with(known, row)
            cols = {key: self._col(key, header, *guesses) for key, guesses in _NEWS_FIELDS}
            if cols["text"] is None and cols["title"] is None:
                raise_columns(path, header, "title/text", self.columns)
            values = {k: cell_text(row.get(c)) for k, c in cols.items() if c}
            if not (values.get("title", "").strip() or values.get("text", "").strip()):
                yield Quarantined(str(path), "empty title and text", raw=str(row), line=number)
                continue
            record = news(
                values.get("title", ""),
                values.get("text", ""),
                guid=values.get("guid", ""),
                link=values.get("link", ""),
                published_at=parse_time(values.get("date", "")),
                tickers=[t for t in re.split(r"[;,| ]+", values.get("tickers", "")) if t],
                source=path.stem,
                line=number,
            )
            if cols["label"] and values.get("label"):
                from infinstruct.connectors import sentiment

                record.label, record.score = sentiment.to_label(
                    row.get(cols["label"]), column=cols["label"], thresholds=self.score_thresholds
                )
            yield record


#: The generic news fields and the names recognised for each when not mapped.
_NEWS_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("title", ("headline",)),
    ("text", ("body", "summary", "description", "content")),
    ("date", ("published", "published_at", "datetime", "time")),
    ("link", ("url",)),
    ("guid", ("id",)),
    ("tickers", ("ticker", "symbols", "symbol")),
    ("label", ("sentiment", "sentiment_score")),
)
