"""The alerts scheduler: APScheduler 3 with its job store in the platform database.

Several processes may run a :class:`Worker` (``infinstruct scheduler``, or each web
worker of ``serve``); a database lease decides which one is the leader. Only the leader
runs an APScheduler, so the job store is never worked by two schedulers at once (which
APScheduler's FAQ warns would run jobs twice); the others stand by and take over when
the leader stops (it releases the lease) or dies (the lease expires). Every job run also
checks the lease before it works (a fence against a leader that lost it while paused).

Jobs live in the ``apscheduler_jobs`` table with fixed ids, so a restart finds them with
their next run time: a run missed while no worker was up is caught up once on start
(coalescing) if it is late by less than ``scheduler.misfire_grace_s``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from infinstruct.alerts import lease
from infinstruct.alerts.feeds import FeedReader
from infinstruct.alerts.pipeline import run_deliveries, run_once
from infinstruct.alerts.scoring import load_scorer
from infinstruct.core.protocols import SentimentScorer
from infinstruct.core.settings import Settings

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
POLL_JOB = "alerts-poll"
DELIVER_JOB = "alerts-deliver"


def database_key(settings: Settings) -> str:
    return hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]


def run_job(kind: str, db_key: str) -> None:
    """The callable every stored job names (jobs are pickled into the store, so they carry a
    textual reference and strings, not the worker). It is never called itself: the leading
    worker's executor (``_worker_executor``) runs each job on that worker instead."""
    log.warning("job %s (database %s) fired outside a leading worker's executor; skipped", kind, db_key)


class _OnWorker:
    """A fired job as the executor runs it: the job's every attribute, but ``func`` calls the worker."""

    def __init__(self, job: Any, func: Callable[[str, str], None]) -> None:
        self._job = job
        self.func = func

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:  # APScheduler's "Running job ..." lines name the job
        return str(self._job)

    def __repr__(self) -> str:
        return repr(self._job)


def _stored_job(scheduler: Any, job_id: str) -> Any:
    """The stored job ``job_id``, or None when there is none or it cannot be restored.

    A job stored by an earlier release names its function by import path, and that path moved
    (``infinstruct.platform.alerts.scheduler:run_job`` before the layers split): restoring it
    raises LookupError, which would kill the lease thread and stop every schedule. It is
    replaced instead; only its next run time is lost.
    """
    try:
        return scheduler.get_job(job_id)
    except LookupError as exc:
        log.warning("stored job %s cannot be restored (%s); scheduling it afresh", job_id, exc)
        return None


def _worker_executor(worker: Worker) -> Any:
    """A thread pool that runs every stored job as ``worker.run(kind)``.

    Each leader's scheduler has its own executor holding its own worker, so a fired job finds
    its worker without a process-wide registry. The hook is ``_do_submit_job``, the method
    APScheduler's own executors implement; the job is wrapped, not changed, so the stored one
    keeps ``run_job`` (the store pickles it after the submit, to save the next run time).
    """
    from apscheduler.executors.pool import ThreadPoolExecutor

    def run_on_worker(kind: str, _db_key: str) -> None:
        worker.run(kind)

    class WorkerExecutor(ThreadPoolExecutor):
        def _do_submit_job(self, job: Any, run_times: Any) -> None:
            super()._do_submit_job(_OnWorker(job, run_on_worker), run_times)

    return WorkerExecutor(2)


