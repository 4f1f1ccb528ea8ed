"""``infinstruct alerts backtest``: load, plant, score, replay, report.

Files are read by the connectors (the same feed reader the alerts poll with, injected by
the CLI root) into a scratch SQLite store in a temporary folder, so a backtest never
touches the platform's store and any format a feed may carry can be replayed: Seeking
Alpha CSV, RSS/Atom captures, a drop folder. Every item, background and planted, is
scored by the active sentiment model with the one article scorer (``sentiment.article``), then
:mod:`~infinstruct.alerts.backtest` replays the stream through the detector.
"""

from __future__ import annotations

import logging
import random
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from sqlmodel import col, select

from infinstruct.alerts.alerting import params_from
from infinstruct.alerts.backtest import (
    Burst,
    DetectionScores,
    RaisedAlert,
    StreamItem,
    burst_times,
    evaluate,
    place_bursts,
    replay,
)
from infinstruct.alerts.feeds import FeedReader
from infinstruct.alerts.topics import item_tickers
from infinstruct.core.db import get_engine, session_scope, upgrade
from infinstruct.core.errors import InputError
from infinstruct.core.protocols import SentimentScorer
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, Document
from infinstruct.sentiment.article import score_articles

log = logging.getLogger(__name__)

DATA_CORPUS = "backtest-data"
PLANT_CORPUS = "backtest-plant"
DEFAULT_TICKERS = 10
_NOISE = re.compile(r"(?:^|\s)(?:\$[A-Za-z.]+|https?://\S+)")


@dataclass(frozen=True)
class BacktestOptions:
    bursts: int = 10
    controls: int | None = None  # control (non-negative) bursts; default: as many as bursts
    size: int = 8
    span_hours: float = 2.0
    poll_minutes: float | None = None  # default: scheduler.poll_minutes
    tickers: tuple[str, ...] = ()
    seed: int = 7


@dataclass(frozen=True)
class _Doc:
    key: str
    title: str
    text: str
    at: datetime | None
    tickers: frozenset[str]
    label: str | None


def load_documents(
    settings: Settings,
    reader_factory: Callable[[Settings], FeedReader | None],
    sources: dict[str, str | Path],
) -> dict[str, list[_Doc]]:
    """Read each source through the connectors into a scratch store; its documents per corpus."""
    with tempfile.TemporaryDirectory(prefix="infinstruct-backtest-") as tmp:
        scratch = settings.model_copy(
            update={"data_dir": Path(tmp), "database": settings.database.model_copy(update={"url": None})}
        )
        upgrade(scratch)
        reader = reader_factory(scratch)
        if reader is None:
            raise InputError(
                "no feed reader is wired to read the backtest files; install the connectors part"
            )
        out: dict[str, list[_Doc]] = {}
        try:
            for corpus, source in sources.items():
                if not Path(source).exists():
                    raise InputError(f"no file or folder at {source}; pass an existing --data/--plant path")
                reader(str(source), kind="folder" if Path(source).is_dir() else "rss", corpus=corpus)
                out[corpus] = _documents(scratch, corpus)
        finally:
            get_engine(scratch).dispose()  # close the scratch file before its folder goes
    return out


def _documents(scratch: Settings, corpus: str) -> list[_Doc]:
    with session_scope(scratch) as session:
        rows = session.exec(
            select(Document)
            .join(Corpus, col(Corpus.id) == col(Document.corpus_id))
            .where(Corpus.name == corpus, col(Document.near_dup_of).is_(None))
            .order_by(col(Document.id))
        ).all()
        return [
            _Doc(
                key=str(d.meta.get("guid") or d.id),
                title=d.title,
                text=d.text,
                at=d.published_at,
                tickers=frozenset(item_tickers(f"{d.title}\n{d.text}", d.meta.get("tickers") or [])),
                label=d.label,
            )
            for d in rows
        ]


def clean_headline(text: str) -> str:
    """A planted headline without its own cashtags and links (it is re-addressed to a ticker)."""
    return " ".join(_NOISE.sub(" ", text).split()).strip(" -:")


class BurstOutcome(TypedDict):
    ticker: str
    start: str
    negative: bool
    model_negative: int  # planted items the model called negative
    size: int
    alerted: bool


class AlertLogEntry(TypedDict):
    ticker: str
    at: str
    severity: str
    z: float


# "from" is a keyword, so the head of the report is spelled in the functional form.
_ReportHead = TypedDict(
    "_ReportHead",
    {
        "data": str,
        "plant": str | None,
        "model": str,
        "from": str,
        "to": str,
        "background_items": int,
        "planted_items": int,
        "background_negative_share": float,
        "params": dict[str, Any],
        "checks": int,
    },
)


class BacktestReport(_ReportHead, DetectionScores):
    """``infinstruct alerts backtest --json``: the head, the detection scores, then per burst."""

    bursts: list[BurstOutcome]
    alert_log: list[AlertLogEntry]


