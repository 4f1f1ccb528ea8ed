"""Choose ``sentiment-minilm``'s optimiser settings on the validation split (never on test).

    python bench/sentiment/sweep.py [--data-dir var/bench-sentiment]

    python bench/sentiment/sweep.py --only NAME ... --seeds 13 7 21   # more seeds per candidate
    python bench/sentiment/sweep.py --table                            # train nothing

Trains each candidate below (with each seed) on the same PhraseBank split, reads its
validation accuracy on the 50Agree (all) and AllAgree subsets and its validation log-loss,
and prints the per-candidate means next to the test numbers for the record. The pick is the
best mean validation 50Agree accuracy among candidates whose validation log-loss beats the
uniform guess (ln 3). Writes ``bench/results/sentiment-sweep.json``. The recipe file is then
edited by hand to the pick.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SEED = 13  # the recipe's optim.seed
#: Log-loss of the uniform guess over the three labels: probabilities scoring worse carry no usable
#: information, whatever their argmax.
UNIFORM_LOG_LOSS = math.log(3)
PHRASEBANK = REPO.parent / "shared" / "data" / "finance" / "financial_phrasebank"
CANDIDATES: dict[str, dict[str, Any]] = {
    "lr5e-5-ep3-b32": {"optim.lr": 5e-5, "optim.epochs": 3, "optim.batch_size": 32},
    "lr1e-4-ep4-b32": {"optim.lr": 1e-4, "optim.epochs": 4, "optim.batch_size": 32},
    "lr8e-5-ep5-b16": {"optim.lr": 8e-5, "optim.epochs": 5, "optim.batch_size": 16},
    # The head on mean-pooled tokens (how the encoder was trained), then also started from a probe.
    "mean-lr8e-5-ep5-b16": {
        "model.pooling": "mean",
        "optim.lr": 8e-5,
        "optim.epochs": 5,
        "optim.batch_size": 16,
    },
    "mean-probe-lr8e-5-ep5-b16": {
        "model.pooling": "mean",
        "model.head_init": "probe",
        "optim.lr": 8e-5,
        "optim.epochs": 5,
        "optim.batch_size": 16,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench-sentiment")
    parser.add_argument("--only", nargs="*", default=None, help="Candidate names to run.")
    parser.add_argument(
        "--seeds",
        nargs="*",
        type=int,
        default=[DEFAULT_SEED],
        help="Seeds (head init, data order, dropout) per candidate: one validation split of a few "
        "hundred sentences is noisy, so a pick can rest on the mean over several seeds.",
    )
    parser.add_argument(
        "--table", action="store_true", help="Train nothing: fill in log-losses and print the table."
    )
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
        if args.table or (args.only and name not in args.only):
            continue
        for seed in args.seeds:
            key = name if seed == DEFAULT_SEED else f"{name}@seed{seed}"
            started = time.monotonic()
            result = run_sentiment_recipe(
                settings,
                "sentiment-minilm",
                overrides={**overrides, "optim.seed": seed, "eval.baseline": False},
                show_progress=False,
            )
            report = json.loads(Path(result["report_json"]).read_text(encoding="utf-8"))
            rows[key] = {
                "candidate": name,
                "seed": seed,
                "version": result["version"],
                "overrides": overrides,
                "validation": {s: v["accuracy"] for s, v in report["validation"]["subsets"].items()},
                "validation_log_loss": report["validation"]["log_loss"],
                "test": {s: v["accuracy"] for s, v in report["test"]["subsets"].items()},
                "seconds": round(time.monotonic() - started, 1),
            }
            out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
            print(key, rows[key], flush=True)
    for row in rows.values():  # runs recorded before the log-loss was
        row.setdefault("validation_log_loss", validation_log_loss(settings, row["version"]))
    out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print_table(rows)


def validation_log_loss(settings: Any, version_name: str) -> float:
    """Re-score a recorded version on the validation split it was trained beside."""
    from infinstruct.finetune.sentiment import continual
    from infinstruct.finetune.sentiment.config import DataSection
    from infinstruct.finetune.sentiment.data import load_splits
    from infinstruct.finetune.sentiment.evaluate import evaluate_scorer
    from infinstruct.platform.registry import get_version
    from infinstruct.platform.sentiment import load_scorer

    version = get_version(settings, version_name)
    entry = continual.lineage(version)[-1]  # the split the version was trained and evaluated on
    splits = load_splits(settings, DataSection.model_validate(entry["data"]), seed=int(entry.get("seed", 13)))
    max_length = int(version.recipe_resolved.get("model", {}).get("max_length", 96))
    scorer = load_scorer(version.artefact_path, version=version.name, max_length=max_length)
    return float(evaluate_scorer(scorer, splits.validation)["log_loss"])


def print_table(rows: dict[str, Any]) -> None:
    """Per candidate, the mean over the seeds it ran with, and the pick: the best mean validation
    50Agree accuracy among candidates whose mean validation log-loss beats the uniform guess
    (the alerts threshold the probabilities: a model confidently wrong often enough to score
    worse than knowing nothing is not usable, however often its argmax is right)."""
    by_candidate: dict[str, list[dict[str, Any]]] = {}
    for key, row in rows.items():
        by_candidate.setdefault(row.get("candidate", key), []).append(row)

    def mean(runs: list[dict[str, Any]], split: str, subset: str) -> float:
        return round(statistics.fmean(r[split][subset] for r in runs), 4)

    def loss(runs: list[dict[str, Any]]) -> float:
        return round(statistics.fmean(r["validation_log_loss"] for r in runs), 4)

    print(
        f"{'candidate':28} {'seeds':>5} {'val 50Agree':>11} {'val AllAgree':>12} {'val log-loss':>12} "
        f"{'test 50Agree':>12} {'test AllAgree':>13}"
    )
    for name, runs in by_candidate.items():
        print(
            f"{name:28} {len(runs):>5} {mean(runs, 'validation', '50Agree'):>11} "
            f"{mean(runs, 'validation', 'AllAgree'):>12} {loss(runs):>12} {mean(runs, 'test', '50Agree'):>12} "
            f"{mean(runs, 'test', 'AllAgree'):>13}"
        )
    limit = UNIFORM_LOG_LOSS
    eligible = [n for n, runs in by_candidate.items() if loss(runs) < limit]
    pick = max(eligible, key=lambda n: mean(by_candidate[n], "validation", "50Agree"))
    print(
        f"log-loss guard: mean validation log-loss < ln 3 = {limit:.4f}; excluded: {sorted(set(by_candidate) - set(eligible))}"
    )
    print(f"pick (best mean validation 50Agree over its seeds, within the guard): {pick}")


if __name__ == "__main__":
    main()
