"""A named lease in the database: at most one holder at a time, across processes and hosts.

Acquire and renew are one conditional UPDATE (``holder = me OR expires_at < now``), with an
INSERT for the first taker; the primary key makes two first takers collide, and exactly one
wins. Portable across SQLite and PostgreSQL, no advisory locks. Clocks of the workers must
agree to well within the lease length (NTP does that).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from infinstruct.core.db import get_engine
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Lease
from infinstruct.core.tables._columns import utcnow

_table = Lease.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table classes


def acquire(
    settings: Settings, name: str, holder: str, *, seconds: float, now: datetime | None = None
) -> bool:
    """Take or renew ``name`` for ``seconds``; True when ``holder`` has it now."""
    now = now or utcnow()
    expires = now + timedelta(seconds=seconds)
    engine = get_engine(settings)
    with engine.begin() as conn:
        taken = conn.execute(
            update(_table)
            .where(_table.c.name == name, or_(_table.c.holder == holder, _table.c.expires_at < now))
            .values(holder=holder, expires_at=expires)
        ).rowcount
    if taken == 1:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(insert(_table).values(name=name, holder=holder, expires_at=expires))
    except IntegrityError:
        return False  # someone holds it (or took it first just now)
    return True


def holds(settings: Settings, name: str, holder: str, *, now: datetime | None = None) -> bool:
    now = now or utcnow()
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(_table.c.holder, _table.c.expires_at).where(_table.c.name == name)).first()
    return row is not None and row.holder == holder and row.expires_at > now


def release(settings: Settings, name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so a standby need not wait for expiry."""
    with get_engine(settings).begin() as conn:
        conn.execute(delete(_table).where(_table.c.name == name, _table.c.holder == holder))


def current_holder(settings: Settings, name: str) -> str | None:
    with get_engine(settings).connect() as conn:
        row = conn.execute(select(_table.c.holder, _table.c.expires_at).where(_table.c.name == name)).first()
    return row.holder if row is not None and row.expires_at > utcnow() else None
