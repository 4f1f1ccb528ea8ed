"""Where settings and recipes come from: the packaged defaults, then the operator's folder.

The defaults ship inside the package (``infinstruct/config/``, read with
``importlib.resources``) so that ``infinstruct serve`` behaves the same from any working
directory. An operator's own folder (``--config-dir`` or ``INFINSTRUCT_CONFIG_DIR``) adds to
them or overrides them: its ``settings*.yaml`` are merged over the packaged ones, and its
``finetune/*.yaml`` recipes sit beside the packaged recipes, a same-named one winning.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from infinstruct.core.errors import ConfigError

ENV_PREFIX = "INFINSTRUCT_"
RECIPE_SUFFIXES = (".yaml", ".yml")


def packaged_dir() -> Path:
    """The packaged ``infinstruct/config`` folder (a real folder: the package is never zipped)."""
    return Path(str(resources.files("infinstruct").joinpath("config")))


def operator_dir() -> Path | None:
    """The operator's config folder from ``INFINSTRUCT_CONFIG_DIR``; None when unset."""
    raw = os.environ.get(f"{ENV_PREFIX}CONFIG_DIR", "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"config folder {raw!r} (INFINSTRUCT_CONFIG_DIR / --config-dir) does not exist; "
            "create it or point the setting at an existing folder"
        )
    return path


def settings_files(profile: str) -> list[Path]:
    """The settings files that apply, lowest priority first; a missing profile is an error."""
    folders = [packaged_dir()] + ([d] if (d := operator_dir()) else [])
    files = [f / "settings.yaml" for f in folders if (f / "settings.yaml").is_file()]
    if profile:
        found = [
            f / f"settings-{profile}.yaml" for f in folders if (f / f"settings-{profile}.yaml").is_file()
        ]
        if not found:
            where = " or ".join(str(f) for f in folders)
            raise ConfigError(
                f"profile {profile!r} has no settings-{profile}.yaml in {where}; "
                "create it or unset INFINSTRUCT_PROFILE / --profile"
            )
        files += found
    return files


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def settings_layers(profile: str) -> list[tuple[Path, dict[str, Any]]]:
    """Each applicable settings file with its content, lowest priority first."""
    return [(path, read_yaml_mapping(path)) for path in settings_files(profile)]


def recipe_dirs(extra: str = "") -> list[Path]:
    """Recipe folders, lowest priority first: packaged, <config dir>/finetune, ``extra``."""
    dirs = [packaged_dir() / "finetune"]
    if (op := operator_dir()) is not None:
        dirs.append(op / "finetune")
    if extra:
        dirs.append(Path(extra).expanduser())
    return [d for d in dirs if d.is_dir()]


def recipe_files(extra: str = "") -> dict[str, Path]:
    """Every recipe by name; a later folder's recipe overrides a packaged one of the same name."""
    found: dict[str, Path] = {}
    for folder in recipe_dirs(extra):
        for path in sorted(folder.iterdir()):
            if path.suffix in RECIPE_SUFFIXES and path.is_file():
                found[path.stem] = path
    return dict(sorted(found.items()))


def _leaves(data: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def value_sources(effective: dict[str, Any], overrides: dict[str, Any], profile: str) -> dict[str, str]:
    """For each dotted setting, where its value came from: a file, a variable, a flag or the default."""
    from_files: dict[str, str] = {}
    for path, layer in settings_layers(profile):
        for key, _ in _leaves(layer):
            from_files[key] = str(path)
    flagged = {key for key, _ in _leaves(overrides)}
    sources: dict[str, str] = {}
    for key, _ in _leaves(effective):
        env = ENV_PREFIX + key.replace(".", "__").upper()
        if key in flagged:
            sources[key] = "command-line flag"
        elif env in os.environ:
            sources[key] = f"environment {env}"
        elif key in from_files:
            sources[key] = from_files[key]
        else:
            sources[key] = "default"
    return sources
