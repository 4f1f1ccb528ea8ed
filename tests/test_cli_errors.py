from __future__ import annotations

from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.settings import Settings


def test_input_error_is_one_line_and_exit_2(settings: Settings, cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["models", "show", "no-such-model"])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: no model version 'no-such-model'")
    assert len(result.output.strip().splitlines()) == 1


def test_bad_setting_is_exit_2(settings: Settings, cli_env: dict[str, str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INFINSTRUCT_LOG_LEVEL", "LOUD")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 2
    assert "log_level" in result.output


def test_a_store_without_tables_names_the_upgrade(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("INFINSTRUCT_DATA_DIR", str(tmp_path / "fresh"))
    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == "error: the store has no tables yet (or is behind): run `infinstruct db upgrade`"
    )
