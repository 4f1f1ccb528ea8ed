"""One real ``infinstruct serve`` subprocess for the security probes (module scoped).

The server runs over its own data dir with users and tokens made beforehand, a tight rate
limit (so a probe can exhaust it quickly), a 1 MiB upload cap and a retrieval threshold
of -1 so that every question reaches the real default dialogue model (no index needed: a
missing index reads as no passages). ``INFINSTRUCT_TEST_SERVE_ROOT`` points the server at
another checkout (an old commit unpacked with ``git archive``) to see the probes fail there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from infinstruct.core.settings import Settings, load_settings
from tests.conftest import REPO
from tests.live import free_port

SERVE_ROOT = Path(os.environ.get("INFINSTRUCT_TEST_SERVE_ROOT", str(REPO)))
RATE_LIMIT = 8
PASSWORDS = {"olga": "operator-pass", "oscar": "operator-pass2", "otto": "operator-pass3"}


@dataclass
class Server:
    url: str
    settings: Settings
    process: subprocess.Popen[bytes]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def bearer(self, who: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[who]}"}


def _users(settings: Settings) -> dict[str, str]:
    from infinstruct.auth import users

    for name, password in PASSWORDS.items():
        users.add_user(settings, name, role="operator", password=password)
    tokens = {"operator": users.issue_token(settings, "olga")}
    for name in ("cust", "carol", "chris", "cora"):  # customers: one token (one budget) per probe
        users.add_user(settings, name, role="customer", password=f"{name}-password")
        tokens[name] = users.issue_token(settings, name)
    return tokens


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from infinstruct.core.db import upgrade

    folder = tmp_path_factory.mktemp("security")
    settings = load_settings(data_dir=folder / "var")
    upgrade(settings)
    tokens = _users(settings)
    env = {
        **os.environ,
        "INFINSTRUCT_DATA_DIR": str(settings.data_dir),
        "INFINSTRUCT_CHAT__RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "INFINSTRUCT_CHAT__RETRIEVAL_MIN_SIMILARITY": "-1",
        "INFINSTRUCT_SERVER__MAX_UPLOAD_MB": "1",
        "INFINSTRUCT_DIALOGUE__MAX_NEW_TOKENS": "16",
        "HF_HUB_OFFLINE": "1",
    }
    if SERVE_ROOT != REPO:
        env["PYTHONPATH"] = str(SERVE_ROOT)
    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infinstruct", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=SERVE_ROOT if SERVE_ROOT != REPO else folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"serve did not answer /healthz within 180 s: {log.read_text()[-2000:]}")
    try:
        yield Server(url, settings, process, log, tokens)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
