"""Commands of the alerts part: ``infinstruct alerts ...``, ``watchlist ...`` and ``scheduler``.

Registered on the root app by ``infinstruct.cli``. Every per-user command takes
``--user NAME`` (until API logins carry the caller) and touches only that user's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from
from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from infinstruct.alerts.backtest_run import BacktestReport
    from infinstruct.alerts.feeds import FeedReader

ReaderFactory = Callable[[Settings], "FeedReader | None"]

UserOption = typer.Option(..., "--user", help="Whose alerts/watchlist (a username).")


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    from datetime import UTC

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--now must be an ISO-8601 time like 2019-07-24T00:00:00Z (got {value!r})"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rules(pairs: list[str]) -> dict[str, Any]:
    rules: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(f"--rule takes KEY=VALUE, e.g. z_threshold=3 (got {pair!r})")
        rules[key.strip()] = value.strip()
    return rules


def register(app: typer.Typer, eval_app: typer.Typer, *, feed_reader: ReaderFactory | None = None) -> None:
    """Add ``alerts``, ``watchlist`` and ``scheduler`` to the root app.

    ``feed_reader`` builds the connectors' feed reader for given settings; the root CLI
    passes ``services.build_feed_reader`` (``platform`` may not import the composition root).
    """

    def reader_for(settings: Settings) -> FeedReader | None:
        return feed_reader(settings) if feed_reader is not None else None

    alerts_app = typer.Typer(help="Sentiment alerts: runs, alerts, channels, feeds.", no_args_is_help=True)
    feeds_app = typer.Typer(help="The feeds the alerts poll.", no_args_is_help=True)
    channels_app = typer.Typer(help="Where a user's alerts are delivered.", no_args_is_help=True)
    watch_app = typer.Typer(help="What a user follows: tickers, companies, keywords.", no_args_is_help=True)
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(watch_app, name="watchlist")
    alerts_app.add_typer(feeds_app, name="feeds")
    alerts_app.add_typer(channels_app, name="channels")
    _register_runs(alerts_app, reader_for)
    _register_alert_states(alerts_app)
    _register_deliveries(alerts_app)
    _register_feeds(feeds_app)
    _register_channels(channels_app)
    _register_watchlist(watch_app)
    _register_scheduler(app, reader_for)


def _register_runs(alerts_app: typer.Typer, reader_for: ReaderFactory) -> None:
    """``alerts run-once`` and ``alerts backtest``: the two ways to run the pipeline."""

    @alerts_app.command("run-once")
    def run_once_cmd(
        ctx: typer.Context,
        now: str | None = typer.Option(None, "--now", help="Detect as of this ISO time (replays)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Poll feeds, score new items, detect spikes, raise and deliver alerts (one run)."""
        from infinstruct.alerts.pipeline import run_once
        from infinstruct.core.db import ensure_schema

        settings = settings_from(ctx)
        ensure_schema(settings)
        report = run_once(settings, reader=reader_for(settings), now=_when(now))
        emit(
            report,
            as_json=as_json,
            human=(
                f"run {report['run_id']}: {report['items']} new items scored with {report['model']}, "
                f"{report['spikes']} spikes, {len(report['alerts'])} new alerts, {report['delivered']} delivered"
            ),
        )

    @alerts_app.command("backtest")
    def backtest_cmd(
        ctx: typer.Context,
        data: str = typer.Option(
            ..., "--data", help="Dated news to replay: feed file/folder, Seeking Alpha CSV."
        ),
        plant: str | None = typer.Option(
            None, "--plant", help="Labelled headlines to plant as bursts (e.g. Twitter financial news CSV)."
        ),
        bursts: int = typer.Option(10, "--bursts", min=0, help="Negative bursts to plant."),
        controls: int | None = typer.Option(
            None, "--controls", min=0, help="Neutral/positive bursts of the same size (default: --bursts)."
        ),
        size: int = typer.Option(8, "--size", min=1, help="Headlines per burst."),
        span_hours: float = typer.Option(2.0, "--span-hours", min=0.1, help="Each burst's length."),
        poll_minutes: float | None = typer.Option(
            None, "--poll-minutes", help="Replay poll interval (default: scheduler.poll_minutes)."
        ),
        ticker: list[str] = typer.Option(
            [], "--ticker", help="Plant on these tickers (default: the data's most frequent)."
        ),
        seed: int = typer.Option(7, "--seed", help="Where and what is planted."),
        as_json: bool = JsonOption,
    ) -> None:
        """Replay dated news with planted bursts through the scoring and detector; recall, precision, delay."""
        from infinstruct.alerts.backtest_run import BacktestOptions, run_backtest
        from infinstruct.alerts.scoring import load_scorer

        settings = settings_from(ctx)
        options = BacktestOptions(
            bursts=bursts,
            controls=controls,
            size=size,
            span_hours=span_hours,
            poll_minutes=poll_minutes,
            tickers=tuple(t.lstrip("$").upper() for t in ticker),
            seed=seed,
        )
        report = run_backtest(
            settings,
            data,
            plant=plant,
            reader_factory=reader_for,
            scorer=load_scorer(settings),
            options=options,
        )
        emit(report, as_json=as_json, human=backtest_summary(report))


