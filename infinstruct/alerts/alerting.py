"""Turn scored items into alerts: per watchlist entry, detect, de-duplicate, fill the outbox.

One ongoing spike is one alert: while a topic keeps spiking, or within its cooldown after
the last alert's window, the existing alert is extended (window end, volume, headlines)
instead of a new one being raised. ``Alert.dedup_key`` is unique (entry + the first
negative item of the episode), so a replay over the same data, or a racing worker, cannot
insert the same alert twice. Each new alert gets one ``Delivery`` row per channel of its
owner (the outbox); :mod:`delivery` works the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from infinstruct.alerts.detector import (
    DetectorParams,
    Observation,
    SpikeStats,
    detect,
    same_episode,
)
from infinstruct.alerts.topics import TopicMatcher, item_tickers
from infinstruct.alerts.watchlists import ensure_inapp
from infinstruct.core.db import session_scope
from infinstruct.core.settings import AlertSettings, Settings
from infinstruct.core.tables import Alert, AlertChannel, Delivery, Document, SentimentScore, Watchlist

log = logging.getLogger(__name__)

MAX_HEADLINES = 50


def params_from(alerts: AlertSettings) -> DetectorParams:
    return DetectorParams(
        window_hours=alerts.window_hours,
        baseline_days=alerts.baseline_days,
        min_count=alerts.min_count,
        min_negative=alerts.min_negative,
        z_threshold=alerts.z_threshold,
        prior_negative_share=alerts.prior_negative_share,
        prior_weight=alerts.prior_weight,
    )


@dataclass(frozen=True)
class ScoredItem:
    id: str
    at: datetime
    text: str
    tickers: set[str]
    negative: bool
    negative_prob: float
    key: str


@dataclass
class AlertReport:
    checked: int = 0
    spikes: int = 0
    created: list[int] = field(default_factory=list)
    extended: int = 0
    muted: int = 0
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_scored_items(
    settings: Settings, *, version_id: int, since: datetime, until: datetime
) -> list[ScoredItem]:
    """Scored news items of ``(since, until]``, each story once (guid / near-duplicate)."""
    stamp = func.coalesce(col(Document.published_at), col(Document.created_at))
    with session_scope(settings) as session:
        rows = session.exec(
            select(Document, SentimentScore)
            .join(SentimentScore, col(SentimentScore.document_id) == col(Document.id))
            .where(
                SentimentScore.model_version_id == version_id,
                col(Document.stale).is_(False),
                stamp > since,
                stamp <= until,
            )
            .order_by(stamp)
        ).all()
    items: list[ScoredItem] = []
    seen: set[str] = set()
    for doc, score in rows:
        key = str(doc.meta.get("guid") or doc.near_dup_of or doc.id)
        if key in seen:
            continue
        seen.add(key)
        text = f"{doc.title}\n{doc.text}"
        at = doc.published_at or doc.created_at
        items.append(
            ScoredItem(
                id=doc.id,
                at=at,
                text=text,
                tickers=item_tickers(text, doc.meta.get("tickers") or []),
                negative=score.label == "negative",
                negative_prob=score.negative,
                key=key,
            )
        )
    return items


def raise_alerts(settings: Settings, *, version_id: int, now: datetime) -> AlertReport:
    """Check every watchlist entry of every user at ``now``; returns what happened."""
    base = params_from(settings.alerts)
    with session_scope(settings) as session:
        watches = list(session.exec(select(Watchlist).order_by(col(Watchlist.id))).all())
    report = AlertReport()
    if not watches:
        return report
    every = [base.with_rules(w.rules or {}) for w in watches]
    since = now - timedelta(
        hours=max(p.window_hours for p in every), days=max(p.baseline_days for p in every)
    )
    items = load_scored_items(settings, version_id=version_id, since=since, until=now)
    for watch in watches:
        report.checked += 1
        params = base.with_rules(watch.rules or {})
        matcher = TopicMatcher(watch.topic, watch.kind, list(watch.aliases))
        matched = [i for i in items if matcher.matches(i.text, i.tickers)]
        stats = detect((Observation(i.at, i.negative, i.key) for i in matched), now=now, params=params)
        report.stats[f"{watch.user_id}:{watch.topic}"] = stats.as_dict()
        if not stats.is_spike:
            continue
        report.spikes += 1
        if watch.muted_until is not None and watch.muted_until > now:
            report.muted += 1
            continue
        drivers = sorted(
            (i for i in matched if i.negative and stats.window_start < i.at <= now),
            key=lambda i: (-i.negative_prob, i.at),
        )
        cooldown = float((watch.rules or {}).get("cooldown_hours", settings.alerts.cooldown_hours))
        alert_id = _record(settings, watch, stats, drivers, cooldown_hours=cooldown)
        if alert_id is None:
            report.extended += 1
        else:
            report.created.append(alert_id)
    return report


def _record(
    settings: Settings,
    watch: Watchlist,
    stats: SpikeStats,
    drivers: list[ScoredItem],
    *,
    cooldown_hours: float,
) -> int | None:
    """Create the alert and its outbox rows; ``None`` when an ongoing one was extended."""
    doc_ids = [i.id for i in drivers[:MAX_HEADLINES]]
    first_negative = min(i.at for i in drivers)
    with session_scope(settings) as session:
        last = session.exec(
            select(Alert).where(Alert.watchlist_id == watch.id).order_by(col(Alert.window_end).desc())
        ).first()
        if last is not None and same_episode(last.window_end, stats, cooldown_hours=cooldown_hours):
            _extend(session, last, stats, doc_ids)
            return None
        alert = Alert(
            user_id=watch.user_id,
            watchlist_id=watch.id,
            topic=watch.topic,
            dedup_key=f"w{watch.id}:{first_negative:%Y%m%dT%H%M%S}",
            severity=stats.severity,
            negative_share=stats.negative_share,
            volume=stats.window_count,
            zscore=stats.zscore,
            document_ids=doc_ids,
            window_start=stats.window_start,
            window_end=stats.window_end,
        )
        try:
            with session.begin_nested():
                session.add(alert)
                session.flush()
        except IntegrityError:
            log.info(
                "alert %s exists already (a replay or another worker); not raised again", alert.dedup_key
            )
            return None
        assert alert.id is not None
        _fill_outbox(session, alert.id, watch.user_id)
        log.info(
            "alert %d: %s %s (share %.2f, z %.2f, %d items)",
            alert.id,
            watch.topic,
            stats.severity,
            stats.negative_share,
            stats.zscore,
            stats.window_count,
        )
        return alert.id


def _extend(session: Session, alert: Alert, stats: SpikeStats, doc_ids: list[str]) -> None:
    if stats.window_end <= alert.window_end:
        return
    alert.window_end = stats.window_end
    alert.volume = max(alert.volume, stats.window_count)
    alert.zscore = max(alert.zscore, stats.zscore)
    alert.negative_share = max(alert.negative_share, stats.negative_share)
    alert.document_ids = (list(alert.document_ids) + [d for d in doc_ids if d not in alert.document_ids])[
        :MAX_HEADLINES
    ]
    session.add(alert)


def _fill_outbox(session: Session, alert_id: int, user_id: int) -> None:
    ensure_inapp(session, user_id)
    channels = session.exec(select(AlertChannel).where(AlertChannel.user_id == user_id)).all()
    for channel in channels:
        assert channel.id is not None
        session.add(Delivery(alert_id=alert_id, channel_id=channel.id))
