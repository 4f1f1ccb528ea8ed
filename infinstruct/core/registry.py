"""The model registry's read/activate side (training writes versions from ``finetune``).

Activation goes through a gate: a callable that re-evaluates the active model on the
candidate's test split and says whether the candidate regresses. The gate is injected
(``services.py`` wires the finetune evaluator) so this module stays free of training code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import NotFoundError, RegistryGateError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.core.tables._columns import utcnow


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


Gate = Callable[[ModelVersion, ModelVersion], GateVerdict]


def compare_metric(
    metric: str,
    candidate: float | None,
    active: float | None,
    *,
    active_name: str,
    tolerance: float,
    higher_is_better: bool,
    details: dict[str, Any] | None = None,
) -> GateVerdict:
    """The gate's one rule: refuse a candidate worse than the active model by more than
    ``tolerance`` (relative) on ``metric``; pass when either side has no value."""
    details = {
        "metric": metric,
        "candidate": candidate,
        "active": active,
        "tolerance": tolerance,
        **(details or {}),
    }
    if candidate is None or active is None:
        return GateVerdict(True, f"no {metric} to compare (empty test split); not gated", details)
    worse_by = (active - candidate) if higher_is_better else (candidate - active)
    regression = worse_by / max(abs(active), 1e-12)
    details["regression"] = round(regression, 4)
    if regression > tolerance:
        return GateVerdict(
            False,
            f"{metric} {candidate:.4f} is {regression:.1%} worse than active "
            f"{active_name}'s {active:.4f} (tolerance {tolerance:.1%})",
            details,
        )
    return GateVerdict(
        True, f"{metric} {candidate:.4f} vs active {active:.4f} (within {tolerance:.1%})", details
    )


def register_version(settings: Settings, version: ModelVersion) -> ModelVersion:
    with session_scope(settings) as session:
        session.add(version)
        session.flush()
        session.refresh(version)
        return version


def next_version_name(settings: Settings, kind: str) -> str:
    with session_scope(settings) as session:
        count = len(session.exec(select(ModelVersion.id).where(ModelVersion.kind == kind)).all())
    return f"{kind}-v{count + 1}"


def list_versions(settings: Settings, *, kind: str | None = None) -> list[ModelVersion]:
    with session_scope(settings) as session:
        query = select(ModelVersion).order_by(col(ModelVersion.id))
        if kind:
            query = query.where(ModelVersion.kind == kind)
        return list(session.exec(query).all())


def get_version(settings: Settings, name: str) -> ModelVersion:
    with session_scope(settings) as session:
        found = session.exec(select(ModelVersion).where(ModelVersion.name == name)).first()
        if found is None and name.isdigit():
            found = session.get(ModelVersion, int(name))
        if found is None:
            raise NotFoundError(f"no model version {name!r}; see `infinstruct models list`")
        return found


def active_version(settings: Settings, kind: str) -> ModelVersion | None:
    with session_scope(settings) as session:
        return session.exec(
            select(ModelVersion).where(ModelVersion.kind == kind, ModelVersion.status == "active")
        ).first()


def activate(
    settings: Settings, name: str, *, gate: Gate | None = None, force: bool = False
) -> tuple[ModelVersion, GateVerdict | None]:
    """Make ``name`` the active version of its kind, unless the gate refuses it."""
    candidate = get_version(settings, name)
    current = active_version(settings, candidate.kind)
    verdict: GateVerdict | None = None
    if current is not None and current.id != candidate.id and gate is not None:
        verdict = gate(candidate, current)
        if not verdict.passed and not force:
            raise RegistryGateError(
                f"refusing to activate {candidate.name}: {verdict.reason}; pass --force to activate anyway"
            )
    with session_scope(settings) as session:
        for row in session.exec(
            select(ModelVersion).where(ModelVersion.kind == candidate.kind, ModelVersion.status == "active")
        ).all():
            row.status = "retired"
            session.add(row)
        chosen = session.get(ModelVersion, candidate.id)
        assert chosen is not None
        chosen.status, chosen.activated_at = "active", utcnow()
        session.add(chosen)
        session.flush()
        session.refresh(chosen)
        return chosen, verdict


def rollback(settings: Settings, kind: str) -> ModelVersion:
    """Re-activate the version that was active before the current one."""
    with session_scope(settings) as session:
        history = session.exec(
            select(ModelVersion)
            .where(ModelVersion.kind == kind, col(ModelVersion.activated_at).is_not(None))
            .order_by(col(ModelVersion.activated_at).desc())
        ).all()
    if len(history) < 2:
        raise NotFoundError(f"no earlier {kind} version to roll back to")
    version, _ = activate(settings, history[1].name, force=True)
    return version