def run_backtest(
    settings: Settings,
    data: str | Path,
    *,
    plant: str | Path | None,
    reader_factory: Callable[[Settings], FeedReader | None],
    scorer: SentimentScorer,
    options: BacktestOptions = BacktestOptions(),
) -> BacktestReport:
    sources: dict[str, str | Path] = {DATA_CORPUS: data}
    if plant is not None:
        sources[PLANT_CORPUS] = plant
    docs = load_documents(settings, reader_factory, sources)
    background = [(d.at, d) for d in docs[DATA_CORPUS] if d.at is not None]
    if not background:
        raise InputError(
            f"{data} holds no dated news items to replay; give a feed, Seeking Alpha CSV or news CSV"
        )
    start, end = min(at for at, _ in background), max(at for at, _ in background)
    negatives, controls = _plant_pools(docs.get(PLANT_CORPUS, []), plant)

    params = params_from(settings.alerts)
    cooldown = float(settings.alerts.cooldown_hours)
    n_controls = options.bursts if options.controls is None else options.controls
    bursts = place_bursts(
        _tickers(options, background, docs.get(PLANT_CORPUS, [])) if plant is not None else [],
        negative=options.bursts,
        # a plant file without neutral/positive headlines has no controls to plant
        controls=n_controls if controls else 0,
        start=start,
        end=end,
        span_hours=options.span_hours,
        gap_hours=params.window_hours + cooldown + options.span_hours,
        size=options.size,
        seed=options.seed,
    )
    planted = _planted(bursts, negatives, controls, seed=options.seed)

    articles = [(d.title, d.text) for _, d in background] + [(title, "") for _, title, _ in planted]
    log.info("scoring %d items with %s", len(articles), scorer.version)
    flags = [s.negative for s in score_articles(scorer, articles, batch_size=settings.alerts.batch_size)]
    items = _stream(background, planted, bursts, flags)

    every_ticker = sorted({t for i in items for t in i.tickers})
    poll = options.poll_minutes or float(settings.scheduler.poll_minutes)
    result = replay(items, tickers=every_ticker, params=params, cooldown_hours=cooldown, poll_minutes=poll)
    planted_flags = flags[len(background) :]
    return {
        "data": str(data),
        "plant": str(plant) if plant is not None else None,
        "model": scorer.version,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "background_items": len(background),
        "planted_items": len(planted),
        "background_negative_share": round(sum(flags[: len(background)]) / len(background), 4),
        "params": {**asdict(params), "cooldown_hours": cooldown, "poll_minutes": poll},
        "checks": result.checks,
        **evaluate(
            result.alerts,
            bursts,
            window_hours=params.window_hours,
            tickers=len(every_ticker),
            start=start,
            end=end,
        ),
        "bursts": _burst_outcomes(bursts, planted, planted_flags, result.alerts, params.window_hours),
        "alert_log": [
            {"ticker": a.ticker, "at": a.at.isoformat(), "severity": a.severity, "z": a.zscore}
            for a in result.alerts
        ],
    }


def _tickers(
    options: BacktestOptions, background: list[tuple[datetime, _Doc]], plant_docs: list[_Doc]
) -> list[str]:
    """The tickers bursts are planted on: the given ones, else the stream's most mentioned."""
    if options.tickers:
        return list(options.tickers)
    counts = Counter(t for _, d in background for t in d.tickers)
    tickers = [t for t, _ in counts.most_common(DEFAULT_TICKERS)]
    if not tickers:  # a stream without tickers (general news): address the planted headlines' own
        tickers = [t for t, _ in Counter(t for d in plant_docs for t in d.tickers).most_common(3)]
    return tickers


def _stream(
    background: list[tuple[datetime, _Doc]],
    planted: list[tuple[int, str, datetime]],
    bursts: list[Burst],
    flags: list[bool],
) -> list[StreamItem]:
    """The replayed stream: background items, then planted ones, each with the model's verdict."""
    items = [StreamItem(d.key, at, d.tickers, flag) for (at, d), flag in zip(background, flags, strict=False)]
    planted_flags = flags[len(background) :]
    for n, ((burst_no, _, at), flag) in enumerate(zip(planted, planted_flags, strict=True)):
        items.append(StreamItem(f"plant-{n}", at, frozenset({bursts[burst_no].ticker}), flag))
    return items


def _burst_outcomes(
    bursts: list[Burst],
    planted: list[tuple[int, str, datetime]],
    planted_flags: list[bool],
    alerts: list[RaisedAlert],
    window_hours: float,
) -> list[BurstOutcome]:
    called = Counter(burst_no for (burst_no, _, _), flag in zip(planted, planted_flags, strict=True) if flag)
    return [
        {
            "ticker": b.ticker,
            "start": b.start.isoformat(),
            "negative": b.negative,
            "model_negative": called.get(n, 0),
            "size": b.size,
            "alerted": any(
                a.ticker == b.ticker and b.start <= a.at <= b.end + timedelta(hours=window_hours)
                for a in alerts
            ),
        }
        for n, b in enumerate(bursts)
    ]


def _plant_pools(docs: list[_Doc], plant: str | Path | None) -> tuple[list[str], list[str]]:
    """Negative and non-negative (control) headlines of the labelled plant file."""
    if plant is None:
        return [], []
    negatives = [clean_headline(d.title or d.text) for d in docs if d.label == "negative"]
    controls = [clean_headline(d.title or d.text) for d in docs if d.label in ("neutral", "positive")]
    negatives, controls = [h for h in negatives if len(h) > 20], [h for h in controls if len(h) > 20]
    if not negatives:
        raise InputError(
            f"{plant} has no headlines labelled negative; give a labelled file such as the Twitter "
            "financial news sentiment CSV (text,label)"
        )
    return negatives, controls


def _planted(
    bursts: list[Burst], negatives: list[str], controls: list[str], *, seed: int
) -> list[tuple[int, str, datetime]]:
    """(burst index, headline, published) for every planted item, headlines drawn without reuse
    until a pool runs out."""
    rng = random.Random(seed)
    pools = {True: negatives[:], False: controls[:]}
    for pool in pools.values():
        rng.shuffle(pool)
    cursor = {True: 0, False: 0}
    out: list[tuple[int, str, datetime]] = []
    for n, burst in enumerate(bursts):
        pool = pools[burst.negative]
        for at in burst_times(burst):
            headline = pool[cursor[burst.negative] % len(pool)]
            cursor[burst.negative] += 1
            out.append((n, f"${burst.ticker} {headline}", at))
    return out