def _register_alert_states(alerts_app: typer.Typer) -> None:
    """``alerts list``, ``ack`` and ``mute``: a user's alerts and what they do with them."""

    @alerts_app.command("list")
    def list_cmd(
        ctx: typer.Context,
        user: str = UserOption,
        status: str = typer.Option("open", "--status", help="open, acknowledged or all."),
        as_json: bool = JsonOption,
    ) -> None:
        """The caller's alerts, newest first."""
        from infinstruct.alerts.inbox import list_alerts

        rows = list_alerts(settings_from(ctx), user, status=status)
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['id']:>5} {r['severity']:6} {r['status']:12} {r['topic']:12} {r['negative_share']:.0%} of "
                f"{r['volume']} negative  {r['window_end'][:16]}  {r['headlines'][0]['title'] if r['headlines'] else ''}"
                for r in rows
            )
            or "no alerts",
        )

    @alerts_app.command("ack")
    def ack_cmd(
        ctx: typer.Context, alert_id: int, user: str = UserOption, as_json: bool = JsonOption
    ) -> None:
        """Acknowledge one of the caller's alerts."""
        from infinstruct.alerts.inbox import acknowledge

        row = acknowledge(settings_from(ctx), user, alert_id)
        emit(row, as_json=as_json, human=f"alert {alert_id} acknowledged")

    @alerts_app.command("mute")
    def mute_cmd(
        ctx: typer.Context,
        topic: str,
        user: str = UserOption,
        hours: float = typer.Option(24.0, "--hours", help="How long; 0 unmutes."),
        as_json: bool = JsonOption,
    ) -> None:
        """Silence a watched topic for a while (no alerts are raised for it)."""
        from infinstruct.alerts.watchlists import mute

        row = mute(settings_from(ctx), user, topic, hours=hours)
        emit(
            row.model_dump(mode="json"),
            as_json=as_json,
            human=f"{row.topic} muted until {row.muted_until}" if row.muted_until else f"{row.topic} unmuted",
        )


