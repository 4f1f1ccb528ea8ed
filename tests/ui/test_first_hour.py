"""Each role's first hour in Chromium, on an `infinstruct demo --smoke` store served by
`infinstruct serve` started outside the checkout (issue 22's "Done when").

One server for the module; the three roles run in order against it: the customer asks and
gets recommendations, the operator runs the loop by clicking, the analyst reads alerts.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from infinstruct.auth import users
from infinstruct.chat.reply_check import is_label
from infinstruct.core.config_layers import packaged_dir
from infinstruct.core.settings import load_settings
from tests.conftest import REPO, shared_path, subprocess_env
from tests.live import browser_page, free_port, login, screenshot

JOB_MS = 420_000  # a CLI job: interpreter start, imports, then the work (shared CPU)
UNANSWERED = "Do you offer a discount to owners of three-legged cats?"
CURATED = "Yes: every three-legged cat owner gets 10% off the card fee."


@pytest.fixture(scope="module")
def served(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`infinstruct serve` over a copy of the demo store, from a directory outside the checkout."""
    elsewhere = tmp_path_factory.mktemp("serve-elsewhere")
    data_dir = elsewhere / "var"
    shutil.copytree(demo_store, data_dir)
    settings = load_settings(data_dir=data_dir)
    users.add_user(settings, "olga", role="operator", password="operator-pass")
    users.add_user(settings, "ana", role="analyst", password="analyst-pass")
    # The operator's own config folder overrides the packaged tiny-scratch with a few steps.
    recipe = yaml.safe_load((packaged_dir() / "finetune" / "tiny-scratch.yaml").read_text())
    recipe["pretrain"]["steps"], recipe["optim"]["max_steps"], recipe["optim"]["warmup_steps"] = 6, 6, 1
    recipe["eval"]["generate"], recipe["checkpoint"]["every_steps"] = 0, 100
    (elsewhere / "config" / "finetune").mkdir(parents=True)
    (elsewhere / "config" / "finetune" / "tiny-scratch.yaml").write_text(yaml.safe_dump(recipe))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "infinstruct", "--config-dir", "config", "serve", "--port", str(port)],
        cwd=elsewhere,
        env=subprocess_env(data_dir, elsewhere),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    deadline = time.monotonic() + 180
    while not any(line.startswith("serving on http://") for line in lines) and time.monotonic() < deadline:
        assert proc.poll() is None, "".join(lines[-40:])
        time.sleep(0.2)
    assert any(line.startswith("serving on http://") for line in lines), "".join(lines[-40:])
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"  # ready means loaded
    try:
        yield {"base": base, "settings": settings, "data_dir": data_dir, "tmp": elsewhere}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _store_messages(limit: int = 400) -> list[str]:
    """Customers' own words in the demo store (BANKING77 queries): never shown to a customer."""
    with open(REPO / "samples" / "banking77" / "train.csv", encoding="utf-8", newline="") as f:
        return [row["text"].strip() for row in csv.DictReader(f)][:limit]


