"""The scheduler inside the web app: started with it, one leader among workers, stopped with it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from infinstruct.alerts import lease
from infinstruct.alerts.scheduler import LEASE_NAME
from infinstruct.alerts.serve import attach_scheduler
from infinstruct.core.settings import Settings, load_settings
from infinstruct.server import build_api
from tests.alerts.test_scheduler import _wait_for


def _in_serve(settings: Settings, *, on: bool) -> Settings:
    return load_settings(data_dir=settings.data_dir, scheduler={"run_in_serve": on, "lease_s": 1})


def test_two_web_workers_elect_one_scheduler_leader_and_release_it_on_shutdown(settings: Settings) -> None:
    serving = _in_serve(settings, on=True)
    first = attach_scheduler(build_api(serving), serving)
    second = attach_scheduler(build_api(serving), serving)
    with TestClient(first) as one, TestClient(second) as two:
        assert one.get("/healthz").status_code == 200 and two.get("/healthz").status_code == 200
        workers = [first.state.scheduler, second.state.scheduler]
        _wait_for(lambda: any(w.leading for w in workers))
        leader = next(w for w in workers if w.leading)
        assert [w.leading for w in workers].count(True) == 1
        assert lease.current_holder(serving, LEASE_NAME) == leader.holder
    # Leaving the app's lifespan stops both workers and gives the lease back at once.
    assert not any(w.leading for w in workers)
    assert lease.current_holder(serving, LEASE_NAME) is None


def test_no_scheduler_unless_the_setting_asks_for_it(settings: Settings) -> None:
    plain = _in_serve(settings, on=False)
    app = attach_scheduler(build_api(plain), plain)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert not hasattr(app.state, "scheduler")
        assert lease.current_holder(plain, LEASE_NAME) is None
