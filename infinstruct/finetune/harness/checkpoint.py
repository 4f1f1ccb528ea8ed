"""Checkpoints of a run: the trainable weights, optimiser, schedule, step and RNG state.

Two formats, both kept because registered runs on disk use them: the dialogue trainer's
``checkpoints/step-NNNNNN/`` folders (``save_checkpoint``), and the sentiment trainer's one
``checkpoint.pt`` file (``save_state_file``). Either is written to a temporary name and
renamed into place, so a run killed mid-write leaves the previous checkpoint intact.

A folder checkpoint holds only the parameters that train (an adapter's few MB, not the
frozen base), so ``--resume`` reads little and never half a file.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "step-"


@dataclass(frozen=True)
class Resumed:
    step: int
    tokens: int
    path: Path


def trainable_state(model: Any) -> dict[str, Any]:
    return {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    folder: Path, *, model: Any, optimizer: Any, scheduler: Any, step: int, tokens: int, keep: int
) -> Path:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:06d}"
    tmp = folder / f"{PREFIX}{step:06d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(trainable_state(model), tmp / "trainable.pt")
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": torch.get_rng_state(),
        },
        tmp / "optim.pt",
    )
    (tmp / "meta.json").write_text(json.dumps({"step": step, "tokens": tokens}), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    done = [
        p
        for p in folder.glob(f"{PREFIX}*")
        if p.is_dir() and not p.name.endswith(".tmp") and (p / "meta.json").exists()
    ]
    return sorted(done, key=lambda p: p.name)


def load_checkpoint(path: Path, *, model: Any, optimizer: Any, scheduler: Any) -> Resumed:
    import torch

    weights = torch.load(path / "trainable.pt", map_location="cpu", weights_only=True)
    missing = {n for n, p in model.named_parameters() if p.requires_grad} - set(weights)
    if missing:
        raise ValueError(
            f"checkpoint {path} lacks {len(missing)} trainable tensors (e.g. {sorted(missing)[0]})"
        )
    model.load_state_dict(weights, strict=False)
    state = torch.load(path / "optim.pt", map_location="cpu", weights_only=True)  # never unpickle code
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    log.info("resumed from %s (step %d)", path, meta["step"])
    return Resumed(step=int(meta["step"]), tokens=int(meta["tokens"]), path=path)


def save_state_file(path: Path, state: dict[str, Any]) -> None:
    """``state`` into the single file ``path``, atomically."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-write leaves the previous checkpoint intact


def load_state_file(path: Path, *, device: Any) -> dict[str, Any]:
    """A ``save_state_file`` checkpoint; tensors only (never unpickle code)."""
    import torch

    state: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
    return state
