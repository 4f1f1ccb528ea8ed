"""The analyst dashboard (Gradio): the caller's open alerts with the headlines behind them,
per-topic sentiment trends, the watchlist and rule editor, acknowledge and mute.

One mounted app serves every analyst: each handler resolves the caller from the request
(``request.username``, set by the login layer's ``auth_dependency``), never from a user
fixed when the page was built. No business logic here: handlers call
``infinstruct.platform.alerts`` and turn domain errors into ``gr.Error`` (the UI boundary).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infinstruct.platform.alerts import inbox, trends, watchlists
from infinstruct.platform.errors import AuthError, InfinstructError
from infinstruct.platform.settings import Settings

if TYPE_CHECKING:
    import gradio as gr
    import pandas as pd

log = logging.getLogger(__name__)

ALERT_COLUMNS = ["id", "topic", "severity", "status", "negative share", "volume", "z", "window end"]
WATCH_COLUMNS = ["topic", "kind", "aliases", "rules", "muted until"]


class AnalystView:
    """The dashboard's handlers for one user, plain data in and out (tested without a browser)."""

    def __init__(self, settings: Settings, username: str) -> None:
        from infinstruct.platform.db import session_scope

        with session_scope(settings) as session:
            watchlists.user_id(session, username)  # an unknown user fails here, not mid-page
        self.settings = settings
        self.username = username

    def header(self) -> str:
        return f"## Sentiment alerts · {self.username}"

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


def caller(request: Any) -> str:
    """The logged-in username of a Gradio request (the mount's ``auth_dependency`` sets it)."""
    username = getattr(request, "username", None)
    if not username:
        raise AuthError("log in as an analyst at /login?next=/analyst/ to see your alerts")
    return str(username)


def per_caller(
    settings: Settings, action: Callable[[AnalystView], Callable[..., Any]], arity: int
) -> Callable[..., Any]:
    """A Gradio handler taking ``arity`` component values, run as the request's user.

    Gradio injects the request into a positional parameter annotated ``gr.Request``; the
    signature is built explicitly because this module cannot name ``gr.Request`` at import
    time (gradio is imported lazily, and string annotations would not resolve).
    """
    import gradio as gr

    def handler(*args: Any) -> Any:
        *values, request = args
        try:
            return action(AnalystView(settings, caller(request)))(*values)
        except InfinstructError as exc:  # the UI boundary
            raise gr.Error(str(exc)) from exc

    params = [inspect.Parameter(f"value{i}", inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in range(arity)]
    params.append(
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
    )
    handler.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # read by gradio
    handler.__annotations__ = {"request": gr.Request}
    return handler


def build_analyst_app(settings: Settings) -> gr.Blocks:
    """The dashboard; whose alerts it shows is decided per request by the login."""
    import gradio as gr

    def on(action: Callable[[AnalystView], Callable[..., Any]], arity: int = 0) -> Callable[..., Any]:
        return per_caller(settings, action, arity)

    def topic_choices(view: AnalystView) -> Callable[[], Any]:
        return lambda: gr.Dropdown(choices=view.topics(), value=None)

    with gr.Blocks(title="infinstruct · analyst") as app:
        header = gr.Markdown("## Sentiment alerts")
        with gr.Tab("Alerts"):
            status = gr.Radio(["open", "acknowledged", "all"], value="open", label="Status")
            table = gr.Dataframe(headers=ALERT_COLUMNS, interactive=False, label="Alerts", elem_id="alerts")
            with gr.Row():
                alert_id = gr.Number(label="Alert id", precision=0, elem_id="alert-id")
                show = gr.Button("Show headlines")
                ack = gr.Button("Acknowledge", variant="primary")
            details = gr.Markdown(elem_id="alert-details")
            status.change(on(lambda v: v.alerts, 1), status, table)
            show.click(on(lambda v: v.headlines, 1), alert_id, details)
            ack.click(on(lambda v: v.acknowledge, 1), alert_id, details).then(
                on(lambda v: v.alerts, 1), status, table
            )
        with gr.Tab("Trends"):
            with gr.Row():
                topic = gr.Dropdown([], label="Topic")
                days = gr.Slider(3, 90, value=14, step=1, label="Days")
            share = gr.LinePlot(x="day", y="negative_share", title="Negative share per day")
            volume = gr.BarPlot(x="day", y="items", title="Items per day")
            for trigger in (topic.change, days.change):
                trigger(on(lambda v: v.trend, 2), [topic, days], share).then(
                    on(lambda v: v.trend, 2), [topic, days], volume
                )
        with gr.Tab("Watchlist"):
            watch_table = gr.Dataframe(headers=WATCH_COLUMNS, interactive=False)
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
            save.click(on(lambda v: v.save_watch, 4), [w_topic, w_kind, w_aliases, w_rules], note)
            remove.click(on(lambda v: v.remove_watch, 1), w_topic, note)
            mute.click(on(lambda v: v.mute, 2), [w_topic, hours], note)
            for button in (save, remove, mute):
                button.click(on(lambda v: v.watchlist), None, watch_table).then(
                    on(topic_choices), None, topic
                )
        # Every page load fills the page for whoever opened it.
        app.load(on(lambda v: v.header), None, header)
        app.load(on(lambda v: v.alerts, 1), status, table)
        app.load(on(lambda v: v.watchlist), None, watch_table)
        app.load(on(topic_choices), None, topic)
    return app
