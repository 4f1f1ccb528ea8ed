"""The alerts scheduler inside the web server (``serve`` with ``scheduler.run_in_serve``).

Every web worker process starts a :class:`~infinstruct.alerts.scheduler.Worker`
when the app starts and stops it when the app shuts down; the database lease makes exactly
one of them the leader, so however many workers ``serve`` runs, each job runs once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from infinstruct.alerts.feeds import FeedReader
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)


def attach_scheduler(
    app: FastAPI, settings: Settings, *, reader: Callable[[], FeedReader | None] = lambda: None
) -> FastAPI:
    """Run a leader-elected scheduler worker for the app's lifetime, when the settings say so.

    Wraps the app's lifespan (the same way ``gr.mount_gradio_app`` adds its own), so it
    composes with the mounts; the worker is stopped, and its lease released, on shutdown.
    """
    if not settings.scheduler.run_in_serve:
        return app
    from infinstruct.alerts.scheduler import Worker

    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        async with outer(parent) as state:
            worker = Worker(settings, reader=reader).start()
            app.state.scheduler = worker
            log.info("scheduler worker %s started inside serve", worker.holder)
            try:
                yield state
            finally:
                # stop() joins threads and waits for a running job: keep the event loop free.
                await asyncio.to_thread(worker.stop)
                log.info("scheduler worker %s stopped", worker.holder)

    app.router.lifespan_context = lifespan
    return app
