from __future__ import annotations

import json

from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.settings import Settings


def test_doctor_is_green_here(settings: Settings, cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {
        "python",
        "torch",
        "faiss",
        "embedding_model",
        "dialogue_model",
        "database",
        "data_dir",
    }


def test_doctor_fails_on_unreachable_database(settings: Settings, cli_env: dict[str, str]) -> None:
    url = "postgresql+psycopg://nobody:pw@127.0.0.1:1/none"
    result = CliRunner().invoke(app, ["--database-url", url, "doctor", "--json"])
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.output)["checks"]}
    assert checks["database"]["ok"] is False
    assert "pw" not in checks["database"]["detail"]
    assert checks["database"]["fix"]
