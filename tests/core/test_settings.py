from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import Settings, describe_fields, load_settings


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found.extend(_models(info.annotation))
    return found


def test_every_field_has_a_description() -> None:
    missing = [
        f"{m.__name__}.{name}"
        for m in _models(Settings)
        for name, info in m.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert missing == []


def test_layers_yaml_profile_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "settings.yaml").write_text("log_level: DEBUG\nretrieval:\n  rrf_k: 10\n  default_k: 3\n")
    (tmp_path / "settings-p.yaml").write_text("retrieval:\n  rrf_k: 20\n")
    monkeypatch.setenv("INFINSTRUCT_CONFIG_DIR", str(tmp_path))
    assert load_settings().retrieval.rrf_k == 10
    monkeypatch.setenv("INFINSTRUCT_PROFILE", "p")
    s = load_settings()
    assert (s.retrieval.rrf_k, s.retrieval.default_k, s.log_level) == (20, 3, "DEBUG")
    monkeypatch.setenv("INFINSTRUCT_RETRIEVAL__RRF_K", "30")
    assert load_settings().retrieval.rrf_k == 30
    assert load_settings(log_level="ERROR").log_level == "ERROR"


def test_missing_profile_and_bad_value_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFINSTRUCT_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("INFINSTRUCT_PROFILE", "nope")
    with pytest.raises(ConfigError, match="settings-nope.yaml"):
        load_settings()
    monkeypatch.delenv("INFINSTRUCT_PROFILE")
    monkeypatch.setenv("INFINSTRUCT_RETRIEVAL__INDEX_KIND", "magic")
    with pytest.raises(ConfigError, match=r"retrieval.index_kind.*'magic'"):
        load_settings()


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFINSTRUCT_DATABASE__URL", "postgresql+psycopg://bob:hunter2@db/x")
    monkeypatch.setenv("INFINSTRUCT_DIALOGUE__OPENAI_API_KEY", "sk-secret")
    result = CliRunner().invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "sk-secret" not in result.output
    assert "bob:***@db/x" in result.output


def test_describe_lists_nested_keys() -> None:
    keys = {row["key"] for row in describe_fields()}
    assert {"database.url", "retrieval.index_kind", "data_dir"} <= keys


def test_packaged_defaults_hold_from_any_directory_and_operator_folder_adds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infinstruct.core.config_layers import packaged_dir, recipe_files
    from infinstruct.finetune.training.config import recipe_path

    monkeypatch.chdir(tmp_path)  # not the checkout: nothing may resolve against the working directory
    monkeypatch.delenv("INFINSTRUCT_CONFIG_DIR", raising=False)
    shipped = recipe_files()
    assert {"tiny-scratch", "smollm2-lora"} <= set(shipped)
    assert load_settings().retrieval.index_kind == "flat"  # from the packaged settings.yaml
    ops = tmp_path / "ops"
    (ops / "finetune").mkdir(parents=True)
    (ops / "settings.yaml").write_text("retrieval:\n  rrf_k: 33\n")
    (ops / "finetune" / "tiny-scratch.yaml").write_text((shipped["tiny-scratch"]).read_text())
    (ops / "finetune" / "mine.yaml").write_text("base: x\n")
    monkeypatch.setenv("INFINSTRUCT_CONFIG_DIR", str(ops))
    settings = load_settings()
    assert settings.retrieval.rrf_k == 33 and settings.retrieval.index_kind == "flat"
    assert recipe_path(settings, "tiny-scratch") == ops / "finetune" / "tiny-scratch.yaml"
    assert recipe_path(settings, "smollm2-lora").parent == packaged_dir() / "finetune"
    assert "mine" in recipe_files()
    result = CliRunner().invoke(app, ["config", "show", "--json", "--sources"])
    assert result.exit_code == 0, result.output
    import json

    shown = json.loads(result.output)
    assert shown["retrieval.rrf_k"] == {"value": 33, "source": str(ops / "settings.yaml")}
    assert shown["retrieval.index_kind"]["source"] == str(packaged_dir() / "settings.yaml")
    assert shown["database.echo"]["source"] == "default"
