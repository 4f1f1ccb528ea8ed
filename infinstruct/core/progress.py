"""Progress for long jobs: a terminal bar with rate and ETA, mirrored into the job-run row."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from infinstruct.core.jobs import current_job_id, update_job
from infinstruct.core.settings import Settings


class Progress:
    """``with Progress(settings, total=n, unit="rec", desc="twcs") as p: p.update(k)``.

    The bar (tqdm) goes to stderr so ``--json`` stdout stays clean; the job-run row is
    written at most every ``db_every_s`` seconds so progress never slows the job down.
    """

    def __init__(
        self,
        settings: Settings | None,
        *,
        total: float | None = None,
        unit: str = "it",
        desc: str = "",
        show: bool = True,
        db_every_s: float = 1.0,
    ) -> None:
        from tqdm import tqdm

        self._settings = settings
        self._job_id = current_job_id() if settings is not None else None
        self._bar = tqdm(total=total, unit=unit, desc=desc, disable=not show, dynamic_ncols=True)
        self._unit, self._total, self._desc = unit, total, desc
        self._db_every_s, self._last_db = db_every_s, 0.0
        self.done = 0.0
        self._start = time.monotonic()

    def update(self, n: float = 1, **postfix: Any) -> None:
        self.done += n
        self._bar.update(n)
        if postfix:
            self._bar.set_postfix(postfix, refresh=False)
        self._report(force=False, message=" ".join(f"{k}={v}" for k, v in postfix.items()))

    def set_total(self, total: float) -> None:
        self._total = total
        self._bar.total = total
        self._bar.refresh()

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self._start
        return self.done / elapsed if elapsed > 0 else 0.0

    def _report(self, *, force: bool, message: str = "") -> None:
        if self._job_id is None or self._settings is None:
            return
        now = time.monotonic()
        if not force and now - self._last_db < self._db_every_s:
            return
        self._last_db = now
        update_job(
            self._settings,
            self._job_id,
            done=self.done,
            total=self._total,
            unit=self._unit,
            rate=self.rate,
            message=f"{self._desc} {message}".strip(),
        )

    def close(self) -> None:
        self._report(force=True)
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
