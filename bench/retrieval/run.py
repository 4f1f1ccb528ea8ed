"""Retrieval benchmark: infinstruct's index vs LangChain FAISS + HuggingFaceEmbeddings.

    python -m bench.retrieval [--sizes 10000,100000] [--queries 200] [--skip-quant]

Same model (the bundled MiniLM), same texts, same run. The N texts are embedded once (by
our embedder, timed) and both sides get those vectors for building and searching;
embedding speed itself is compared on a slice. Query latency is end to end: embed the
query text + search top 10. Prints a table, writes bench/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.retrieval.corpus import bench_texts
from infinstruct.platform.bundled_models import minilm_path
from infinstruct.platform.retrieval.embedder import load_embedder
from infinstruct.platform.retrieval.vectors import VectorIndex
from infinstruct.platform.settings import RetrievalSettings, load_settings

RESULTS = Path(__file__).resolve().parents[1] / "results" / "retrieval.json"
log = logging.getLogger("bench.retrieval")


def _pct(samples: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(samples) * 1000, q)), 2)


def _langchain_side(texts: list[str], vectors: np.ndarray) -> tuple[Any, Any, float]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from langchain_community.vectorstores import FAISS
    from langchain_huggingface import HuggingFaceEmbeddings

    hf = HuggingFaceEmbeddings(
        model_name=str(minilm_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    started = time.perf_counter()
    store = FAISS.from_embeddings(list(zip(texts, vectors.tolist(), strict=True)), embedding=hf)
    return hf, store, time.perf_counter() - started


def embed_speed(embedder: Any, hf: Any, texts: list[str]) -> dict[str, Any]:
    """Texts/s of our embedder vs HuggingFaceEmbeddings.embed_documents on the same slice."""
    embedder.embed(texts[:64])
    hf.embed_documents(texts[:64])  # warm both
    t = time.perf_counter()
    ours = embedder.embed(texts)
    ours_s = time.perf_counter() - t
    t = time.perf_counter()
    theirs = np.asarray(hf.embed_documents(texts), dtype=np.float32)
    theirs_s = time.perf_counter() - t
    agree = float(np.min(np.sum(ours * theirs, axis=1)))
    return {
        "n": len(texts),
        "ours_per_s": round(len(texts) / ours_s, 1),
        "langchain_per_s": round(len(texts) / theirs_s, 1),
        "min_cosine_agreement": round(agree, 5),
    }


def query_latency(embedder: Any, index: VectorIndex, queries: list[str]) -> list[float]:
    out = []
    for q in queries:
        t = time.perf_counter()
        index.search(embedder.embed([q]), 10)
        out.append(time.perf_counter() - t)
    return out


def langchain_latency(store: Any, queries: list[str]) -> list[float]:
    out = []
    for q in queries:
        t = time.perf_counter()
        store.similarity_search_with_score(q, k=10)
        out.append(time.perf_counter() - t)
    return out


def recall_at_10(exact: np.ndarray, approx: np.ndarray) -> float:
    return round(float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])), 4)


def run_size(n: int, *, n_queries: int, embedder: Any, dim: int) -> dict[str, Any]:
    texts, n_real = bench_texts(n + n_queries)
    queries, texts = texts[:n_queries], texts[n_queries:]
    log.info("size %d: embedding %d texts once", n, len(texts))
    t = time.perf_counter()
    vectors = embedder.embed(texts)
    embed_s = time.perf_counter() - t
    ids = np.arange(len(texts), dtype=np.int64)
    row: dict[str, Any] = {
        "n": n,
        "n_real": min(n_real, n),
        "embed_s": round(embed_s, 1),
        "embed_per_s": round(n / embed_s, 1),
    }

    builds: dict[str, VectorIndex] = {}
    for kind in ("flat", "hnsw"):
        t = time.perf_counter()
        builds[kind] = VectorIndex.build(
            vectors, ids, dimension=dim, cfg=RetrievalSettings(index_kind=kind, use_gpu=False)
        )
        row[f"build_{kind}_s"] = round(time.perf_counter() - t, 3)
    hf, lc_store, lc_build = _langchain_side(texts, vectors)
    row["build_langchain_s"] = round(lc_build, 3)
    row["embed_compare"] = embed_speed(embedder, hf, texts[:1000])

    # Single query, end to end (embed + top 10).
    query_latency(embedder, builds["flat"], queries[:5])
    langchain_latency(lc_store, queries[:5])
    for name, samples in (
        ("flat", query_latency(embedder, builds["flat"], queries)),
        ("hnsw", query_latency(embedder, builds["hnsw"], queries)),
        ("langchain", langchain_latency(lc_store, queries)),
    ):
        row[f"p50_{name}_ms"], row[f"p95_{name}_ms"] = _pct(samples, 50), _pct(samples, 95)

    # Batch search on the same query vectors (LangChain has no batch call: its loop).
    qv = embedder.embed(queries)
    for kind, index in builds.items():
        t = time.perf_counter()
        index.search(qv, 10)
        row[f"qps_{kind}"] = round(len(qv) / (time.perf_counter() - t), 1)
    t = time.perf_counter()
    for v in qv.tolist():
        lc_store.similarity_search_with_score_by_vector(v, k=10)
    row["qps_langchain"] = round(len(qv) / (time.perf_counter() - t), 1)

    exact = builds["flat"].search(qv, 10)[1]
    row["recall10_hnsw"] = recall_at_10(exact, builds["hnsw"].search(qv, 10)[1])
    _, lc_hits = lc_store.index.search(qv, 10)  # LangChain's IndexFlatL2 on unit vectors: exact too
    row["recall10_langchain"] = recall_at_10(exact, lc_hits)
    for ef in (16, 32, 128):
        cfg = RetrievalSettings(index_kind="hnsw", hnsw_ef_search=ef, use_gpu=False)
        builds["hnsw"]._cfg = cfg
        builds["hnsw"]._apply_search_params()
        row[f"recall10_hnsw_ef{ef}"] = recall_at_10(exact, builds["hnsw"].search(qv, 10)[1])
    row["speedup_p50_hnsw_vs_langchain"] = round(row["p50_langchain_ms"] / row["p50_hnsw_ms"], 2)
    row["speedup_p50_flat_vs_langchain"] = round(row["p50_langchain_ms"] / row["p50_flat_ms"], 2)
    row["speedup_qps_flat_vs_langchain"] = round(row["qps_flat"] / row["qps_langchain"], 1)
    row["speedup_qps_hnsw_vs_langchain"] = round(row["qps_hnsw"] / row["qps_langchain"], 1)
    row["speedup_build_flat_vs_langchain"] = round(
        row["build_langchain_s"] / max(row["build_flat_s"], 1e-6), 1
    )
    return row


def quantized_backend(embedder: Any, texts: list[str]) -> dict[str, Any]:
    """int8 dynamic quantisation of the encoder's Linear layers (no extra package); ONNX
    is tried only when onnxruntime is installed."""
    import importlib.util

    import torch
    from sentence_transformers import SentenceTransformer

    out: dict[str, Any] = {"onnxruntime_installed": importlib.util.find_spec("onnxruntime") is not None}
    model = embedder.model
    base = embedder.embed(texts[:32])
    t = time.perf_counter()
    base = embedder.embed(texts)
    base_s = time.perf_counter() - t
    quant = SentenceTransformer(str(minilm_path()), device="cpu")
    quant[0].auto_model = torch.ao.quantization.quantize_dynamic(
        quant[0].auto_model, {torch.nn.Linear}, dtype=torch.qint8
    )
    quant.encode(texts[:32], normalize_embeddings=True)
    t = time.perf_counter()
    q = quant.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    q_s = time.perf_counter() - t
    cos = np.sum(base * q, axis=1)
    out["int8"] = {
        "speedup": round(base_s / q_s, 2),
        "mean_cosine": round(float(cos.mean()), 4),
        "min_cosine": round(float(cos.min()), 4),
    }
    out["int8"]["keep"] = out["int8"]["speedup"] >= 2.0 and out["int8"]["min_cosine"] >= 0.99
    del model
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated index sizes.")
    parser.add_argument("--queries", type=int, default=200, help="Queries per latency/recall test.")
    parser.add_argument("--skip-quant", action="store_true", help="Skip the int8/ONNX backend check.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("sentence_transformers", "httpx", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = load_settings(data_dir=Path(tempfile.mkdtemp()), embeddings={"device": "cpu"})
    embedder = load_embedder(settings)
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": [round(x, 1) for x in os.getloadavg()],
        },
        "model": embedder.model_name,
        "sizes": [],
    }
    for n in [int(s) for s in args.sizes.split(",") if s]:
        results["sizes"].append(
            run_size(n, n_queries=args.queries, embedder=embedder, dim=embedder.dimension)
        )
        _print(results)
    if not args.skip_quant:
        results["cpu_backend"] = quantized_backend(embedder, bench_texts(1000, seed=7)[0])
    results["machine"]["load_avg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2), encoding="utf-8")
    _print(results)
    print(f"wrote {RESULTS}")


def _print(results: dict[str, Any]) -> None:
    cols = [
        "n",
        "build_flat_s",
        "build_hnsw_s",
        "build_langchain_s",
        "p50_flat_ms",
        "p95_flat_ms",
        "p50_hnsw_ms",
        "p95_hnsw_ms",
        "p50_langchain_ms",
        "p95_langchain_ms",
        "qps_flat",
        "qps_hnsw",
        "qps_langchain",
        "recall10_hnsw",
        "embed_per_s",
    ]
    print(" | ".join(f"{c:>14}" for c in cols))
    for row in results["sizes"]:
        print(" | ".join(f"{row.get(c, ''):>14}" for c in cols))
    if "cpu_backend" in results:
        print("cpu backend:", json.dumps(results["cpu_backend"]))


if __name__ == "__main__":
    main()
