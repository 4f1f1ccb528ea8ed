"""Every training method on the operator's own data: `infinstruct train compare` recorded.

    python bench/train/compare.py --data-dir DIR [--steps 30]   # writes bench/results/train-compare.json

DIR is a store holding the shared BANKING77 and twcs sample corpora
(``infinstruct ingest ../shared/data/support/…``). The script rebuilds its instruction set,
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import write_result

METHODS = "bottleneck,lora,ia3,prompt,prefix,adalora,full"


def command(steps: int) -> list[str]:
    return [
        "infinstruct", "train", "compare", "smollm2-lora", "--methods", METHODS,
        "--set", f"optim.max_steps={steps}", "--set", f"optim.warmup_steps={max(1, steps // 10)}",
        "--set", "optim.batch_size=4", "--set", "data.max_eval=16", "--json",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
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
