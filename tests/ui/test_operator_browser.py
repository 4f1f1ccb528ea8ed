"""The operator's main actions in a real browser: log in, upload a real file and see it loaded,
rebuild the instruction set, launch a short training as a background job, activate the result."""

from __future__ import annotations

import pytest

from infinstruct.auth import users
from infinstruct.core import registry
from infinstruct.core.settings import Settings
from infinstruct.services import build_app
from tests.conftest import shared_path
from tests.live import browser_page, live_server, login, screenshot

JOB_TIMEOUT_MS = 300_000  # a CLI subprocess: interpreter start, imports, then the work


@pytest.mark.slow
@pytest.mark.browser
def test_operator_loads_a_real_file_trains_and_activates(settings: Settings, cli_env: dict[str, str]) -> None:
    sample = shared_path("support", "twcs_kaggle_sample", "sample.csv")
    users.add_user(settings, "olga", role="operator", password="operator-pass")
    with live_server(build_app(settings)) as base, browser_page() as page:
        login(page, base, "olga", "operator-pass", "/operator/")
        page.wait_for_selector("text=Operator console")

        page.set_input_files("input[type=file]", str(sample))
        page.wait_for_timeout(1500)  # the upload finishes before Load reads it
        page.get_by_role("button", name="Load", exact=True).click()
        page.wait_for_selector("#load-status :text('succeeded')", timeout=JOB_TIMEOUT_MS)
        screenshot(page, "operator-load")
        from infinstruct.connectors.corpora import list_corpora

        loaded = {c["name"]: c for c in list_corpora(settings)}
        assert any(c["documents"] > 0 for c in loaded.values()), loaded

        page.get_by_role("tab", name="Instructions").click()
        page.get_by_role("button", name="Rebuild instruction set").click()
        page.wait_for_selector("#rebuild-status :text('succeeded')", timeout=JOB_TIMEOUT_MS)
        screenshot(page, "operator-instructions")

        page.get_by_role("tab", name="Training").click()
        page.get_by_label("Recipe").click()
        page.get_by_role("option", name="tiny-scratch").click()
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_selector("#train-status :text('succeeded')", timeout=JOB_TIMEOUT_MS)
        screenshot(page, "operator-trained")
        trained = [v for v in registry.list_versions(settings) if v.kind == "dialogue"]
        assert len(trained) == 1 and trained[0].recipe == "tiny-scratch", trained
        assert trained[0].status != "active"

        page.get_by_role("tab", name="Models").click()
        page.locator("#models span.text").filter(has_text=trained[0].name).first.click()  # select the row
        from playwright.sync_api import expect

        expect(page.locator("#selected-model textarea")).to_have_value(trained[0].name, timeout=30_000)
        page.get_by_role("button", name="Activate", exact=True).click()
        page.wait_for_selector(f"#model-msg :text('{trained[0].name} is active')", timeout=60_000)
        screenshot(page, "operator-activated")
    active = registry.active_version(settings, "dialogue")
    assert active is not None and active.name == trained[0].name
