"""The analyst dashboard's handlers for one user, plain data in and out (tested without a browser).

An analyst who has not set up a watchlist of their own sees the default one (the topics the
demo or an operator set for user ``DEFAULT_WATCHLIST_USER``) and its alerts, until they save
a topic of their own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from infinstruct.alerts import inbox, trends, watchlists
from infinstruct.core.errors import InfinstructError
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

ALERT_COLUMNS = ["id", "topic", "severity", "status", "negative share", "volume", "z", "window end"]
WATCH_COLUMNS = ["topic", "kind", "aliases", "rules", "muted until"]


class AnalystView:
    """The dashboard's handlers for one user, plain data in and out (tested without a browser)."""

    def __init__(self, settings: Settings, username: str) -> None:
        from infinstruct.core.db import session_scope

        with session_scope(settings) as session:
            watchlists.user_id(session, username)  # an unknown user fails here, not mid-page
        self.settings = settings
        self.username = username
        self.owner = _watch_owner(settings, username)

    @property
    def on_default(self) -> bool:
        """True while this analyst sees the default watchlist (they have none of their own)."""
        return self.owner != self.username

    def header(self) -> str:
        note = " (the default watchlist until you save a topic of your own)" if self.on_default else ""
        return f"## Sentiment alerts · {self.username}{note}"

    def run_status(self) -> str:
        """When the alert job last ran, how many items it scored, and when it runs next."""
        from infinstruct.core import jobs

        runs = jobs.list_jobs(self.settings, limit=1, kind="alerts")
        every = self.settings.scheduler.poll_minutes
        if not runs:
            return f"The alert job has not run yet. It runs every {every} minutes while the scheduler is on."
        run = runs[0]
        when = run.finished_at or run.started_at or run.created_at
        items = (run.result or {}).get("items", int(run.done))
        text = f"Alert job last ran {when:%Y-%m-%d %H:%M} UTC ({run.status}), scoring {items} new items."
        if self.settings.scheduler.run_in_serve and when is not None:
            from datetime import timedelta

            text += f" Next run: {when + timedelta(minutes=every):%Y-%m-%d %H:%M} UTC (every {every} min)."
        else:
            text += (
                f" Next run: when the scheduler runs (every {every} min; the server starts it with "
                "scheduler.run_in_serve, or an operator runs it)."
            )
        return text

    def empty_alerts_note(self, status: str = "open") -> str:
        """Why the alerts table is empty and what to do (blank when it has rows)."""
        if self.alerts(status):
            return ""
        if not self.topics():
            return (
                "No alerts: you follow no topics yet. Add a ticker, company or keyword on the Watchlist tab."
            )
        which = "" if status == "all" else f"{status} "
        return (
            f"No {which}alerts: no followed topic had a spike of negative news in the latest run. "
            "Trends shows each topic's daily share; lower z_threshold on the Watchlist tab to be told sooner."
        )

    def alerts(self, status: str = "open") -> list[list[Any]]:
        rows = inbox.list_alerts(self.settings, self.owner, status=status)
        return [
            [
                r["id"],
                r["topic"],
                r["severity"],
                r["status"],
                round(r["negative_share"], 3),
                r["volume"],
                round(r["zscore"], 2),
                r["window_end"][:16],
            ]
            for r in rows
        ]

    def headlines(self, alert_id: int | None) -> str:
        if not alert_id:
            return "Pick an alert to see the headlines that drove it."
        found = [
            r
            for r in inbox.list_alerts(self.settings, self.owner, status="all", headlines=20)
            if r["id"] == int(alert_id)
        ]
        if not found:
            raise InfinstructError(f"you have no alert {alert_id}")
        alert = found[0]
        lines = [
            f"### {alert['topic']}: {alert['severity']} — {alert['negative_share']:.0%} of "
            f"{alert['volume']} items negative (z = {alert['zscore']:.2f})"
        ]
        for h in alert["headlines"]:
            title = h["title"].replace("[", "(").replace("]", ")")
            lines.append(
                f"- [{title}]({h['link']}) · {h['published_at'][:16]}" if h["link"] else f"- {title}"
            )
        return "\n".join(lines)

    def acknowledge(self, alert_id: int | None) -> str:
        if not alert_id:
            raise InfinstructError("pick an alert id to acknowledge")
        inbox.acknowledge(self.settings, self.owner, int(alert_id))
        return f"alert {int(alert_id)} acknowledged"

    def watchlist(self) -> list[list[Any]]:
        return [
            [
                w.topic,
                w.kind,
                ", ".join(w.aliases),
                ", ".join(f"{k}={v:g}" for k, v in (w.rules or {}).items()),
                w.muted_until.isoformat()[:16] if w.muted_until else "",
            ]
            for w in watchlists.list_watches(self.settings, self.owner)
        ]

    def topics(self) -> list[str]:
        return [w.topic for w in watchlists.list_watches(self.settings, self.owner)]

    def save_watch(self, topic: str, kind: str, aliases: str, rules: str) -> str:
        parsed: dict[str, Any] = {}
        for pair in filter(None, (p.strip() for p in rules.split(","))):
            key, sep, value = pair.partition("=")
            if not sep:
                raise InfinstructError(f"rules are KEY=VALUE pairs separated by commas (got {pair!r})")
            parsed[key.strip()] = value.strip()
        row = watchlists.add_watch(
            self.settings,
            self.username,
            topic,
            kind=kind,
            aliases=[a for a in aliases.split(",") if a.strip()],
            rules=parsed,
        )
        return f"saved {row.topic}"

    def remove_watch(self, topic: str) -> str:
        watchlists.remove_watch(self.settings, self.username, topic)
        return f"removed {topic}"

    def mute(self, topic: str, hours: float) -> str:
        row = watchlists.mute(self.settings, self.username, topic, hours=float(hours))
        return (
            f"{row.topic} muted until {row.muted_until:%Y-%m-%d %H:%M} UTC"
            if row.muted_until
            else f"{row.topic} unmuted"
        )

    def trend(self, topic: str | None, days: int = 14) -> pd.DataFrame:
        import pandas as pd

        rows = trends.topic_trend(self.settings, self.owner, topic, days=int(days)) if topic else []
        frame = pd.DataFrame(rows, columns=["day", "items", "negative", "negative_share"])
        frame["day"] = pd.to_datetime(frame["day"])
        return frame


def _watch_owner(settings: Settings, username: str) -> str:
    """Whose watchlist ``username`` sees: their own, or the default one while they have none."""
    from sqlmodel import col, select

    from infinstruct.core.db import session_scope
    from infinstruct.core.tables import User, Watchlist

    with session_scope(settings) as session:
        own = session.exec(
            select(Watchlist.id)
            .join(User, col(User.id) == col(Watchlist.user_id))
            .where(User.username == username)
        ).first()
        if own is not None:
            return username
        default = session.exec(
            select(User.id).where(User.username == watchlists.DEFAULT_WATCHLIST_USER)
        ).first()
    return watchlists.DEFAULT_WATCHLIST_USER if default is not None else username
