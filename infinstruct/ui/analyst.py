"""The analyst dashboard (Gradio): one user's open alerts with the headlines behind them,
per-topic sentiment trends, the watchlist and rule editor, acknowledge and mute.

No business logic here: every handler calls ``infinstruct.platform.alerts`` and turns
domain errors into ``gr.Error`` (the UI boundary). The page is built for one user id; the
login layer decides whose it is and mounts it at ``/analyst/``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from infinstruct.platform.alerts import inbox, trends, watchlists
from infinstruct.platform.errors import InfinstructError
from infinstruct.platform.settings import Settings

if TYPE_CHECKING:
    import gradio as gr
    import pandas as pd

log = logging.getLogger(__name__)

ALERT_COLUMNS = ["id", "topic", "severity", "status", "negative share", "volume", "z", "window end"]
WATCH_COLUMNS = ["topic", "kind", "aliases", "rules", "muted until"]


class AnalystView:
    """The dashboard's handlers for one user, plain data in and out (tested without a browser)."""

    def __init__(self, settings: Settings, user_id: int) -> None:
        self.settings = settings
        self.username = inbox.username_of(settings, user_id)

    def alerts(self, status: str = "open") -> list[list[Any]]:
        rows = inbox.list_alerts(self.settings, self.username, status=status)
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
            for r in inbox.list_alerts(self.settings, self.username, status="all", headlines=20)
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
        inbox.acknowledge(self.settings, self.username, int(alert_id))
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
            for w in watchlists.list_watches(self.settings, self.username)
        ]

    def topics(self) -> list[str]:
        return [w.topic for w in watchlists.list_watches(self.settings, self.username)]

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

        rows = trends.topic_trend(self.settings, self.username, topic, days=int(days)) if topic else []
        frame = pd.DataFrame(rows, columns=["day", "items", "negative", "negative_share"])
        frame["day"] = pd.to_datetime(frame["day"])
        return frame


def _guard(fn: Any) -> Any:
    """The UI boundary: domain errors become a visible ``gr.Error``."""
    import functools

    import gradio as gr

    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        try:
            return fn(*args)
        except InfinstructError as exc:
            raise gr.Error(str(exc)) from exc

    return wrapped


def build_analyst_app(settings: Settings, user_id: int) -> gr.Blocks:
    """The dashboard of user ``user_id`` (the caller's id after login)."""
    import gradio as gr

    view = AnalystView(settings, user_id)
    with gr.Blocks(title="infinstruct · analyst") as app:
        gr.Markdown(f"## Sentiment alerts · {view.username}")
        with gr.Tab("Alerts"):
            status = gr.Radio(["open", "acknowledged", "all"], value="open", label="Status")
            table = gr.Dataframe(
                headers=ALERT_COLUMNS, value=view.alerts(), interactive=False, label="Alerts"
            )
            with gr.Row():
                alert_id = gr.Number(label="Alert id", precision=0)
                show = gr.Button("Show headlines")
                ack = gr.Button("Acknowledge", variant="primary")
            details = gr.Markdown()
            status.change(_guard(view.alerts), status, table)
            show.click(_guard(view.headlines), alert_id, details)
            ack.click(_guard(view.acknowledge), alert_id, details).then(_guard(view.alerts), status, table)
        with gr.Tab("Trends"):
            with gr.Row():
                topic = gr.Dropdown(view.topics(), label="Topic")
                days = gr.Slider(3, 90, value=14, step=1, label="Days")
            share = gr.LinePlot(x="day", y="negative_share", title="Negative share per day")
            volume = gr.BarPlot(x="day", y="items", title="Items per day")
            for trigger in (topic.change, days.change):
                trigger(_guard(view.trend), [topic, days], share).then(
                    _guard(view.trend), [topic, days], volume
                )
        with gr.Tab("Watchlist"):
            watch_table = gr.Dataframe(headers=WATCH_COLUMNS, value=view.watchlist(), interactive=False)
            with gr.Row():
                w_topic = gr.Textbox(label="Topic (ticker, company or keyword)")
                w_kind = gr.Dropdown(["ticker", "company", "keyword"], value="ticker", label="Kind")
                w_aliases = gr.Textbox(label="Aliases (comma-separated, Chinese too)")
                w_rules = gr.Textbox(label="Rules, e.g. z_threshold=3, min_count=8")
            with gr.Row():
                save = gr.Button("Save", variant="primary")
                remove = gr.Button("Remove")
                hours = gr.Number(value=24, label="Mute hours (0 unmutes)")
                mute = gr.Button("Mute")
            note = gr.Markdown()
            save.click(_guard(view.save_watch), [w_topic, w_kind, w_aliases, w_rules], note)
            remove.click(_guard(view.remove_watch), w_topic, note)
            mute.click(_guard(view.mute), [w_topic, hours], note)
            for button in (save, remove, mute):
                button.click(_guard(view.watchlist), None, watch_table)
    return app
