"""The recipe base every trainer shares: where a recipe is found, how it is read, validated
(first problem -> a ``ConfigError`` naming the key) and written back resolved.

A trainer's config class (``FinetuneConfig``, ``SentimentConfig``) is a ``Section`` tree;
only its sections differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from infinstruct.core.config_layers import read_yaml_mapping
from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import Settings


class Section(BaseModel):
    """A recipe section: unknown keys are errors (a typo never silently falls back to a default)."""

    model_config = ConfigDict(extra="forbid")


ConfigT = TypeVar("ConfigT", bound=Section)


def recipe_path(settings: Settings, recipe: str) -> Path:
    """A recipe name (packaged, or in the operator's config folder) or a path to a YAML file."""
    from infinstruct.core.config_layers import recipe_dirs, recipe_files

    given = Path(recipe).expanduser()
    if given.suffix in {".yaml", ".yml"} and given.exists():
        return given
    known = recipe_files(settings.finetune.recipes_dir)
    if recipe not in known:
        where = ", ".join(str(d) for d in recipe_dirs(settings.finetune.recipes_dir))
        raise ConfigError(
            f"no recipe {recipe!r} in {where}; known: {', '.join(known) or 'none'}; "
            "give a known name or a path to a YAML recipe"
        )
    return known[recipe]


def read_recipe(path: Path) -> dict[str, Any]:
    """A recipe file's mapping (the settings layers' YAML rule: one home for it)."""
    return read_yaml_mapping(path)


def validate(cls: type[ConfigT], raw: dict[str, Any], *, source: str) -> ConfigT:
    """``cls`` from ``raw``; the first problem becomes a ConfigError naming the key."""
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "recipe"
        raise ConfigError(f"{source}: {where}: {first['msg']} (got {first.get('input')!r})") from exc


def dump_config(config: BaseModel, path: Path) -> None:
    """The resolved recipe (every default filled in), written beside a run or an artefact."""
    path.write_text(
        yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
