"""One alerts run: poll feeds → score new items → detect spikes → raise alerts → deliver.

Every run is recorded in the ``jobrun`` table (kind ``alerts``: start, end, items, alerts,
error), whether it was started by the scheduler or by ``infinstruct alerts run-once``.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import TypedDict

from infinstruct.alerts.alerting import raise_alerts
from infinstruct.alerts.delivery import deliver_due
from infinstruct.alerts.feeds import FeedPoll, FeedReader, poll_feeds
from infinstruct.alerts.scoring import load_scorer, model_version_id, score_new_items
from infinstruct.core.jobs import create_job, finish_job, update_job
from infinstruct.core.protocols import SentimentScorer
from infinstruct.core.settings import Settings
from infinstruct.core.tables._columns import utcnow

log = logging.getLogger(__name__)

JOB_KIND = "alerts"


class AlertsRunReport(TypedDict):
    """``infinstruct alerts run-once --json``, also the run's ``jobrun`` result."""

    run_id: int
    now: str
    model: str
    feeds: list[FeedPoll]
    items: int
    remaining: int
    topics: int
    spikes: int
    alerts: list[int]  # the ids of the alerts this run created
    extended: int
    muted: int
    delivered: int
    retrying: int
    failed_deliveries: int


class DeliveryPass(TypedDict):
    sent: int
    retrying: int
    failed: int


def run_once(
    settings: Settings,
    *,
    reader: FeedReader | None,
    scorer: SentimentScorer | None = None,
    now: datetime | None = None,
    deliver: bool = True,
    trigger: str = "cli",
) -> AlertsRunReport:
    """Do one full run and return its report; the run is recorded whatever happens.

    ``now`` replays the detection at another moment (backfills, tests on dated captures);
    the scorer defaults to the registry's active sentiment model.
    """
    job = create_job(settings, kind=JOB_KIND, command=["alerts", "run-once", f"trigger={trigger}"])
    assert job.id is not None
    update_job(settings, job.id, pid=os.getpid(), message="polling feeds")
    try:
        scorer = scorer or load_scorer(settings)
        feeds = poll_feeds(settings, reader)
        update_job(settings, job.id, message="scoring new items")
        scored = score_new_items(settings, scorer)
        update_job(settings, job.id, message="detecting spikes", done=scored.scored, unit="items")
        moment = now or utcnow()
        alerts = raise_alerts(settings, version_id=model_version_id(settings, scorer.version), now=moment)
        delivered = deliver_due(settings) if deliver else None
    except BaseException as exc:
        finish_job(settings, job.id, status="failed", error=f"{exc.__class__.__name__}: {exc}")
        raise
    report: AlertsRunReport = {
        "run_id": job.id,
        "now": moment.isoformat(),
        "model": scored.version,
        "feeds": feeds,
        "items": scored.scored,
        "remaining": scored.remaining,
        "topics": alerts.checked,
        "spikes": alerts.spikes,
        "alerts": alerts.created,
        "extended": alerts.extended,
        "muted": alerts.muted,
        "delivered": delivered.sent if delivered else 0,
        "retrying": delivered.retried if delivered else 0,
        "failed_deliveries": delivered.failed if delivered else 0,
    }
    finish_job(settings, job.id, status="succeeded", result=dict(report))
    log.info(
        "alerts run %d: %d items, %d new alerts, %d delivered",
        job.id,
        scored.scored,
        len(alerts.created),
        report["delivered"],
    )
    return report


def run_deliveries(settings: Settings) -> DeliveryPass:
    """One outbox pass (the scheduler runs it often, so retries keep their backoff)."""
    report = deliver_due(settings)
    return {"sent": report.sent, "retrying": report.retried, "failed": report.failed}
