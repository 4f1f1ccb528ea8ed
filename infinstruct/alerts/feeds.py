"""The feeds registry and polling.

Reading a feed is the connectors' job; this module only knows the :class:`FeedReader`
contract, and ``services.build_feed_reader`` wires the connectors' implementation in
(``platform`` never imports ``connectors``). The reader loads the feed's items into the
store as ``news`` documents of the corpus ``feed-<name>``; documents are keyed by a content
hash there, so a re-polled item adds nothing and only new items reach scoring.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NotRequired, Protocol, TypedDict, runtime_checkable

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InfinstructError, InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Feed
from infinstruct.core.tables._columns import utcnow

log = logging.getLogger(__name__)

FEED_KINDS = ("rss", "folder")


@runtime_checkable
class FeedReader(Protocol):
    """Load one feed (RSS/Atom URL or file, or a drop folder of CSV/JSONL) into the store."""

    def __call__(self, uri: str, *, kind: str, corpus: str) -> dict[str, Any]: ...


def corpus_name(feed_name: str) -> str:
    return f"feed-{feed_name}"


def add_feed(settings: Settings, name: str, uri: str, *, kind: str = "rss") -> Feed:
    if kind not in FEED_KINDS:
        raise InputError(f"feed kind must be one of {', '.join(FEED_KINDS)} (got {kind!r})")
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise InputError(f"feed name may hold letters, digits, '-', '_' (got {name!r})")
    is_url = uri.startswith(("http://", "https://"))
    if kind == "folder" and (is_url or not Path(uri).is_dir()):
        raise InputError(f"a folder feed needs an existing folder (got {uri!r})")
    if kind == "rss" and not is_url and not Path(uri).is_file():
        raise InputError(f"an rss feed needs an http(s) URL or an existing file (got {uri!r})")
    with session_scope(settings) as session:
        if session.exec(select(Feed).where(Feed.name == name)).first() is not None:
            raise InputError(
                f"feed {name!r} exists; remove it first with `infinstruct alerts feeds remove {name}`"
            )
        feed = Feed(name=name, uri=uri, kind=kind)
        session.add(feed)
        session.flush()
        session.refresh(feed)
        return feed


def list_feeds(settings: Settings) -> list[Feed]:
    with session_scope(settings) as session:
        return list(session.exec(select(Feed).order_by(col(Feed.name))).all())


def remove_feed(settings: Settings, name: str) -> None:
    with session_scope(settings) as session:
        feed = session.exec(select(Feed).where(Feed.name == name)).first()
        if feed is None:
            raise NotFoundError(f"no feed {name!r}; see `infinstruct alerts feeds list`")
        session.delete(feed)


class FeedPoll(TypedDict):
    """One feed's part of an alerts run: the load's counts, or why it failed."""

    feed: str
    ok: bool
    read: NotRequired[int]
    loaded: NotRequired[int]
    duplicates: NotRequired[int]
    quarantined: NotRequired[int]
    version: NotRequired[int]
    error: NotRequired[str]


def poll_feeds(settings: Settings, reader: FeedReader | None) -> list[FeedPoll]:
    """Load every enabled feed; one feed's failure is reported and does not stop the others."""
    feeds = [f for f in list_feeds(settings) if f.enabled]
    if feeds and reader is None:
        raise InputError("feeds are configured but no feed reader is wired; install the connectors part")
    reports: list[FeedPoll] = []
    for feed in feeds:
        assert reader is not None
        try:
            report = reader(feed.uri, kind=feed.kind, corpus=corpus_name(feed.name))
            reports.append(_brief(feed.name, report))
        except InfinstructError as exc:
            log.warning("feed %s (%s) failed: %s", feed.name, feed.uri, exc)
            reports.append({"feed": feed.name, "ok": False, "error": str(exc)})
            continue
        with session_scope(settings) as session:
            row = session.get(Feed, feed.id)
            if row is not None:
                row.last_polled_at = utcnow()
                session.add(row)
    return reports


def _brief(name: str, report: dict[str, Any]) -> FeedPoll:
    """The counts of a feed load that a run reports (those the reader gave)."""
    poll: FeedPoll = {"feed": name, "ok": True}
    if "read" in report:
        poll["read"] = report["read"]
    if "loaded" in report:
        poll["loaded"] = report["loaded"]
    if "duplicates" in report:
        poll["duplicates"] = report["duplicates"]
    if "quarantined" in report:
        poll["quarantined"] = report["quarantined"]
    if "version" in report:
        poll["version"] = report["version"]
    return poll
