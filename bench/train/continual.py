"""Continual learning on tiny-scratch: forgetting of the support domain after learning
finance, per strategy, at the same step budget (same data, same seed, same run).

    python bench/train/continual.py [--steps 40]   # writes bench/results/train-continual.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import machine_info, write_result
from bench.train.common import REPO, seeded_store

STRATEGIES = {
    "naive": {"continual.strategy": "naive"},
    "replay (default)": {"continual.strategy": "replay"},
    "ewc": {"continual.strategy": "ewc", "continual.ewc_lambda": 50.0},
    "adapter": {"continual.strategy": "adapter", "optim.lr": 3.0e-3},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40, help="continual steps per strategy")
    args = parser.parse_args()
    os.chdir(REPO)
    from infinstruct.finetune.training.run import run_recipe

    with tempfile.TemporaryDirectory() as tmp:
        settings = seeded_store(Path(tmp) / "var")
        base = run_recipe(settings, "tiny-scratch", show_progress=False, overrides={"eval.generate": 0})  # type: ignore[arg-type]
        rows = {}
        for label, extra in STRATEGIES.items():
            out = run_recipe(
                settings,
                "tiny-continual",
                continue_from=base["version"],
                show_progress=False,  # type: ignore[arg-type]
                overrides={"optim.max_steps": args.steps, "eval.generate": 0, **extra},
            )
            rows[label] = {
                "support_forgetting": out["forgetting"]["mean_forgetting"],
                "support_loss_before": out["forgetting"]["domains"]["support"]["loss_before"],
                "support_loss_after": out["forgetting"]["domains"]["support"]["loss_after"],
                "finance_test_loss": out["loss"],
            }
    naive = rows["naive"]["support_forgetting"]
    ratio = rows["replay (default)"]["support_forgetting"] / naive if naive > 0 else None
    print(f"{'strategy':18} {'forgetting':>10} {'before':>8} {'after':>8} {'new-domain loss':>16}")
    for label, r in rows.items():
        print(
            f"{label:18} {r['support_forgetting']:10.4f} {r['support_loss_before']:8.4f} "
            f"{r['support_loss_after']:8.4f} {r['finance_test_loss']:16.4f}"
        )
    print(f"default/naive forgetting ratio: {ratio} (bound: <= 0.5)")
    # The bench format (commit, time, machine) so docs/benchmarks.md can name where it came from.
    path = write_result(
        "train-continual",
        {
            "produced_by": f"python bench/train/continual.py --steps {args.steps}",
            "what": "tiny-scratch on support, then tiny-continual on finance per strategy; "
            "forgetting = mean support test-loss increase.",
            "machine": machine_info(),
            "steps": args.steps,
            "strategies": rows,
            "default_over_naive": ratio,
            "bound": 0.5,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
