"""Training throughput: our loop vs a plain ``transformers.Trainer`` — same model (the
tiny-scratch recipe's shape, same init), same data, same optimiser settings, same run.
Each trainer runs in its own subprocess so peak memory (max RSS, or CUDA peak) is its own.

    python bench/train/run.py [--steps 30]   # writes bench/results/train.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.train.common import REPO, seeded_store


def _child(which: str, steps: int, folder: Path) -> dict[str, float]:
    from accelerate import Accelerator

    from infinstruct.finetune.training.config import load_config
    from infinstruct.finetune.training.data import collate, encode_examples, load_split
    from infinstruct.finetune.training.loop import Phase, Stream, peak_memory_mb, run_loop
    from infinstruct.finetune.training.methods import apply_method
    from infinstruct.finetune.training.scratch import build_model, train_tokenizer

    settings = seeded_store(folder / which)
    config = load_config(
        settings,
        "tiny-scratch",
        **{
            "optim.max_steps": steps,
            "pretrain.steps": 0,  # type: ignore[arg-type]
            "checkpoint.every_steps": 10_000,
        },
    )
    assert config.model.scratch is not None
    train = load_split(settings, config.data, "train", limit=config.data.max_train)  # type: ignore[arg-type]
    tokenizer = train_tokenizer(
        [m["content"] for e in train for m in e.chat()], config.model.scratch, folder / "tok"
    )
    features = encode_examples(tokenizer, train, max_len=config.data.max_seq_len)
    model = apply_method(config, build_model(config.model.scratch, tokenizer, seed=0))
    pad = tokenizer.pad_token_id
    started = time.monotonic()
    if which == "ours":
        result = run_loop(
            None,
            config,
            model=model,
            pad_id=pad,
            run_dir=folder / "run",
            resume=False,
            phases=[Phase("sft", steps, 1.0, [(Stream(features, seed=0), config.optim.batch_size)])],
            accelerator=Accelerator(cpu=True),
            show_progress=False,
        )
        tokens = result.tokens
    else:
        from transformers import Trainer

        counted = [0]

        def collator(batch: list[dict[str, list[int]]]) -> dict[str, object]:
            out = collate(batch, pad_id=pad)
            counted[0] += int(out["attention_mask"].sum())
            return out

        args = config.to_training_arguments(folder / "hf", report_to="none")
        args.save_strategy = "no"
        args.disable_tqdm = True
        Trainer(model=model, args=args, train_dataset=features, data_collator=collator).train()
        tokens = counted[0]
    seconds = time.monotonic() - started
    return {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_memory_mb": round(peak_memory_mb(), 1),
    }


def _run_child(which: str, steps: int, folder: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--steps", str(steps), "--folder", folder],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (>= 5).")
    parser.add_argument("--child", choices=["ours", "trainer"])
    parser.add_argument("--folder")
    args = parser.parse_args()
    os.chdir(REPO)
    if args.child:
        print(json.dumps(_child(args.child, args.steps, Path(args.folder))))
        return
    from bench.common import interleave, machine_info, spread, write_result

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10_000))

        def side(which: str) -> dict[str, float]:
            row = _run_child(which, args.steps, f"{tmp}/{next(counter)}")
            return {k: row[k] for k in ("tokens_per_s", "peak_memory_mb", "tokens", "seconds")}

        timings = interleave(
            {"ours": lambda: side("ours"), "trainer": lambda: side("trainer")}, rounds=args.rounds
        )
    ratio = [
        o / t
        for o, t in zip(
            timings["ours"]["tokens_per_s"]["rounds"],
            timings["trainer"]["tokens_per_s"]["rounds"],
            strict=True,
        )
    ]
    print(f"{'trainer':10} {'tokens/s median':>16} {'p25-p75':>17} {'peak MiB median':>16}")
    for which in ("ours", "trainer"):
        t, m = timings[which]["tokens_per_s"], timings[which]["peak_memory_mb"]
        print(f"{which:10} {t['median']:16.1f} {t['p25']:>8.1f}-{t['p75']:<8.1f} {m['median']:16.1f}")
    path = write_result(
        "train",
        {
            "what": "training throughput and peak memory: our loop vs transformers.Trainer, same model "
            "(tiny-scratch shape, same init), same data and optimiser settings; each side in its own "
            "subprocess per round (peak = that process's max RSS, or CUDA peak)",
            "produced_by": f"python bench/train/run.py --steps {args.steps} --rounds {args.rounds}",
            "machine": machine_info(),
            "inputs": {
                "recipe": "tiny-scratch",
                "steps": args.steps,
                "data": "real twcs + PhraseBank AllAgree instruction examples (bench/train/common.py)",
                "rounds": args.rounds,
            },
            "timings": timings,
            "ours_over_trainer_tokens_per_s": spread(ratio, 3),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
