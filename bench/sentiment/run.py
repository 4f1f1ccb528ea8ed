"""Finance sentiment: fine-tuned MiniLM vs a frozen-MiniLM + logistic-regression baseline,
next to FinBERT's published numbers; optionally the continual-learning strategies.

    python bench/sentiment/run.py [--data-dir var/bench-sentiment] [--version sentiment-vN]
    python bench/sentiment/run.py --pick     # the validation sweep's pick, scored on test once
    python bench/sentiment/run.py --continual [--steps 200]

The first form trains ``sentiment-minilm`` (or re-reads an existing version's report) on
the held-out Financial PhraseBank split (AllAgree and 50Agree subsets); the baseline is
fitted and scored on the same split in the same run. ``--continual`` then continues that
version on FinFE (zh) with each strategy — naive sequential, replay (the default), EWC — at
the same step budget and reports forgetting (PhraseBank test accuracy before/after).
Writes bench/results/sentiment.json (and sentiment-continual.json).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
SOURCES = {
    "financial_phrasebank": DATA / "finance" / "financial_phrasebank",
    "fincuge_finfe": DATA / "zh" / "fincuge_finfe",
}
#: Araci (2019), "FinBERT: Financial Sentiment Analysis with Pre-trained Language Models",
#: Table 2 — on the authors' own 20% test split of PhraseBank, not ours.
FINBERT = {
    "AllAgree": {"accuracy": 0.97, "macro_f1": 0.95},
    "50Agree": {"accuracy": 0.86, "macro_f1": 0.84},
}
STRATEGIES = ("naive", "replay", "ewc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench-sentiment")
    parser.add_argument(
        "--version", default=None, help="Report an existing sentiment version instead of training."
    )
    parser.add_argument(
        "--pick",
        action="store_true",
        help="Score the sweep's pick (bench/results/sentiment-sweep.json) on test, once.",
    )
    parser.add_argument("--again", action="store_true", help="Re-score a version already scored on test.")
    parser.add_argument(
        "--continual", action="store_true", help="Also compare continual strategies on FinFE."
    )
    parser.add_argument("--steps", type=int, default=None, help="Step budget of each continual run.")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (1 is faster on a busy machine)."
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from infinstruct.core.cli_support import configure_logging

    configure_logging("INFO")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from infinstruct.core.db import upgrade
    from infinstruct.core.registry import get_version
    from infinstruct.core.settings import load_settings
    from infinstruct.finetune.sentiment.train import run_sentiment_recipe
    from infinstruct.services import build_ingestor

    os.chdir(REPO)
    settings = load_settings(data_dir=args.data_dir)
    upgrade(settings)
    ingest = build_ingestor(settings)
    for name, path in SOURCES.items():
        ingest(path, corpus=name)  # unchanged content adds nothing on a re-run
    if args.pick:
        sweep = json.loads((REPO / "bench" / "results" / "sentiment-sweep.json").read_text(encoding="utf-8"))
        if not sweep.get("pick_version"):
            raise SystemExit("the sweep has no pick yet: run python bench/sentiment/sweep.py first")
        args.version = sweep["pick_version"]
        _refuse_second_look(args.version, sweep["written_at"], again=args.again)
    if args.version:
        version = get_version(settings, args.version)
        report = json.loads((Path(version.artefact_path) / "eval.json").read_text(encoding="utf-8"))
        name = version.name
        if "test" not in report:  # a sweep run (eval.test off): its one look at the test split, now
            report["test"] = _test_metrics(settings, version)
            report["evaluated_on_test_by"] = "bench/sentiment/run.py --pick (after the validation sweep)"
        if "baseline" not in report:  # trained with eval.baseline off: fit it on the same split now
            report["baseline"] = _baseline(settings, version)
    else:
        started = time.monotonic()
        result = run_sentiment_recipe(settings, "sentiment-minilm")
        name = result["version"]
        report = json.loads(Path(result["report_json"]).read_text(encoding="utf-8"))
        report["bench_seconds"] = round(time.monotonic() - started, 1)
    summary = _summary(name, report)
    if args.pick:
        summary["from_sweep"] = sweep["written_at"]
        summary["evaluated_on_test_by"] = report.get("evaluated_on_test_by")
    summary["optim"] = get_version(settings, name).recipe_resolved.get("optim")
    _print_main(summary)
    _write("sentiment.json", summary)
    if args.continual:
        continual = _continual(settings, name, steps=args.steps)
        _print_continual(continual)
        _write("sentiment-continual.json", continual)


def _refuse_second_look(version: str, sweep_written_at: str, *, again: bool) -> None:
    """The chosen configuration is scored on test once; its number is reported as it comes."""
    out = REPO / "bench" / "results" / "sentiment.json"
    if out.exists() and not again:
        done = json.loads(out.read_text(encoding="utf-8"))
        if done.get("version") == version and done.get("from_sweep") == sweep_written_at:
            raise SystemExit(
                f"{version} was already scored on test ({out}); a second look is a choice made on test. "
                "Pass --again only to reproduce the same number."
            )


def _test_metrics(settings: Any, version: Any) -> dict[str, Any]:
    from infinstruct.finetune.sentiment import continual
    from infinstruct.finetune.sentiment.config import DataSection
    from infinstruct.finetune.sentiment.data import load_splits
    from infinstruct.finetune.sentiment.evaluate import evaluate_scorer
    from infinstruct.sentiment import load_scorer

    entry = continual.lineage(version)[-1]
    splits = load_splits(settings, DataSection.model_validate(entry["data"]), seed=int(entry.get("seed", 13)))
    max_length = int(version.recipe_resolved.get("model", {}).get("max_length", 96))
    scorer = load_scorer(version.artefact_path, version=version.name, max_length=max_length)
    subsets = version.recipe_resolved.get("eval", {}).get("subsets") or None
    return dict(evaluate_scorer(scorer, splits.test, subsets=subsets))


def _baseline(settings: Any, version: Any) -> dict[str, Any]:
    from infinstruct.core.bundled_models import minilm_path
    from infinstruct.finetune.sentiment import continual
    from infinstruct.finetune.sentiment.baseline import run_baseline
    from infinstruct.finetune.sentiment.config import DataSection
    from infinstruct.finetune.sentiment.data import load_splits

    entry = continual.lineage(version)[-1]  # the split the version was trained and tested on
    seed = int(entry.get("seed", 13))
    splits = load_splits(settings, DataSection.model_validate(entry["data"]), seed=seed)
    evaluation = version.recipe_resolved.get("eval", {})
    return run_baseline(
        splits.train,
        splits.test,
        model_path=minilm_path(),
        device="cpu",
        c=float(evaluation.get("baseline_c", 1.0)),
        seed=seed,
        subsets=evaluation.get("subsets") or None,
    )


def _summary(version: str, report: dict[str, Any]) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for subset in FINBERT:
        model = report["test"].get("subsets", {}).get(subset, {})
        base = (report.get("baseline") or {}).get("subsets", {}).get(subset, {})
        rows[subset] = {
            "n": model.get("n"),
            "fine_tuned": {"accuracy": model.get("accuracy"), "macro_f1": model.get("macro_f1")},
            "frozen_baseline": {"accuracy": base.get("accuracy"), "macro_f1": base.get("macro_f1")},
            "finbert_published": FINBERT[subset],
        }
    targets = {"AllAgree": 0.93, "50Agree": 0.82}
    return {
        "version": version,
        "split": "held-out 20% of PhraseBank sentence groups (normalised-sentence hash)",
        "subsets": rows,
        "targets": {
            s: {"accuracy_at_least": t, "met": (rows[s]["fine_tuned"]["accuracy"] or 0) >= t}
            for s, t in targets.items()
        },
        "beats_baseline": all(
            (rows[s]["fine_tuned"]["accuracy"] or 0) > (rows[s]["frozen_baseline"]["accuracy"] or 1)
            for s in rows
        ),
        "test": {k: report["test"][k] for k in ("accuracy", "macro_f1", "n", "per_class")},
        "train": report.get("train"),
        "bench_seconds": report.get("bench_seconds"),
    }


def _continual(settings: Any, parent: str, *, steps: int | None) -> dict[str, Any]:
    from infinstruct.finetune.sentiment.train import run_sentiment_recipe

    rows: dict[str, Any] = {}
    for strategy in STRATEGIES:
        overrides: dict[str, Any] = {"continual.strategy": strategy}
        if steps:
            overrides["optim.max_steps"] = steps
        started = time.monotonic()
        result = run_sentiment_recipe(
            settings, "sentiment-minilm-finfe", continue_from=parent, overrides=overrides
        )
        row = result["forgetting"]["domains"]["phrasebank"]
        rows[strategy] = {
            "version": result["version"],
            "phrasebank_accuracy_before": row["accuracy_before"],
            "phrasebank_accuracy_after": row["accuracy_after"],
            "forgetting": row["forgetting"],
            "finfe_accuracy": result["accuracy"],
            "finfe_macro_f1": result["macro_f1"],
            "steps": result["train"]["steps"],
            "seconds": round(time.monotonic() - started, 1),
        }
    naive, default = rows["naive"]["forgetting"], rows["replay"]["forgetting"]
    return {
        "parent": parent,
        "strategies": rows,
        "bound": "default (replay) forgets at most half as much as naive at the same step budget",
        "bound_met": default <= 0.5 * max(naive, 0.0),
    }


def _print_main(summary: dict[str, Any]) -> None:
    print(f"\nsentiment {summary['version']} on {summary['split']}")
    print(
        f"{'subset':9} {'n':>5}  {'fine-tuned acc/F1':>18}  {'frozen+LR acc/F1':>17}  {'FinBERT (published)':>20}"
    )
    for subset, row in summary["subsets"].items():
        ft, fb, pub = row["fine_tuned"], row["frozen_baseline"], row["finbert_published"]
        print(
            f"{subset:9} {row['n'] or 0:>5}  {ft['accuracy']!s:>8} / {ft['macro_f1']!s:<7}  "
            f"{fb['accuracy']!s:>7} / {fb['macro_f1']!s:<7}  {pub['accuracy']:>10} / {pub['macro_f1']}"
        )
    print(f"targets: {summary['targets']}; beats baseline: {summary['beats_baseline']}")


def _print_continual(report: dict[str, Any]) -> None:
    print(f"\ncontinual from {report['parent']}: PhraseBank -> FinFE (zh)")
    print(
        f"{'strategy':8} {'steps':>5} {'PB before':>9} {'PB after':>9} {'forgetting':>10} {'FinFE acc':>9} {'s':>6}"
    )
    for strategy, row in report["strategies"].items():
        print(
            f"{strategy:8} {row['steps']:>5} {row['phrasebank_accuracy_before']:>9} "
            f"{row['phrasebank_accuracy_after']:>9} {row['forgetting']:>10} {row['finfe_accuracy']:>9} "
            f"{row['seconds']:>6}"
        )
    print(f"bound met ({report['bound']}): {report['bound_met']}")


def _write(name: str, data: dict[str, Any]) -> None:
    import sys

    sys.path.insert(0, str(REPO))
    from bench.common import write_result

    out = write_result(name.removesuffix(".json"), {"produced_by": " ".join(["python", *sys.argv]), **data})
    print(f"written to {out}")


if __name__ == "__main__":
    main()
