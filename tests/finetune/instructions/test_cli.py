from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.settings import Settings
from tests.finetune.instructions.factory import fill_store

runner = CliRunner()


def _run(*args: str) -> dict:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_build_stats_export_import(settings: Settings, cli_env: dict[str, str], tmp_path: Path) -> None:
    fill_store(settings)
    report = _run("instructions", "build", "--max-per-corpus", "20", "--json")
    assert report["version"] == 1 and report["by_task_lang"]["support_reply"]
    assert _run("instructions", "build", "--max-per-corpus", "20", "--json")["unchanged"] is True

    stats = _run("instructions", "stats", "--json")
    assert stats["stored"]["by_split"] == report["by_split"]
    assert stats["lineage"]["template_hash"] and stats["stale"] is False
    listing = _run("instructions", "stats", "--all", "--json")
    assert [(r["name"], r["version"]) for r in listing] == [("default", 1)]

    out = tmp_path / "set.jsonl"
    exported = _run("instructions", "export", "--format", "sharegpt", "--out", str(out), "--json")
    assert exported["examples"] == report["examples"] and out.is_file()
    imported = _run("instructions", "import", str(out), "--name", "mine", "--json")
    assert imported["examples"] == report["examples"] and imported["name"] == "mine"

    human = runner.invoke(app, ["instructions", "stats"])
    assert human.exit_code == 0 and "per task/language" in human.output


def test_errors_are_one_line_with_the_fix(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["instructions", "stats"])
    assert result.exit_code == 2 and "infinstruct instructions build" in result.output
    result = runner.invoke(app, ["instructions", "build"])
    assert result.exit_code == 2 and "infinstruct ingest" in result.output
    fill_store(settings)
    runner.invoke(app, ["instructions", "build", "--max-per-corpus", "5"])
    result = runner.invoke(app, ["instructions", "export", "--format", "csv", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "alpaca, sharegpt, messages" in result.output
