"""The analyst dashboard (Gradio): Alerts (with when the job ran and runs next; click an alert
for its headlines), Trends per topic, the Watchlist editor, and Log out."""

from collections.abc import Callable
from typing import Any

import gradio as gr

from infinstruct.core.settings import Settings
from infinstruct.ui.analyst.handlers import per_caller, picked_alert
from infinstruct.ui.analyst.view import AnalystView

ALERT_COLUMNS = ["id", "topic", "severity", "status", "negative share", "volume", "z", "window end"]
WATCH_COLUMNS = ["topic", "kind", "aliases", "rules", "muted until"]

Action = Callable[[AnalystView], Callable[..., Any]]


def _pick(evt: gr.SelectData) -> int | None:
    return picked_alert(evt)


def _alerts_tab(on: Callable[..., Any]) -> tuple[Any, Any, Any, Any]:
    run_status = gr.Markdown(elem_id="alerts-run")
    status = gr.Radio(["open", "acknowledged", "all"], value="open", label="Status")
    empty = gr.Markdown(elem_id="alerts-empty")
    table = gr.Dataframe(
        headers=ALERT_COLUMNS, interactive=False, label="Alerts — click one", elem_id="alerts"
    )
    alert_id = gr.State(None)
    with gr.Row():
        show = gr.Button("Show headlines")
        ack = gr.Button("Acknowledge", variant="primary")
    details = gr.Markdown("Click an alert to see the headlines that drove it.", elem_id="alert-details")
    status.change(on(lambda v: v.alerts, 1), status, table).then(
        on(lambda v: v.empty_alerts_note, 1), status, empty
    )
    table.select(_pick, None, alert_id).then(on(lambda v: v.headlines, 1), alert_id, details)
    show.click(on(lambda v: v.headlines, 1), alert_id, details)
    ack.click(on(lambda v: v.acknowledge, 1), alert_id, details).then(
        on(lambda v: v.alerts, 1), status, table
    )
    return run_status, status, table, empty


def _trends_tab(on: Callable[..., Any]) -> Any:
    with gr.Row():
        topic = gr.Dropdown([], label="Topic")
        days = gr.Slider(3, 90, value=14, step=1, label="Days")
    share = gr.LinePlot(x="day", y="negative_share", title="Negative share per day")
    volume = gr.BarPlot(x="day", y="items", title="Items per day")
    for trigger in (topic.change, days.change):
        trigger(on(lambda v: v.trend, 2), [topic, days], share).then(
            on(lambda v: v.trend, 2), [topic, days], volume
        )
    return topic


def _watchlist_tab(on: Callable[..., Any], topic: Any) -> Any:
    watch_table = gr.Dataframe(headers=WATCH_COLUMNS, interactive=False)
    with gr.Row():
        w_topic = gr.Textbox(label="Topic (ticker, company or keyword)")
        w_kind = gr.Dropdown(["ticker", "company", "keyword"], value="ticker", label="Kind")
        w_aliases = gr.Textbox(label="Aliases (comma-separated, Chinese too)")
        w_rules = gr.Textbox(label="Rules, e.g. z_threshold=3, min_count=8")
    with gr.Row():
        save, remove = gr.Button("Save", variant="primary"), gr.Button("Remove")
        hours = gr.Number(value=24, label="Mute hours (0 unmutes)")
        mute = gr.Button("Mute")
    note = gr.Markdown()
    save.click(on(lambda v: v.save_watch, 4), [w_topic, w_kind, w_aliases, w_rules], note)
    remove.click(on(lambda v: v.remove_watch, 1), w_topic, note)
    mute.click(on(lambda v: v.mute, 2), [w_topic, hours], note)
    for button in (save, remove, mute):
        button.click(on(lambda v: v.watchlist), None, watch_table).then(on(_topic_choices), None, topic)
    return watch_table


def _topic_choices(view: AnalystView) -> Callable[[], Any]:
    def choices() -> Any:
        topics = view.topics()
        return gr.Dropdown(choices=topics, value=topics[0] if topics else None)

    return choices


def build_analyst_app(settings: Settings) -> gr.Blocks:
    """The dashboard; whose alerts it shows is decided per request by the login."""
    from infinstruct.ui.session import logout_button

    def on(action: Action, arity: int = 0) -> Callable[..., Any]:
        return per_caller(settings, action, arity)

    with gr.Blocks(title="infinstruct · analyst") as app:
        with gr.Row():
            header = gr.Markdown("## Sentiment alerts")
            logout_button()
        with gr.Tab("Alerts"):
            run_status, status, table, empty = _alerts_tab(on)
        with gr.Tab("Trends"):
            topic = _trends_tab(on)
        with gr.Tab("Watchlist"):
            watch_table = _watchlist_tab(on, topic)
        # Every page load fills the page for whoever opened it.
        app.load(on(lambda v: v.header), None, header)
        app.load(on(lambda v: v.run_status), None, run_status)
        app.load(on(lambda v: v.alerts, 1), status, table)
        app.load(on(lambda v: v.empty_alerts_note, 1), status, empty)
        app.load(on(lambda v: v.watchlist), None, watch_table)
        app.load(on(_topic_choices), None, topic)
    return app
