"""The operator's main actions in a real browser: log in, upload a real file, see it loaded."""

from __future__ import annotations

import pytest

from infinstruct.platform.auth import users
from infinstruct.platform.settings import Settings
from infinstruct.services import build_app
from tests.conftest import shared_path
from tests.live import browser_page, live_server, login, screenshot


@pytest.mark.slow
@pytest.mark.browser
def test_operator_uploads_a_real_file_and_sees_it_loaded(settings: Settings, cli_env: dict[str, str]) -> None:
    sample = shared_path("support", "twcs_kaggle_sample", "sample.csv")
    users.add_user(settings, "olga", role="operator", password="operator-pass")
    with live_server(build_app(settings)) as base, browser_page() as page:
        login(page, base, "olga", "operator-pass", "/operator/")
        page.wait_for_selector("text=Operator console")
        page.set_input_files("input[type=file]", str(sample))
        page.wait_for_timeout(1500)  # the upload finishes before Load reads it
        page.get_by_role("button", name="Load", exact=True).click()
        page.wait_for_selector("#load-status :text('succeeded')", timeout=120_000)
        screenshot(page, "operator-load")
        page.get_by_role("button", name="Show versions + quarantine").is_visible()
    from infinstruct.connectors.corpora import list_corpora

    loaded = {c["name"]: c for c in list_corpora(settings)}
    assert any(c["documents"] > 0 for c in loaded.values()), loaded