class Worker:
    """One scheduler process's share: lease keeping, and the APScheduler while leading."""

    def __init__(
        self,
        settings: Settings,
        *,
        reader: Callable[[], FeedReader | None] = lambda: None,
        scorer: Callable[[], SentimentScorer | None] | None = None,
        poll_s: float | None = None,
        deliver_s: float | None = None,
        holder: str | None = None,
    ) -> None:
        self.settings = settings
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.poll_s = poll_s or settings.scheduler.poll_minutes * 60
        self.deliver_s = deliver_s or settings.scheduler.delivery_poll_s
        self._reader = reader
        self._scorer_factory = scorer
        self._scorer: SentimentScorer | None = None
        self._scheduler: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.key = database_key(settings)

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self._scheduler is not None

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self._keep_lease, name=f"lease-{self.holder}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._step_down()
        lease.release(self.settings, LEASE_NAME, self.holder)

    def request_stop(self) -> None:
        """Ask :meth:`wait` to return (safe from a signal handler)."""
        self._stop.set()

    def wait(self) -> None:
        """Block until :meth:`stop` (from a signal handler or another thread)."""
        while not self._stop.wait(1.0):
            pass

    def _keep_lease(self) -> None:
        period = max(self.settings.scheduler.lease_s / 3, 0.2)
        while not self._stop.is_set():
            try:
                held = lease.acquire(
                    self.settings, LEASE_NAME, self.holder, seconds=self.settings.scheduler.lease_s
                )
            except Exception:  # a database hiccup must not kill the worker
                log.exception("lease renewal failed; standing by")
                held = False
            if held and not self.leading:
                self._lead()
            elif not held and self.leading:
                log.warning("%s lost the scheduler lease; standing by", self.holder)
                self._step_down()
            self._stop.wait(period)

    def _lead(self) -> None:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        from infinstruct.core.db import get_engine

        scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=get_engine(self.settings))},
            executors={"default": _worker_executor(self)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": self.settings.scheduler.misfire_grace_s,
            },
            timezone="UTC",
        )
        scheduler.start(paused=True)
        for job_id, kind, seconds in (
            (POLL_JOB, "alerts", self.poll_s),
            (DELIVER_JOB, "deliver", self.deliver_s),
        ):
            trigger = IntervalTrigger(seconds=seconds, timezone="UTC")
            stored = _stored_job(scheduler, job_id)
            if stored is None:
                scheduler.add_job(
                    run_job, trigger, args=[kind, self.key], id=job_id, name=job_id, replace_existing=True
                )
            elif getattr(stored.trigger, "interval", None) != trigger.interval or list(stored.args) != [
                kind,
                self.key,
            ]:
                # A changed interval or database: reschedule; an unchanged job keeps its next run time.
                scheduler.add_job(
                    run_job, trigger, args=[kind, self.key], id=job_id, name=job_id, replace_existing=True
                )
        self._scheduler = scheduler
        scheduler.resume()
        log.info(
            "%s leads the scheduler (poll every %ss, outbox every %ss)",
            self.holder,
            self.poll_s,
            self.deliver_s,
        )

    def _step_down(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=True)

    # -- the jobs ----------------------------------------------------------------------------
    def run(self, kind: str) -> None:
        if not lease.holds(self.settings, LEASE_NAME, self.holder):
            log.warning("%s no longer holds the lease; job %s skipped", self.holder, kind)
            return
        try:
            if kind == "alerts":
                run_once(
                    self.settings,
                    reader=self._reader(),
                    scorer=self._current_scorer(),
                    trigger=f"scheduler:{self.holder}",
                )
            elif kind == "deliver":
                run_deliveries(self.settings)
            else:
                log.error("unknown scheduled job kind %r", kind)
        except Exception:  # the scheduled-job boundary: log, keep running
            log.exception("scheduled job %s failed (recorded in `infinstruct jobs list --kind alerts`)", kind)

    def _current_scorer(self) -> SentimentScorer | None:
        """The active scorer, loaded again only when another version became active."""
        from infinstruct.core.registry import active_version

        if self._scorer_factory is not None:
            return self._scorer_factory()
        active = active_version(self.settings, "sentiment")
        if active is None:
            return None  # run_once then records the run as failed, naming the recipe to train
        if self._scorer is None or self._scorer.version != active.name:
            self._scorer = load_scorer(self.settings)
        return self._scorer