@pytest.mark.slow
@pytest.mark.browser
def test_customer_sees_only_what_is_theirs(served: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    base = served["base"]
    with browser_page() as page:
        page.goto(base + "/")
        page.locator("#chat-input textarea").fill("My card payment was declined, why?")
        page.locator("#chat-send").click()
        expect(page.locator("#route-badge")).not_to_be_empty(timeout=120_000)
        # the answer bubble holds a sentence for the customer, not a class label (issue 14)
        bubble = page.locator("#chatbot .bot-row").last.inner_text().strip()
        assert len(bubble.split()) >= 4 and not is_label(bubble), bubble
        assert "declined_card_payment" not in page.locator("body").inner_text()
        for opener in page.get_by_text("Sources").all():
            opener.click()
        text = page.locator("body").inner_text()
        leaked = [m for m in _store_messages() if len(m) > 25 and m in text]
        assert not leaked, leaked[:3]
        for internal in ("sample-banking77", "intent_classification", "support_reply", "score"):
            assert internal not in text, internal
        screenshot(page, "ui-customer-chat")

        page.get_by_role("tab", name="Recommendations").click()
        page.locator("#rec-input textarea").fill("space adventure with robots")
        page.locator("#rec-send").click()
        expect(page.locator("#rec-output li").nth(2)).to_be_visible(timeout=120_000)
        text = page.locator("body").inner_text()
        assert "infinstruct " not in text and "--" not in text, "a command line shown to a customer"
        screenshot(page, "ui-customer-recommendations")


def _no_raw_json(page: Any) -> None:
    text = page.locator("body").inner_text()
    assert '{"' not in text and "': " not in text, text[:500]


def _pick_option(page: Any, label: str, option: str) -> None:
    page.get_by_label(label).click()
    page.get_by_role("option", name=option).click()


@pytest.mark.slow
@pytest.mark.browser
def test_operator_runs_the_loop_by_clicking(served: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    base, tmp = served["base"], served["tmp"]
    asked = httpx.post(f"{base}/api/chat", json={"message": UNANSWERED}, timeout=120).json()
    assert asked["route"] == "abstain", asked
    sensors = tmp / "export.csv"
    sensors.write_text("sensor_id,temperature,humidity\n1,20.5,40\n2,21.0,42\n3,20.9,41\n")
    with browser_page() as page:
        login(page, base, "olga", "operator-pass", "/operator/")
        expect(page.get_by_text("Operator console")).to_be_visible()
        for tab in ("Corpora", "Instructions", "Training", "Models", "Try", "Hand-offs", "Feedback"):
            page.get_by_role("tab", name=tab).click()
            _no_raw_json(page)
        page.get_by_role("tab", name="Corpora").click()

        page.set_input_files("input[type=file]", str(sensors))
        expect(page.get_by_text("export.csv").first).to_be_visible()
        page.get_by_role("button", name="Load", exact=True).click()
        status = page.locator("#load-status")
        expect(status).to_contain_text("failed", timeout=JOB_MS)
        expect(status).to_contain_text("no connector recognises")
        expect(status).to_contain_text("Pick one with --connector")  # the CLI's own text

        tweets = shared_path("support", "twcs_kaggle_sample", "sample.csv")
        page.locator("button[aria-label='Clear']").first.click()
        page.set_input_files("input[type=file]", str(tweets))
        page.get_by_label("Corpus name").fill("helpdesk-tweets")
        page.get_by_role("button", name="Load", exact=True).click()
        expect(page.locator("#corpora")).to_contain_text("helpdesk-tweets", timeout=JOB_MS)
        screenshot(page, "ui-operator-corpora")

        page.get_by_role("tab", name="Hand-offs").click()
        page.locator("#handoffs span.text").filter(has_text=UNANSWERED).first.click()  # the visible cell
        expect(page.locator("#handoff-picked")).to_contain_text(UNANSWERED)
        page.get_by_label("Answer", exact=True).fill(CURATED)
        page.get_by_role("button", name="Answer", exact=True).click()
        expect(page.locator("#handoff-msg")).to_contain_text("answered", timeout=60_000)
        again = httpx.post(f"{base}/api/chat", json={"message": UNANSWERED}, timeout=120).json()
        assert again["answer"] == CURATED and again["route"] == "curated", again

        page.get_by_role("tab", name="Training").click()
        page.get_by_label("Recipe").click()
        assert page.get_by_role("option").count() >= 2
        page.get_by_role("option", name="tiny-scratch").click()
        expect(page.locator("#recipe-summary")).to_contain_text("base model")
        page.get_by_role("button", name="Train", exact=True).click()
        expect(page.locator("#train-status")).to_contain_text("succeeded", timeout=JOB_MS)
        expect(page.locator("#loss-plot")).to_contain_text("training", timeout=30_000)
        screenshot(page, "ui-operator-training")
        page.get_by_role("tab", name="Models").click()
        expect(page.locator("#models")).to_contain_text("dialogue-v2", timeout=30_000)

        page.get_by_role("tab", name="Try").click()
        page.get_by_role("combobox", name="Version", exact=True).click()
        page.get_by_role("option", name="dialogue-v2").click()
        page.get_by_label("Question", exact=True).fill("How do I change my PIN?")
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator("#try-tried")).to_contain_text("Route", timeout=120_000)
        expect(page.locator("#try-active")).to_contain_text("Route")

        cookies = page.context.cookies()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{base}/", timeout=30_000)
    with browser_page() as fresh:  # the same session cookie, replayed, is no longer a session
        fresh.context.add_cookies(cookies)
        fresh.goto(f"{base}/operator/")
        fresh.wait_for_url("**/login**")


@pytest.mark.slow
@pytest.mark.browser
def test_analyst_first_view_has_something_in_it(served: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    with browser_page() as page:
        login(page, served["base"], "ana", "analyst-pass", "/analyst/")
        run = page.locator("#alerts-run")
        expect(run).to_contain_text("last ran", timeout=30_000)
        expect(run).to_contain_text("Next run")
        page.wait_for_function(  # the page's load events fill either the note or the table
            "() => document.querySelector('#alerts-empty').innerText.trim().length > 0"
            " || [...document.querySelectorAll('#alerts span.text')].some(e => e.innerText.trim())"
        )
        if "No open alerts" in page.locator("#alerts-empty").inner_text():
            expect(page.locator("#alerts-empty")).to_contain_text("Watchlist")  # says what to do
        else:  # an alert of the default watchlist: clicking its row shows its headlines
            page.locator("#alerts span.text").filter(has_text="China").first.click()
            expect(page.locator("#alert-details")).to_contain_text("items negative", timeout=30_000)
        screenshot(page, "ui-analyst-alerts")
        page.get_by_role("tab", name="Trends").click()
        page.get_by_label("Topic").click()
        assert page.get_by_role("option").count() >= 1
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
