"""Choose ``sentiment-minilm``'s optimiser settings on the validation split (never on test).

    python bench/sentiment/sweep.py [--data-dir var/bench-sentiment]

Trains each candidate below on the same PhraseBank split, reads its validation accuracy on
the 50Agree (all) and AllAgree subsets, and prints them next to the test numbers for the
record; the pick is the best validation 50Agree accuracy. Writes
``bench/results/sentiment-sweep.json``. The recipe file is then edited by hand to the pick.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PHRASEBANK = REPO.parent / "shared" / "data" / "finance" / "financial_phrasebank"
CANDIDATES: dict[str, dict[str, Any]] = {
    "lr5e-5-ep3-b32": {"optim.lr": 5e-5, "optim.epochs": 3, "optim.batch_size": 32},
    "lr1e-4-ep4-b32": {"optim.lr": 1e-4, "optim.epochs": 4, "optim.batch_size": 32},
    "lr8e-5-ep5-b16": {"optim.lr": 8e-5, "optim.epochs": 5, "optim.batch_size": 16},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench-sentiment")
    parser.add_argument("--only", nargs="*", default=None, help="Candidate names to run.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from infinstruct.finetune.sentiment.train import run_sentiment_recipe
    from infinstruct.platform.cli_support import configure_logging
    from infinstruct.platform.db import upgrade
    from infinstruct.platform.settings import load_settings
    from infinstruct.services import build_ingestor

    configure_logging("INFO")
    os.chdir(REPO)
    settings = load_settings(data_dir=args.data_dir)
    upgrade(settings)
    build_ingestor(settings)(PHRASEBANK, corpus="financial_phrasebank")
    out = REPO / "bench" / "results" / "sentiment-sweep.json"
    rows: dict[str, Any] = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    for name, overrides in CANDIDATES.items():
        if args.only and name not in args.only:
            continue
        started = time.monotonic()
        result = run_sentiment_recipe(
            settings, "sentiment-minilm", overrides={**overrides, "eval.baseline": False}, show_progress=False
        )
        report = json.loads(Path(result["report_json"]).read_text(encoding="utf-8"))
        rows[name] = {
            "version": result["version"],
            "overrides": overrides,
            "validation": {s: v["accuracy"] for s, v in report["validation"]["subsets"].items()},
            "test": {s: v["accuracy"] for s, v in report["test"]["subsets"].items()},
            "seconds": round(time.monotonic() - started, 1),
        }
        out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        print(name, rows[name], flush=True)
    pick = max(rows, key=lambda n: rows[n]["validation"].get("50Agree", 0.0))
    print(
        f"{'candidate':16} {'val 50Agree':>11} {'val AllAgree':>12} {'test 50Agree':>12} {'test AllAgree':>13}"
    )
    for name, row in rows.items():
        v, t = row["validation"], row["test"]
        print(
            f"{name:16} {v.get('50Agree')!s:>11} {v.get('AllAgree')!s:>12} {t.get('50Agree')!s:>12} {t.get('AllAgree')!s:>13}"
        )
    print(f"pick (best validation 50Agree): {pick}")


if __name__ == "__main__":
    main()
