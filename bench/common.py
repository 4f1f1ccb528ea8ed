"""What every benchmark records with its numbers: the machine (with its load), the commit, the
inputs, and for timings the per-round values with their median and spread.

Rounds are interleaved (A, B, A, B, ...) so both sides of a comparison see the same contention
on a shared machine; the spread is reported as min, max and the p25-p75 range.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
#: The fewest interleaved rounds a timing may rest on.
MIN_ROUNDS = 5


def commit() -> str:
    """HEAD, with ``+dirty`` when tracked files differ from it (the numbers may not be HEAD's)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head}+dirty" if dirty else head


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, accelerator and the load average when the numbers were taken."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # a bench that does not need torch
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def spread(values: list[float], digits: int = 4) -> dict[str, Any]:
    """Median, min, max, p25/p75 and the rounds themselves."""
    ordered = sorted(values)
    quart = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median": round(statistics.median(ordered), digits),
        "min": round(ordered[0], digits),
        "max": round(ordered[-1], digits),
        "p25": round(quart[0], digits),
        "p75": round(quart[2], digits),
        "rounds": [round(v, digits) for v in values],
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def interleave(
    sides: Mapping[str, Callable[[], Mapping[str, float]]], rounds: int = MIN_ROUNDS
) -> dict[str, dict[str, dict[str, Any]]]:
    """Run each side once per round, in turn, ``rounds`` times; each call returns named measures
    (e.g. ``{"build_s": ..., "p50_ms": ...}``). Returns side -> measure -> spread, plus
    ``loadavg`` per round so contention is on record."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"rounds must be >= {MIN_ROUNDS} (got {rounds})")
    seen: dict[str, dict[str, list[float]]] = {name: {} for name in sides}
    load: list[float] = []
    for _ in range(rounds):
        for name, run in sides.items():
            for key, value in run().items():
                seen[name].setdefault(key, []).append(float(value))
        load.append(os.getloadavg()[0])
    out: dict[str, dict[str, dict[str, Any]]] = {
        name: {key: spread(vals) for key, vals in measures.items()} for name, measures in seen.items()
    }
    out["_loadavg_1min_per_round"] = {"values": {"rounds": [round(x, 2) for x in load]}}
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call takes, and its result."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def write_result(name: str, payload: Mapping[str, Any]) -> Path:
    """``bench/results/<name>.json`` with the commit and time added (machine is the caller's)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    body = {
        "name": name,
        "commit": commit(),
        "written_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **payload,
    }
    body.setdefault("machine", machine_info())
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path
