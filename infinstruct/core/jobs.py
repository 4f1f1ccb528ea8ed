"""Job runs: long jobs tracked in the ``jobrun`` table so the UI can watch and cancel them.

A job started from the UI runs as a subprocess of the CLI (``infinstruct ... --json``) with
``INFINSTRUCT_JOB_ID`` set; the subprocess reports progress into its row through
:class:`infinstruct.core.progress.Progress`, and the parent only reads the table.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import JobRun
from infinstruct.core.tables._columns import utcnow

log = logging.getLogger(__name__)

JOB_ID_ENV = "INFINSTRUCT_JOB_ID"
FINISHED = frozenset({"succeeded", "failed", "cancelled"})


def create_job(settings: Settings, *, kind: str, command: list[str]) -> JobRun:
    with session_scope(settings) as session:
        job = JobRun(kind=kind, command=command, status="queued")
        session.add(job)
        session.flush()
        session.refresh(job)
        return job


def launch_cli_job(
    settings: Settings,
    *,
    kind: str,
    args: list[str],
    json_result: bool = True,
    positional: Sequence[str] = (),
) -> JobRun:
    """Run ``infinstruct *args --json -- *positional`` in the background, tracked as a job run.

    ``json_result=False`` is for commands without ``--json`` (``serve``): they record no result.
    Values a user typed (a source path or URL) go in ``positional``: after ``--`` a value such
    as ``--help`` or ``--database-url=…`` stays an argument and never becomes an option.
    """
    command = [
        sys.executable,
        "-m",
        "infinstruct",
        *args,
        *(["--json"] if json_result else []),
        *(["--", *positional] if positional else []),
    ]
    job = create_job(settings, kind=kind, command=command)
    log_dir = settings.data_dir / "jobs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, JOB_ID_ENV: str(job.id), "INFINSTRUCT_DATA_DIR": str(settings.data_dir)}
    if settings.database.url:
        env["INFINSTRUCT_DATABASE__URL"] = settings.database.url
    with open(log_dir / f"{job.id}.log", "ab") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    with session_scope(settings) as session:
        row = session.get(JobRun, job.id)
        assert row is not None
        row.pid, row.status, row.started_at = proc.pid, "running", utcnow()
        session.add(row)
    return get_job(settings, job.id)  # type: ignore[arg-type]  # id is set after flush


def get_job(settings: Settings, job_id: int) -> JobRun:
    with session_scope(settings) as session:
        job = session.get(JobRun, job_id)
        if job is None:
            raise NotFoundError(f"no job run {job_id}; list them with `infinstruct jobs list`")
        return _refresh_liveness(settings, job)


def list_jobs(settings: Settings, *, limit: int = 50, kind: str | None = None) -> list[JobRun]:
    with session_scope(settings) as session:
        query = select(JobRun).order_by(col(JobRun.id).desc()).limit(limit)
        if kind:
            query = query.where(JobRun.kind == kind)
        return [_refresh_liveness(settings, j) for j in session.exec(query).all()]


def _refresh_liveness(settings: Settings, job: JobRun) -> JobRun:
    """A 'running' job whose process is gone died without reporting: say so."""
    if job.status == "running" and job.pid and not _pid_alive(job.pid):
        finish_job(settings, job.id, status="failed", error="process exited without reporting")  # type: ignore[arg-type]
        job.status = "failed"
    return job


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); /proc tells the truth on Linux.
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False
    return True


def update_job(settings: Settings, job_id: int, **fields: Any) -> None:
    with session_scope(settings) as session:
        job = session.get(JobRun, job_id)
        if job is None:
            return
        for key, value in fields.items():
            setattr(job, key, value)
        job.heartbeat_at = utcnow()
        if job.status == "queued":
            job.status, job.started_at = "running", job.started_at or utcnow()
        session.add(job)


def finish_job(
    settings: Settings, job_id: int, *, status: str, result: dict[str, Any] | None = None, error: str = ""
) -> None:
    if status not in FINISHED:
        raise InputError(f"job status must be one of {sorted(FINISHED)} (got {status!r})")
    with session_scope(settings) as session:
        job = session.get(JobRun, job_id)
        if job is None or job.status in FINISHED:
            return
        job.status, job.finished_at, job.error = status, utcnow(), error
        if result is not None:
            job.result = json.loads(json.dumps(result, default=str))
        session.add(job)


def cancel_job(settings: Settings, job_id: int) -> JobRun:
    """Stop a running job's whole process group and mark it cancelled."""
    job = get_job(settings, job_id)
    if job.status in FINISHED:
        raise InputError(f"job {job_id} already {job.status}; nothing to cancel")
    if job.pid and _pid_alive(job.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(job.pid, signal.SIGTERM)
    finish_job(settings, job_id, status="cancelled")
    return get_job(settings, job_id)


def current_job_id() -> int | None:
    """The job id this process reports to, when it was launched as a tracked job."""
    value = os.environ.get(JOB_ID_ENV)
    return int(value) if value and value.isdigit() else None