def _register_deliveries(alerts_app: typer.Typer) -> None:
    """``alerts deliver``, ``deliveries`` and ``redeliver``: the delivery outbox."""

    @alerts_app.command("deliver")
    def deliver_cmd(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """Work the outbox once: send every delivery whose (re)try time has come."""
        from infinstruct.alerts.pipeline import run_deliveries

        report = run_deliveries(settings_from(ctx))
        emit(
            report,
            as_json=as_json,
            human=f"{report['sent']} sent, {report['retrying']} to retry, {report['failed']} failed",
        )

    @alerts_app.command("deliveries")
    def deliveries_cmd(ctx: typer.Context, user: str = UserOption, as_json: bool = JsonOption) -> None:
        """Delivery status of the caller's alerts, per channel."""
        from infinstruct.alerts.inbox import list_deliveries

        rows = list_deliveries(settings_from(ctx), user)
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['id']:>5} alert {r['alert_id']:>4} {r['kind']:8} {r['status']:8} attempts {r['attempts']} "
                f"{r['last_error'][:80]}"
                for r in rows
            )
            or "no deliveries",
        )

    @alerts_app.command("redeliver")
    def redeliver_cmd(
        ctx: typer.Context, delivery_id: int, user: str = UserOption, as_json: bool = JsonOption
    ) -> None:
        """Put one of the caller's failed deliveries back in the outbox."""
        from infinstruct.alerts.inbox import redeliver_own

        row = redeliver_own(settings_from(ctx), user, delivery_id)
        emit(row, as_json=as_json, human=f"delivery {delivery_id} queued again")


def _register_feeds(feeds_app: typer.Typer) -> None:
    """``alerts feeds add|list|remove``."""

    @feeds_app.command("add")
    def feeds_add(
        ctx: typer.Context,
        name: str,
        uri: str,
        kind: str = typer.Option(
            "rss", "--kind", help="rss (URL or file) or folder (CSV/JSONL drop folder)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Register a feed the alerts poll."""
        from infinstruct.alerts.feeds import add_feed

        feed = add_feed(settings_from(ctx), name, uri, kind=kind)
        emit(feed.model_dump(mode="json"), as_json=as_json, human=f"feed {feed.name} added ({feed.kind})")

    @feeds_app.command("list")
    def feeds_list(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """List the feeds."""
        from infinstruct.alerts.feeds import list_feeds

        rows = [f.model_dump(mode="json") for f in list_feeds(settings_from(ctx))]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['name']:20} {r['kind']:7} {r['uri']}  last polled {r['last_polled_at']}" for r in rows
            )
            or "no feeds; add one with `infinstruct alerts feeds add NAME URI`",
        )

    @feeds_app.command("remove")
    def feeds_remove(ctx: typer.Context, name: str, as_json: bool = JsonOption) -> None:
        """Stop polling a feed (its items stay in the store)."""
        from infinstruct.alerts.feeds import remove_feed

        remove_feed(settings_from(ctx), name)
        emit({"removed": name}, as_json=as_json, human=f"feed {name} removed")


def _register_channels(channels_app: typer.Typer) -> None:
    """``alerts channels add|list|remove``."""

    @channels_app.command("add")
    def channels_add(
        ctx: typer.Context,
        kind: str,
        target: str = typer.Argument("", help="Webhook URL or e-mail address."),
        user: str = UserOption,
        secret: str = typer.Option("", "--secret", help="Webhook HMAC secret."),
        as_json: bool = JsonOption,
    ) -> None:
        """Add a delivery channel: inapp, webhook URL (with --secret) or email address."""
        from infinstruct.alerts.watchlists import add_channel

        row = add_channel(settings_from(ctx), user, kind, target, secret=secret)
        emit(
            {**row.model_dump(mode="json"), "secret": "***" if row.secret else ""},
            as_json=as_json,
            human=f"channel {row.id} ({row.kind} {row.target}) added",
        )

    @channels_app.command("list")
    def channels_list(ctx: typer.Context, user: str = UserOption, as_json: bool = JsonOption) -> None:
        """The caller's channels (secrets hidden)."""
        from infinstruct.alerts.watchlists import list_channels

        rows = [
            {**c.model_dump(mode="json"), "secret": "***" if c.secret else ""}
            for c in list_channels(settings_from(ctx), user)
        ]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(f"{r['id']:>4} {r['kind']:8} {r['target']}" for r in rows)
            or "no channels (alerts still show in the app)",
        )

    @channels_app.command("remove")
    def channels_remove(
        ctx: typer.Context, channel_id: int, user: str = UserOption, as_json: bool = JsonOption
    ) -> None:
        """Remove one of the caller's channels (one without delivery history)."""
        from infinstruct.alerts.watchlists import remove_channel

        remove_channel(settings_from(ctx), user, channel_id)
        emit({"removed": channel_id}, as_json=as_json, human=f"channel {channel_id} removed")


