"""What a user follows (watchlist entries with their rules) and where alerts reach them.

Everything here is owned: every call names the user, and a user can only read or change
their own rows (another user's id reads as "not found", which leaks nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from infinstruct.alerts.detector import DetectorParams
from infinstruct.alerts.topics import normalise_topic
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import AlertChannel, User, Watchlist
from infinstruct.core.tables._columns import utcnow

CHANNEL_KINDS = ("inapp", "webhook", "email")
#: The user whose watchlist every analyst sees until they save a topic of their own.
DEFAULT_WATCHLIST_USER = "default-watchlist"
RULE_KEYS = frozenset(DetectorParams.__dataclass_fields__) | {"cooldown_hours"}


def user_id(session: Session, username: str) -> int:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.id is None:
        raise NotFoundError(f"no user {username!r}; create one with `infinstruct users add {username}`")
    return user.id


def check_rules(rules: dict[str, Any]) -> dict[str, float]:
    unknown = sorted(set(rules) - RULE_KEYS)
    if unknown:
        raise InputError(
            f"unknown watchlist rule {unknown[0]!r}; known rules: {', '.join(sorted(RULE_KEYS))}"
        )
    out: dict[str, float] = {}
    for key, value in rules.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise InputError(f"watchlist rule {key} must be a number (got {value!r})") from None
        if out[key] < 0:
            raise InputError(f"watchlist rule {key} must be >= 0 (got {value!r})")
    return out


def add_watch(
    settings: Settings,
    username: str,
    topic: str,
    *,
    kind: str = "ticker",
    aliases: list[str] | None = None,
    rules: dict[str, Any] | None = None,
) -> Watchlist:
    """Add (or update the aliases and rules of) a watchlist entry of ``username``."""
    topic = normalise_topic(topic, kind)
    checked = check_rules(rules or {})
    with session_scope(settings) as session:
        uid = user_id(session, username)
        row = session.exec(
            select(Watchlist).where(Watchlist.user_id == uid, Watchlist.topic == topic)
        ).first()
        if row is None:
            row = Watchlist(user_id=uid, topic=topic, kind=kind)
        row.kind = kind
        if aliases is not None:  # None keeps the aliases an update does not mention
            row.aliases = sorted({a.strip() for a in aliases if a.strip()})
        row.rules = {**(row.rules or {}), **checked}
        session.add(row)
        session.flush()
        session.refresh(row)
        return row


def list_watches(settings: Settings, username: str) -> list[Watchlist]:
    with session_scope(settings) as session:
        uid = user_id(session, username)
        return list(
            session.exec(
                select(Watchlist).where(Watchlist.user_id == uid).order_by(col(Watchlist.topic))
            ).all()
        )


def _own_watch(session: Session, uid: int, topic: str) -> Watchlist:
    rows = session.exec(select(Watchlist).where(Watchlist.user_id == uid)).all()
    wanted = topic.strip().lstrip("$")
    for row in rows:
        if row.topic == wanted or row.topic.upper() == wanted.upper():
            return row
    raise NotFoundError(f"{topic!r} is not on your watchlist; see `infinstruct watchlist list --user NAME`")


def remove_watch(settings: Settings, username: str, topic: str) -> None:
    from infinstruct.core.tables import Alert

    with session_scope(settings) as session:
        row = _own_watch(session, user_id(session, username), topic)
        # Alerts outlive the entry that raised them; they just lose the link.
        for alert in session.exec(select(Alert).where(Alert.watchlist_id == row.id)).all():
            alert.watchlist_id = None
            session.add(alert)
        session.flush()
        session.delete(row)


def mute(
    settings: Settings, username: str, topic: str, *, hours: float, now: datetime | None = None
) -> Watchlist:
    """Silence a topic for ``hours`` (0 unmutes): no alert is raised while muted."""
    if hours < 0:
        raise InputError(f"--hours must be >= 0 (got {hours})")
    with session_scope(settings) as session:
        row = _own_watch(session, user_id(session, username), topic)
        row.muted_until = (now or utcnow()) + timedelta(hours=hours) if hours else None
        session.add(row)
        session.flush()
        session.refresh(row)
        return row


def add_channel(
    settings: Settings, username: str, kind: str, target: str = "", *, secret: str = ""
) -> AlertChannel:
    if kind not in CHANNEL_KINDS:
        raise InputError(f"channel kind must be one of {', '.join(CHANNEL_KINDS)} (got {kind!r})")
    if kind == "webhook" and not target.startswith(("http://", "https://")):
        raise InputError(f"a webhook channel needs an http(s) URL (got {target!r})")
    if kind == "webhook" and not secret:
        raise InputError("a webhook channel needs --secret: payloads are HMAC-signed with it")
    if kind == "email" and "@" not in target:
        raise InputError(f"an e-mail channel needs an address (got {target!r})")
    with session_scope(settings) as session:
        uid = user_id(session, username)
        channel = AlertChannel(user_id=uid, kind=kind, target=target, secret=secret)
        session.add(channel)
        session.flush()
        session.refresh(channel)
        return channel


def list_channels(settings: Settings, username: str) -> list[AlertChannel]:
    with session_scope(settings) as session:
        uid = user_id(session, username)
        return list(session.exec(select(AlertChannel).where(AlertChannel.user_id == uid)).all())


def remove_channel(settings: Settings, username: str, channel_id: int) -> None:
    from infinstruct.core.tables import Delivery

    with session_scope(settings) as session:
        uid = user_id(session, username)
        channel = session.get(AlertChannel, channel_id)
        if channel is None or channel.user_id != uid:
            raise NotFoundError(f"you have no channel {channel_id}; see `infinstruct alerts channels list`")
        if session.exec(select(Delivery).where(Delivery.channel_id == channel_id)).first() is not None:
            raise InputError(
                f"channel {channel_id} has delivery history, which is kept; point it elsewhere "
                "by adding a new channel instead"
            )
        session.delete(channel)


def ensure_inapp(session: Session, uid: int) -> AlertChannel:
    """Every user sees alerts in the app; the channel exists implicitly."""
    channel = session.exec(
        select(AlertChannel).where(AlertChannel.user_id == uid, AlertChannel.kind == "inapp")
    ).first()
    if channel is None:
        channel = AlertChannel(user_id=uid, kind="inapp")
        session.add(channel)
        session.flush()
    return channel
