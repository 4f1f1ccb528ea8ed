"""The router's similarity thresholds: calibrated ones from ``chat.thresholds_file``, or the
documented fallbacks from the settings until ``infinstruct eval chat`` has run."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from infinstruct.core.errors import ConfigError
from infinstruct.core.settings import Settings

#: A margin no cosine difference reaches: the off-domain gate is off.
OFF_DOMAIN_GATE_OFF = 2.0


@dataclass(frozen=True)
class Thresholds:
    """A question takes the first route whose similarity reaches its threshold."""

    curated: float
    model: float
    retrieval: float
    #: The intent signal fires from this similarity to the nearest intent-labelled question.
    intent: float = 0.62
    #: A question is declined when its similarity to the nearest committed off-domain question
    #: exceeds its in-domain evidence (model or intent similarity) by at least this margin.
    #: ``OFF_DOMAIN_GATE_OFF`` (the fallback until calibration) never declines.
    off_domain_margin: float = OFF_DOMAIN_GATE_OFF
    #: A question is declined when the off-domain probe (``ood.OffDomainProbe``) gives it at
    #: least this probability; when set (≤ 1) it replaces the margin. Files written before the
    #: probe have no such key and keep the margin gate.
    off_domain_probe: float = OFF_DOMAIN_GATE_OFF
    calibrated: bool = False
    fitted: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def thresholds_path(settings: Settings) -> Path:
    path = Path(settings.chat.thresholds_file)
    return path if path.is_absolute() else settings.data_dir / path


def default_thresholds(settings: Settings) -> Thresholds:
    cfg = settings.chat
    return Thresholds(
        curated=cfg.curated_min_similarity,
        model=cfg.model_min_similarity,
        retrieval=cfg.retrieval_min_similarity,
        intent=cfg.intent_min_similarity,
    )


def load_thresholds(settings: Settings) -> Thresholds:
    path = thresholds_path(settings)
    if not path.exists():
        return default_thresholds(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Thresholds(
            curated=float(data.get("curated", settings.chat.curated_min_similarity)),
            model=float(data["model"]),
            retrieval=float(data["retrieval"]),
            intent=float(data.get("intent", settings.chat.intent_min_similarity)),
            off_domain_margin=float(data.get("off_domain_margin", OFF_DOMAIN_GATE_OFF)),
            off_domain_probe=float(data.get("off_domain_probe", OFF_DOMAIN_GATE_OFF)),
            calibrated=bool(data.get("calibrated", True)),
            fitted=dict(data.get("fitted", {})),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a thresholds file ({exc}); delete it and run "
            "`infinstruct eval chat` to calibrate again"
        ) from exc


def save_thresholds(settings: Settings, thresholds: Thresholds) -> Path:
    path = thresholds_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(thresholds.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    return path