def _register_watchlist(watch_app: typer.Typer) -> None:
    """``watchlist add|list|remove``."""

    @watch_app.command("add")
    def watch_add(
        ctx: typer.Context,
        topic: str,
        user: str = UserOption,
        kind: str = typer.Option("ticker", "--kind", help="ticker, company or keyword."),
        alias: list[str] = typer.Option([], "--alias", help="Another name (repeatable; Chinese too)."),
        rule: list[str] = typer.Option([], "--rule", help="Own detector rule KEY=VALUE, e.g. z_threshold=3."),
        as_json: bool = JsonOption,
    ) -> None:
        """Follow a ticker, company (with aliases) or keyword; again to update it."""
        from infinstruct.alerts.watchlists import add_watch

        row = add_watch(settings_from(ctx), user, topic, kind=kind, aliases=alias or None, rules=_rules(rule))
        emit(row.model_dump(mode="json"), as_json=as_json, human=f"watching {row.topic} ({row.kind})")

    @watch_app.command("list")
    def watch_list(ctx: typer.Context, user: str = UserOption, as_json: bool = JsonOption) -> None:
        """What the user follows."""
        from infinstruct.alerts.watchlists import list_watches

        rows = [w.model_dump(mode="json") for w in list_watches(settings_from(ctx), user)]
        emit(
            rows,
            as_json=as_json,
            human="\n".join(
                f"{r['topic']:16} {r['kind']:8} aliases {', '.join(r['aliases']) or '-'}  rules {r['rules'] or '-'}"
                + (f"  muted until {r['muted_until']}" if r["muted_until"] else "")
                for r in rows
            )
            or "nothing watched; add with `infinstruct watchlist add TICKER --user NAME`",
        )

    @watch_app.command("remove")
    def watch_remove(
        ctx: typer.Context, topic: str, user: str = UserOption, as_json: bool = JsonOption
    ) -> None:
        """Stop following a topic (its alerts are kept)."""
        from infinstruct.alerts.watchlists import remove_watch

        remove_watch(settings_from(ctx), user, topic)
        emit({"removed": topic}, as_json=as_json, human=f"{topic} removed")


def _register_scheduler(app: typer.Typer, reader_for: ReaderFactory) -> None:
    """``scheduler``: the long-running alerts worker."""

    @app.command("scheduler")
    def scheduler_cmd(ctx: typer.Context) -> None:
        """Run the alerts scheduler until stopped (one leader per database, others stand by)."""
        import signal

        from infinstruct.alerts.scheduler import Worker
        from infinstruct.core.db import ensure_schema

        settings = settings_from(ctx)
        ensure_schema(settings)
        worker = Worker(settings, reader=lambda: reader_for(settings)).start()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: worker.request_stop())
        typer.echo(f"scheduler {worker.holder} running; Ctrl-C stops it")
        try:
            worker.wait()
        finally:
            worker.stop()


def backtest_summary(r: BacktestReport) -> str:
    """Three lines of a backtest report for people (`--json` gives all of it)."""

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    return "\n".join(
        [
            f"{r['background_items']} items {r['from'][:10]}..{r['to'][:10]} + {r['planted_items']} planted, "
            f"scored by {r['model']} ({r['tickers']} tickers, {r['weeks']} weeks)",
            f"negative bursts detected: {r['detected']}/{r['negative_bursts']} (recall {pct(r['recall'])}), "
            f"median delay {r['median_delay_min']} min",
            f"alerts: {r['alerts']} (precision {pct(r['precision'])}); false alerts {r['false_alerts']} = "
            f"{r['false_per_ticker_week']} per ticker-week; control bursts alerted "
            f"{r['controls_alerted']}/{r['control_bursts']}",
        ]
    )
