"""A user's view of their alerts and deliveries: list, acknowledge, re-queue.

Ownership is checked here once: another user's alert reads as "not found".
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from infinstruct.alerts.delivery import redeliver
from infinstruct.alerts.watchlists import user_id
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Alert, AlertChannel, Delivery, Document

STATUSES = ("open", "acknowledged", "all")


def _headlines(session: Session, doc_ids: list[str], limit: int) -> list[dict[str, Any]]:
    wanted = doc_ids[:limit]
    docs = {d.id: d for d in session.exec(select(Document).where(col(Document.id).in_(wanted))).all()}
    return [
        {
            "id": d.id,
            "title": d.title or d.text[:160],
            "link": d.meta.get("link", ""),
            "published_at": (d.published_at or d.created_at).isoformat(),
        }
        for d in (docs.get(i) for i in wanted)
        if d is not None
    ]


def alert_row(session: Session, alert: Alert, *, headlines: int = 10) -> dict[str, Any]:
    return {
        **alert.model_dump(mode="json"),
        "headlines": _headlines(session, list(alert.document_ids), headlines),
    }


def list_alerts(
    settings: Settings, username: str, *, status: str = "open", limit: int = 200, headlines: int = 10
) -> list[dict[str, Any]]:
    """The caller's alerts (newest first) with the headlines that drove them."""
    if status not in STATUSES:
        raise InputError(f"--status must be one of {', '.join(STATUSES)} (got {status!r})")
    with session_scope(settings) as session:
        uid = user_id(session, username)
        query = select(Alert).where(Alert.user_id == uid)
        if status != "all":
            query = query.where(Alert.status == status)
        alerts = session.exec(
            query.order_by(col(Alert.window_end).desc(), col(Alert.id).desc()).limit(limit)
        ).all()
        return [alert_row(session, a, headlines=headlines) for a in alerts]


def _own_alert(session: Session, uid: int, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or alert.user_id != uid:
        raise NotFoundError(f"you have no alert {alert_id}; see `infinstruct alerts list --user NAME`")
    return alert


def acknowledge(settings: Settings, username: str, alert_id: int) -> dict[str, Any]:
    with session_scope(settings) as session:
        alert = _own_alert(session, user_id(session, username), alert_id)
        alert.status = "acknowledged"
        session.add(alert)
        session.flush()
        return alert_row(session, alert)


def list_deliveries(settings: Settings, username: str, *, limit: int = 200) -> list[dict[str, Any]]:
    with session_scope(settings) as session:
        uid = user_id(session, username)
        rows = session.exec(
            select(Delivery, AlertChannel)
            .join(AlertChannel, col(AlertChannel.id) == col(Delivery.channel_id))
            .where(AlertChannel.user_id == uid)
            .order_by(col(Delivery.id).desc())
            .limit(limit)
        ).all()
        return [{**d.model_dump(mode="json"), "kind": c.kind, "target": c.target} for d, c in rows]


def redeliver_own(settings: Settings, username: str, delivery_id: int) -> dict[str, Any]:
    with session_scope(settings) as session:
        uid = user_id(session, username)
        row = session.get(Delivery, delivery_id)
        channel = session.get(AlertChannel, row.channel_id) if row is not None else None
        if row is None or channel is None or channel.user_id != uid:
            raise NotFoundError(f"you have no delivery {delivery_id}; see `infinstruct alerts deliveries`")
        if row.status == "sent":
            raise InputError(f"delivery {delivery_id} was sent at {row.delivered_at}; nothing to redeliver")
    return redeliver(settings, delivery_id).model_dump(mode="json")
