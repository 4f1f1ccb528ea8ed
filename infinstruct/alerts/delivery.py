"""The outbox worker: deliver due ``Delivery`` rows in-app, by webhook or by e-mail.

A row stays ``pending`` until a channel accepts it; each failure records the error, counts
the attempt and schedules the next one after an exponential backoff
(``alerts.backoff_s`` × 2^(attempt-1), at most ``alerts.backoff_max_s``). After
``alerts.webhook_max_attempts`` the row is ``failed`` (kept, visible, re-queued with
``infinstruct alerts redeliver``): a failed delivery is never silently dropped.

A row is claimed with one conditional UPDATE before it is sent, so two processes working
the outbox never send the same row at the same time. Delivery is at-least-once (a crash
after the receiver accepted but before the row was marked ``sent`` sends again); webhook
receivers de-duplicate on the ``X-Infinstruct-Delivery`` header.

Webhook signature: ``X-Infinstruct-Signature: sha256=HEX`` where ``HEX`` is the
HMAC-SHA256 with the channel's secret of ``"{X-Infinstruct-Timestamp}.{body}"``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from infinstruct.core.db import get_engine, session_scope
from infinstruct.core.errors import DeliveryError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Alert, AlertChannel, Delivery, Document, User
from infinstruct.core.tables._columns import utcnow

log = logging.getLogger(__name__)

#: How long a claimed row is hidden from other outbox workers while it is being sent.
CLAIM_S = 120
SIGNATURE_HEADER = "X-Infinstruct-Signature"
TIMESTAMP_HEADER = "X-Infinstruct-Timestamp"
DELIVERY_HEADER = "X-Infinstruct-Delivery"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (the tests use it): constant-time comparison of the signature."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def alert_payload(settings: Settings, alert_id: int) -> dict[str, Any]:
    """The JSON an alert is delivered as (webhook body, e-mail text, API)."""
    with session_scope(settings) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFoundError(f"no alert {alert_id}")
        user = session.get(User, alert.user_id)
        docs = {
            d.id: d
            for d in session.exec(select(Document).where(col(Document.id).in_(alert.document_ids))).all()
        }
    headlines = [
        {
            "id": d.id,
            "title": d.title or d.text[:160],
            "link": d.meta.get("link", ""),
            "published_at": (d.published_at or d.created_at).isoformat(),
        }
        for d in (docs.get(i) for i in alert.document_ids)
        if d is not None
    ]
    return {
        "alert_id": alert.id,
        "user": user.username if user else None,
        "topic": alert.topic,
        "severity": alert.severity,
        "negative_share": alert.negative_share,
        "volume": alert.volume,
        "zscore": alert.zscore,
        "window_start": alert.window_start.isoformat(),
        "window_end": alert.window_end.isoformat(),
        "status": alert.status,
        "headlines": headlines,
    }


def deliver_due(settings: Settings, *, now: datetime | None = None, limit: int = 200) -> DeliveryReport:
    """One pass over the outbox: every pending row whose time has come gets one attempt."""
    now = now or utcnow()
    with session_scope(settings) as session:
        due = session.exec(
            select(Delivery.id)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(col(Delivery.next_attempt_at))
            .limit(limit)
        ).all()
    report = DeliveryReport()
    for delivery_id in due:
        assert delivery_id is not None
        if _claim(settings, delivery_id, now):
            _attempt(settings, delivery_id, report)
    return report


def _claim(settings: Settings, delivery_id: int, now: datetime) -> bool:
    stmt = (
        update(Delivery)
        .where(
            col(Delivery.id) == delivery_id,
            col(Delivery.status) == "pending",
            col(Delivery.next_attempt_at) <= now,
        )
        .values(next_attempt_at=now + timedelta(seconds=CLAIM_S))
    )
    with get_engine(settings).begin() as conn:
        return bool(conn.execute(stmt).rowcount == 1)


def _attempt(settings: Settings, delivery_id: int, report: DeliveryReport) -> None:
    with session_scope(settings) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        channel = session.get(AlertChannel, row.channel_id)
        assert channel is not None
    error = ""
    try:
        payload = alert_payload(settings, row.alert_id)
        payload["delivery_id"] = delivery_id
        send(settings, channel, payload)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001  (a channel's failure is recorded, never lost)
        error = f"{exc.__class__.__name__}: {exc}"
    with session_scope(settings) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.attempts += 1
        if not error:
            row.status, row.delivered_at, row.last_error = "sent", utcnow(), ""
            report.sent += 1
        elif row.attempts >= settings.alerts.webhook_max_attempts:
            row.status, row.last_error = "failed", error
            report.failed += 1
            report.errors.append(f"delivery {delivery_id}: {error}")
            log.error(
                "delivery %d to %s failed for good after %d attempts: %s",
                delivery_id,
                channel.kind,
                row.attempts,
                error,
            )
        else:
            delay = min(settings.alerts.backoff_s * 2 ** (row.attempts - 1), settings.alerts.backoff_max_s)
            row.last_error, row.next_attempt_at = error, utcnow() + timedelta(seconds=delay)
            report.retried += 1
            log.warning(
                "delivery %d to %s failed (attempt %d, retry in %.1fs): %s",
                delivery_id,
                channel.kind,
                row.attempts,
                delay,
                error,
            )
        session.add(row)


def send(settings: Settings, channel: AlertChannel, payload: dict[str, Any]) -> None:
    if channel.kind == "inapp":
        return  # the alert row is what the app shows; recording the delivery is all there is
    if channel.kind == "webhook":
        _post_webhook(settings, channel, payload)
    elif channel.kind == "email":
        _send_email(settings, channel, payload)
    else:
        raise DeliveryError(f"channel {channel.id} has unknown kind {channel.kind!r}; remove and re-add it")


def _post_webhook(settings: Settings, channel: AlertChannel, payload: dict[str, Any]) -> None:
    import httpx

    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(channel.secret, stamp, body),
        DELIVERY_HEADER: str(payload["delivery_id"]),
    }
    try:
        response = httpx.post(
            channel.target, content=body, headers=headers, timeout=settings.alerts.webhook_timeout_s
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {channel.target} unreachable: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code >= 300:
        raise DeliveryError(
            f"webhook {channel.target} answered {response.status_code}: {response.text[:200]}"
        )


def _send_email(settings: Settings, channel: AlertChannel, payload: dict[str, Any]) -> None:
    cfg = settings.alerts
    message = EmailMessage()
    message["From"], message["To"] = cfg.smtp_from, channel.target
    message["Subject"] = (
        f"[infinstruct] negative news spike: {payload['topic']} ({payload['severity']}, "
        f"{payload['negative_share']:.0%} negative of {payload['volume']})"
    )
    lines = [f"- {h['title']} ({h['published_at']}) {h['link']}".rstrip() for h in payload["headlines"][:20]]
    message.set_content(
        f"Negative news about {payload['topic']} spiked between {payload['window_start']} and "
        f"{payload['window_end']}: {payload['negative_share']:.0%} of {payload['volume']} items negative "
        f"(z = {payload['zscore']:.2f}).\n\nHeadlines:\n" + "\n".join(lines) + "\n"
    )
    message["X-Infinstruct-Delivery"] = str(payload["delivery_id"])
    try:
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.smtp_timeout_s) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls()
            if cfg.smtp_username:
                smtp.login(cfg.smtp_username, cfg.smtp_password.get_secret_value())
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(
            f"e-mail to {channel.target} via {cfg.smtp_host}:{cfg.smtp_port} failed: {exc}; "
            "check alerts.smtp_host/smtp_port"
        ) from exc


def redeliver(settings: Settings, delivery_id: int) -> Delivery:
    """Put a ``failed`` delivery back in the outbox with a fresh attempt budget."""
    with session_scope(settings) as session:
        row = session.get(Delivery, delivery_id)
        if row is None:
            raise NotFoundError(f"no delivery {delivery_id}; see `infinstruct alerts deliveries`")
        row.status, row.attempts, row.next_attempt_at = "pending", 0, utcnow()
        session.add(row)
        session.flush()
        session.refresh(row)
        return row
