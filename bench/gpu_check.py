"""GPU smoke check: a few bf16 LoRA steps of a causal LM on the GPU; throughput and MFU.

    python bench/gpu_check.py [--base smollm2] [--steps 10] [--batch 8] [--seq 512]

On a machine without CUDA it prints a note and exits 0. MFU = achieved model FLOPs
(6 * parameters * tokens/s, the usual training estimate) / the GPU's peak dense bf16 FLOPs
(looked up by name; pass --peak-tflops for others). Writes bench/results/gpu_check.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0, "4090": 165.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="smollm2")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--peak-tflops", type=float, default=None)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device here; nothing to measure (the GPU paths are exercised where a GPU is present)"
        )
        return 0
    from infinstruct.core.settings import load_settings
    from infinstruct.dialogue import load_causal_lm
    from infinstruct.finetune.training.config import build_config
    from infinstruct.finetune.training.methods import apply_method

    settings = load_settings(data_dir=Path(tempfile.mkdtemp()))
    model, _ = load_causal_lm(settings, args.base, device="cuda", dtype="bf16")
    config = build_config(
        {
            "model": {"gradient_checkpointing": True},
            "bf16": True,
            "method": {"lora": {"target_modules": "all-linear"}},
        },
        name="gpu-check",
    )
    model = apply_method(config, model)
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (args.batch, args.seq), device="cuda")
    for step in range(args.steps + 2):  # two warm-up steps are not timed
        if step == 2:
            torch.cuda.synchronize()
            started = time.monotonic()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    seconds = time.monotonic() - started
    tokens_per_s = args.batch * args.seq * args.steps / seconds
    name = torch.cuda.get_device_name()
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    mfu = 6 * params * tokens_per_s / (peak * 1e12) if peak else None
    result = {
        "device": name,
        "base": args.base,
        "parameters": params,
        "tokens_per_s": round(tokens_per_s, 1),
        "peak_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
        "loss": float(loss),
        "mfu": round(mfu, 4) if mfu else None,
        "peak_tflops": peak,
    }
    print(json.dumps(result, indent=2))
    out = REPO / "bench" / "results" / "gpu_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
