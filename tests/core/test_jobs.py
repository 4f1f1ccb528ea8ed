from __future__ import annotations

import time

from infinstruct.core import jobs
from infinstruct.core.progress import Progress
from infinstruct.core.settings import Settings


def test_progress_is_mirrored_into_the_job_row(settings: Settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    job = jobs.create_job(settings, kind="test", command=["x"])
    monkeypatch.setenv(jobs.JOB_ID_ENV, str(job.id))
    with Progress(settings, total=10, unit="rec", desc="load", show=False, db_every_s=0) as bar:
        for _ in range(10):
            bar.update(1)
    row = jobs.get_job(settings, job.id)  # type: ignore[arg-type]
    assert (row.status, row.done, row.total, row.unit) == ("running", 10, 10, "rec")
    jobs.finish_job(settings, job.id, status="succeeded", result={"n": 10})  # type: ignore[arg-type]
    assert jobs.get_job(settings, job.id).result == {"n": 10}  # type: ignore[arg-type]


def test_a_cli_job_runs_in_the_background_and_can_be_cancelled(settings: Settings) -> None:
    # `serve` runs until stopped: a real long job. It takes no --json, so none is passed; the
    # job must still be running when cancelled, whatever the machine's speed.
    job = jobs.launch_cli_job(settings, kind="serve", args=["serve", "--port", "0"], json_result=False)
    assert job.status == "running" and job.pid
    assert jobs.get_job(settings, job.id).status == "running"  # type: ignore[arg-type]
    cancelled = jobs.cancel_job(settings, job.id)  # type: ignore[arg-type]
    assert cancelled.status == "cancelled"
    deadline = time.monotonic() + 20
    while jobs._pid_alive(job.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not jobs._pid_alive(job.pid)


def test_a_job_whose_process_died_is_reported_failed(settings: Settings) -> None:
    job = jobs.launch_cli_job(settings, kind="bad", args=["no-such-command"])
    deadline = time.monotonic() + 30
    while jobs.get_job(settings, job.id).status == "running" and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.3)
    assert jobs.get_job(settings, job.id).status == "failed"  # type: ignore[arg-type]


def test_a_finished_cli_job_records_its_json_result(settings: Settings) -> None:
    job = jobs.launch_cli_job(settings, kind="db", args=["db", "current"])
    deadline = time.monotonic() + 60
    while jobs.get_job(settings, job.id).status == "running" and time.monotonic() < deadline:  # type: ignore[arg-type]
        time.sleep(0.3)
    done = jobs.get_job(settings, job.id)  # type: ignore[arg-type]
    assert done.status == "succeeded", done
    assert done.result["current"] == done.result["head"]
