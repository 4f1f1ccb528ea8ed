"""The outbox against real local receivers: a webhook that fails first, and an SMTP sink."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from infinstruct.alerts.alerting import raise_alerts
from infinstruct.alerts.delivery import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    deliver_due,
    verify,
)
from infinstruct.alerts.inbox import list_deliveries, redeliver_own
from infinstruct.alerts.watchlists import add_channel, add_watch
from infinstruct.core.db import session_scope
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import Delivery
from infinstruct.core.tables._columns import utcnow
from tests.alerts.conftest import NOW, NewsStore, plant, twitter_headlines
from tests.alerts.receivers import smtp_sink, webhook_server

SECRET = "s3cret-for-tests"


def _fast(settings: Settings, port: int, **alerts: object) -> Settings:
    """The same store with millisecond backoff and the test's SMTP port."""
    return load_settings(
        data_dir=settings.data_dir,
        alerts={
            "backoff_s": 0.05,
            "backoff_max_s": 0.2,
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            **alerts,
        },
    )


def _drain(settings: Settings, timeout_s: float = 30.0) -> None:
    """Deliver until nothing is pending (retries are due after a short backoff), with a deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        deliver_due(settings)
        with session_scope(settings) as session:
            if not session.exec(select(Delivery).where(Delivery.status == "pending")).first():
                return
        time.sleep(0.06)


@pytest.mark.slow
def test_webhook_retries_then_delivers_once_and_email_arrives(
    store: NewsStore, users: dict[str, int]
) -> None:
    with webhook_server(fail_first=2) as hook, smtp_sink() as mailbox:
        settings = _fast(store.settings, mailbox.port)
        add_watch(settings, "alice", "ACME")
        add_channel(settings, "alice", "webhook", hook.url, secret=SECRET)
        add_channel(settings, "alice", "email", "alice@example.test")
        plant(store, "ACME", twitter_headlines("negative", 8), "negative", end=NOW)
        created = raise_alerts(settings, version_id=store.version_id, now=NOW).created
        assert len(created) == 1
        _drain(settings)

    assert [r["status"] for r in hook.requests] == [500, 500, 200]  # failed twice, retried, delivered
    accepted = hook.accepted[0]
    headers = {k.lower(): v for k, v in accepted["headers"].items()}
    assert verify(
        SECRET, headers[TIMESTAMP_HEADER.lower()], accepted["body"], headers[SIGNATURE_HEADER.lower()]
    )
    assert not verify(
        "wrong-secret", headers[TIMESTAMP_HEADER.lower()], accepted["body"], headers[SIGNATURE_HEADER.lower()]
    )
    payload = json.loads(accepted["body"])
    assert payload["alert_id"] == created[0] and payload["topic"] == "ACME" and len(payload["headlines"]) == 8
    assert headers[DELIVERY_HEADER.lower()] == str(payload["delivery_id"])

    assert len(mailbox.messages) == 1
    mail = mailbox.messages[0]
    assert mail["To"] == "alice@example.test" and "ACME" in mail["Subject"]
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes) and b"Headlines:" in body

    rows = {r["kind"]: r for r in list_deliveries(settings, "alice")}
    assert {k: (r["status"], r["attempts"]) for k, r in rows.items()} == {
        "webhook": ("sent", 3),
        "email": ("sent", 1),
        "inapp": ("sent", 1),
    }
    assert list_deliveries(settings, "bob") == []


def test_unreachable_channel_fails_after_max_attempts_and_can_be_requeued(
    store: NewsStore, users: dict[str, int]
) -> None:
    settings = _fast(store.settings, 1, webhook_max_attempts=2)
    add_watch(settings, "bob", "ACME")
    channel = add_channel(settings, "bob", "email", "bob@example.test")  # nothing listens on port 1
    plant(store, "ACME", [f"ACME warns on revenue, part {i}" for i in range(8)], "negative", end=NOW)
    raise_alerts(settings, version_id=store.version_id, now=NOW)
    _drain(settings)
    failed = [r for r in list_deliveries(settings, "bob") if r["channel_id"] == channel.id][0]
    assert failed["status"] == "failed" and failed["attempts"] == 2 and "port" in failed["last_error"]
    with pytest.raises(Exception, match="no delivery"):
        redeliver_own(settings, "alice", failed["id"])
    again = redeliver_own(settings, "bob", failed["id"])
    assert again["status"] == "pending" and again["attempts"] == 0
    # The claim keeps two outbox workers from sending one row at once: only the first wins.
    from infinstruct.alerts.delivery import _claim

    moment = utcnow() + timedelta(seconds=1)
    assert _claim(settings, failed["id"], moment) and not _claim(settings, failed["id"], moment)
