"""The scheduler with a real APScheduler firing real jobs: one leader, restarts, failover.

Runs fail fast here (no sentiment model is active), which is itself part of the contract:
a failed run is recorded with its error and the scheduler keeps going. Counting the
recorded runs, and who ran them, is what these tests are about.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from infinstruct.alerts import lease
from infinstruct.alerts.scheduler import POLL_JOB, Worker
from infinstruct.core.db import get_engine, session_scope
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import JobRun
from tests.conftest import postgres_database


def _fast(settings: Settings) -> Settings:
    return load_settings(
        data_dir=settings.data_dir,
        database=settings.database.model_dump(),
        scheduler={"lease_s": 1, "misfire_grace_s": 60},
    )


def _runs(settings: Settings) -> list[JobRun]:
    with session_scope(settings) as session:
        return list(
            session.exec(select(JobRun).where(JobRun.kind == "alerts").order_by(col(JobRun.id))).all()
        )


def _holder(run: JobRun) -> str:
    return run.command[-1].split("scheduler:", 1)[-1]


def _wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture(scope="module")
def postgres_settings() -> Iterator[Settings]:
    """A migrated PostgreSQL database of its own (the server's URL from the environment)."""
    with postgres_database("alerts") as settings:
        yield settings


def test_lease_has_one_holder_until_it_expires_or_is_released(settings: Settings) -> None:
    assert lease.acquire(settings, "job", "a", seconds=60)
    assert not lease.acquire(settings, "job", "b", seconds=60)
    assert lease.acquire(settings, "job", "a", seconds=60)  # renewal
    assert lease.holds(settings, "job", "a") and not lease.holds(settings, "job", "b")
    lease.release(settings, "job", "a")
    assert lease.acquire(settings, "job", "b", seconds=0.2)
    _wait_for(lambda: lease.current_holder(settings, "job") is None, timeout=10)
    assert lease.acquire(settings, "job", "a", seconds=60)  # an expired lease is taken over


def _two_workers_run_each_job_once(settings: Settings) -> None:
    settings = _fast(settings)
    first = Worker(settings, poll_s=1, deliver_s=3600, holder="w1").start()
    second = Worker(settings, poll_s=1, deliver_s=3600, holder="w2").start()
    try:
        _wait_for(lambda: len(_runs(settings)) >= 3)
        assert [first.leading, second.leading].count(True) == 1
        leader, standby = (first, second) if first.leading else (second, first)
        runs = _runs(settings)
        assert {_holder(r) for r in runs} == {leader.holder}
        # A failed run is recorded with the fix and the scheduler keeps running.
        finished = [r for r in runs if r.status != "running"]  # the latest may still be going
        assert len(finished) >= 2
        assert all(r.status == "failed" and "infinstruct train sentiment-minilm" in r.error for r in finished)
        stamps = [r.created_at for r in runs]
        assert all((b - a).total_seconds() > 0.5 for a, b in zip(stamps, stamps[1:], strict=False)), stamps

        leader.stop()  # a clean stop releases the lease: the standby takes over
        before = len(_runs(settings))
        _wait_for(lambda: standby.leading and len(_runs(settings)) >= before + 2)
        later = _runs(settings)[before:]
        assert {_holder(r) for r in later} == {standby.holder}
    finally:
        first.stop()
        second.stop()


@pytest.mark.slow
def test_two_workers_on_sqlite_run_each_job_once(settings: Settings) -> None:
    _two_workers_run_each_job_once(settings)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_on_postgres_run_each_job_once(postgres_settings: Settings) -> None:
    _two_workers_run_each_job_once(postgres_settings)


@pytest.mark.slow
def test_a_restart_keeps_the_jobs_and_catches_a_missed_run_up_once(settings: Settings) -> None:
    settings = _fast(settings)
    worker = Worker(settings, poll_s=2, deliver_s=3600, holder="before").start()
    _wait_for(lambda: len(_runs(settings)) >= 1)
    worker.stop()
    with get_engine(settings).connect() as conn:
        stored = conn.execute(
            text("SELECT next_run_time FROM apscheduler_jobs WHERE id = :id"), {"id": POLL_JOB}
        ).scalar_one()
    time.sleep(max(stored - time.time(), 0) + 2.2)  # the next run is missed while nobody runs
    count = len(_runs(settings))

    restarted = Worker(settings, poll_s=2, deliver_s=3600, holder="after").start()
    started = time.monotonic()
    try:
        _wait_for(lambda: len(_runs(settings)) > count)
        caught_up_after = time.monotonic() - started
        time.sleep(0.5)
        after = [r for r in _runs(settings)[count:] if _holder(r) == "after"]
        assert len(after) == 1  # the missed run, once (coalesced), not once per missed interval
        # It ran on start from the persisted next run time, not one fresh interval later.
        assert caught_up_after < 2.0
        with get_engine(settings).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM apscheduler_jobs")).scalar_one() == 2
    finally:
        restarted.stop()


def test_a_job_stored_by_an_earlier_release_is_replaced_not_fatal(settings: Settings) -> None:
    """Jobs name their function by import path; a path that moved must not stop the schedules."""
    import pickle

    settings = _fast(settings)
    worker = Worker(settings, poll_s=2, deliver_s=3600, holder="old").start()
    _wait_for(lambda: len(_runs(settings)) >= 1)
    worker.stop()
    with get_engine(settings).begin() as conn:
        for job_id, blob in conn.execute(text("SELECT id, job_state FROM apscheduler_jobs")).all():
            state = pickle.loads(blob)
            state["func"] = "infinstruct.platform.alerts.scheduler:run_job"  # the pre-split path
            conn.execute(
                text("UPDATE apscheduler_jobs SET job_state = :s WHERE id = :id"),
                {"s": pickle.dumps(state), "id": job_id},
            )
    count = len(_runs(settings))
    upgraded = Worker(settings, poll_s=1, deliver_s=3600, holder="new").start()
    try:
        _wait_for(lambda: any(_holder(r) == "new" for r in _runs(settings)[count:]))
    finally:
        upgraded.stop()
