"""Every training method on the operator's own data: `infinstruct train compare` recorded.

    python bench/train/compare.py [--data-dir DIR] [--steps 30]   # writes bench/results/train-compare.json

DIR is a store holding the shared BANKING77 and twcs sample corpora; without it the script
loads them from ../shared/data/support into a fresh store. It rebuilds the instruction set,
runs the comparison with one torch thread (the methods run one after another; one thread keeps
them from fighting over the second core) and records the command's own JSON. Read seconds and
tokens/s together with ``load_avg``: they compare only methods that ran under the same load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import write_result

METHODS = "bottleneck,lora,ia3,prompt,prefix,adalora,full"
CORPORA = ("banking77", "twcs_head5000_pandas", "twcs_kaggle_sample")
SUPPORT = Path(__file__).resolve().parents[3] / "shared" / "data" / "support"


def command(steps: int) -> list[str]:
    return [
        "infinstruct", "train", "compare", "smollm2-lora", "--methods", METHODS,
        "--set", f"optim.max_steps={steps}", "--set", f"optim.warmup_steps={max(1, steps // 10)}",
        "--set", "optim.batch_size=4", "--set", "data.max_eval=16", "--json",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, help="A store with the corpora (default: a fresh one).")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    fresh = args.data_dir is None
    if fresh:
        args.data_dir = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    env = {
        **os.environ,
        "INFINSTRUCT_DATA_DIR": str(args.data_dir),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    bindir = Path(sys.executable).parent

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bindir / argv[0]), *argv[1:]], env=env, capture_output=True, text=True, check=True
        )

    if fresh:
        for corpus in CORPORA:
            run(["infinstruct", "ingest", str(SUPPORT / corpus), "--json"])
    run(["infinstruct", "instructions", "build", "--force", "--json"])
    result = json.loads(run(command(args.steps)).stdout)
    write_result(
        "train-compare",
        {
            "what": "infinstruct train compare: every method, same data, steps, seed and validation split",
            "produced_by": "OMP_NUM_THREADS=1 " + " ".join(command(args.steps)),
            "comparison": result,
        },
    )


if __name__ == "__main__":
    main()
