"""Customer Support on Twitter (twcs.csv): tweets rebuilt into threads per brand.

Both layouts are read: Kaggle's original and the pandas re-export (an unnamed index
column, ``in_response_to_tweet_id`` written as a float). A thread is a connected component
of the reply graph (``in_response_to_tweet_id`` / ``response_tweet_id``) over the tweets
present in the file; its brand is the majority author of its outbound tweets.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from infinstruct.connectors.records import DocumentRecord, Item, Quarantined
from infinstruct.connectors.safeio import DEFAULT_LIMITS, Limits, csv_header, csv_rows

COLUMNS = {
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
}


def _tweet_id(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    return int(float(value)) if "." in value else int(value)


class TwcsConnector:
    name = "twcs"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "support"
    expects = "CSV with columns " + ",".join(sorted(COLUMNS)) + " (a pandas index column is fine)"

    def detect(self, path: Path) -> float:
        if path.is_dir() or path.suffix.lower() != ".csv":
            return 0.0
        header = set(csv_header(path))
        return 0.95 if header >= COLUMNS else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        tweets: dict[int, dict[str, str]] = {}
        lines: dict[int, int] = {}
        for number, row in csv_rows(path, limits=self.limits):
            if isinstance(row, str):
                yield Quarantined(str(path), "wrong number of columns", raw=row, line=number)
                continue
            try:
                tid = _tweet_id(row["tweet_id"])
                _tweet_id(row["in_response_to_tweet_id"])
            except ValueError:
                yield Quarantined(str(path), "tweet_id is not a number", raw=str(row), line=number)
                continue
            if tid is None or row["inbound"] not in ("True", "False"):
                yield Quarantined(
                    str(path), "missing tweet_id or inbound not True/False", raw=str(row), line=number
                )
                continue
            tweets[tid] = row
            lines[tid] = number
        yield from self._threads(tweets, lines)

    def _threads(self, tweets: dict[int, dict[str, str]], lines: dict[int, int]) -> Iterator[Item]:
        parent = {tid: tid for tid in tweets}

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: int, b: int | None) -> None:
            if b is not None and b in tweets:
                parent[find(a)] = find(b)

        for tid, row in tweets.items():
            union(tid, _tweet_id(row["in_response_to_tweet_id"]))
            for other in row["response_tweet_id"].split(","):
                if other.strip():
                    union(tid, _tweet_id(other))
        members: dict[int, list[int]] = defaultdict(list)
        for tid in tweets:
            members[find(tid)].append(tid)
        for root in sorted(members, key=lambda r: min(members[r])):
            ids = sorted(members[root], key=lambda t: (_created(tweets[t]), t))
            yield self._thread(ids, tweets, lines)

    def _thread(
        self, ids: list[int], tweets: dict[int, dict[str, str]], lines: dict[int, int]
    ) -> DocumentRecord:
        turns = []
        brands: Counter[str] = Counter()
        pairs = 0
        for tid in ids:
            row = tweets[tid]
            inbound = row["inbound"] == "True"
            if not inbound:
                brands[row["author_id"]] += 1
                reply_to = _tweet_id(row["in_response_to_tweet_id"])
                if reply_to in tweets and tweets[reply_to]["inbound"] == "True":
                    pairs += 1
            turns.append(
                {"role": "customer" if inbound else "agent", "text": row["text"].strip(), "tweet_id": tid}
            )
        brand = brands.most_common(1)[0][0] if brands else ""
        thread_id = str(min(ids))  # stable whatever the clock says
        created = _created(tweets[ids[0]])
        return DocumentRecord(
            kind="dialogue",
            text="\n".join(f"{t['role']}: {t['text']}" for t in turns),
            external_id=thread_id,
            group_key=f"twcs:{thread_id}",
            published_at=created if created != datetime.min else None,
            meta={"turns": turns, "brand": brand, "thread_id": thread_id, "tweets": len(ids), "pairs": pairs},
            source_rows=len(ids),
            line=lines[ids[0]],
        )


def _created(row: dict[str, str]) -> datetime:
    try:
        return datetime.strptime(row["created_at"], "%a %b %d %H:%M:%S %z %Y").replace(tzinfo=None)
    except ValueError:
        return datetime.min
