"""Recommendation quality: the fitted combination vs popularity, text-only and item-kNN.

Leave-last-out on MovieLens latest-small (shared split, 488 users) and Amazon Fashion
5-core, every unrated item ranked (no sampled negatives); weights fitted on the
leave-second-last-out split. All four rankers are scored in the same run on the same folds.

    python bench/recommend/run.py [--data-dir var/bench-recommend] [--max-users N]

The data dir keeps the store and the profile-embedding cache, so a second run skips the
load and the ~25 s (2 cores) embedding of 9.7k movie profiles. Writes bench/results/recommend.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "items"
SOURCES = {"movielens": DATA / "movielens_latest_small", "amazon-fashion": DATA / "amazon_fashion_5core"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench-recommend")
    parser.add_argument("--max-users", type=int, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    from infinstruct.core.db import upgrade
    from infinstruct.core.settings import load_settings
    from infinstruct.recommend.report import run_eval
    from infinstruct.recommend.store import item_corpora
    from infinstruct.services import build_ingestor

    os.chdir(REPO)
    settings = load_settings(data_dir=args.data_dir)
    upgrade(settings)
    loaded = {name for name, _ in item_corpora(settings)}
    ingest = build_ingestor(settings)
    for name, path in SOURCES.items():
        if name not in loaded:
            ingest(path, corpus=name)
    started = time.monotonic()
    report = run_eval(settings, corpora=list(SOURCES), max_users=args.max_users)
    report["seconds"] = round(time.monotonic() - started, 1)
    _print(report)
    import sys

    sys.path.insert(0, str(REPO))
    from bench.common import write_result

    out = write_result(
        "recommend",
        {
            "what": "recommendation quality (HR@10, NDCG@10), leave-last-out test fold; all four rankers "
            "on the same folds in the same run; combined weights fitted on leave-second-last-out",
            "produced_by": "python bench/recommend/run.py"
            + (f" --max-users {args.max_users}" if args.max_users else ""),
            "inputs": {
                "corpora": {k: str(v.relative_to(REPO.parent)) for k, v in SOURCES.items()},
                "max_users": args.max_users,
            },
            "report": report,
        },
    )
    print(f"\nwritten to {out}")


def _print(report: dict[str, Any]) -> None:
    print(f"\n{'corpus':<16}{'ranker':<15}{'HR@10':>8}{'NDCG@10':>9}")
    for name, rep in report["corpora"].items():
        for ranker in ("popularity", "text", "collaborative", "combined"):
            m = rep[ranker]
            print(f"{name:<16}{ranker:<15}{m['hr@10']:>8.4f}{m['ndcg@10']:>9.4f}")
        print(f"{'':<16}({rep['users']} users, {rep['items']} items, weights {rep['weights']})")


if __name__ == "__main__":
    main()
