"""Retrieval benchmark: infinstruct's retriever vs LangChain ``FAISS.from_documents`` +
``HuggingFaceEmbeddings``, both doing what a user of each gets, on the same texts and model.

    python -m bench.retrieval [--sizes 10000,100000] [--rounds 5] [--queries 40]

What is timed, per side, in ``--rounds`` interleaved rounds (ours, LangChain, ours, ...):

* **build** — ours: ``build_index(settings, full=True)`` on a store that already holds the N
  texts as documents (ingested through the connectors, untimed): chunk sync, reading the live
  chunks, reading their vectors from the embedding cache (SQLite), the FAISS index (flat),
  the BM25 index, writing the index files. LangChain: ``FAISS.from_documents(docs, emb)`` on
  N in-memory ``Document``s: its ``embed_documents`` call, the FAISS index, the docstore.
  Embedding the N texts is the same work for both (same model, same texts) and would dwarf
  both builds on two shared cores, so it is done once up front (``bench/retrieval/vectorcache.py``,
  its rate reported) and both builds read those vectors: ours from its embedding cache
  (filled from them), LangChain through an ``Embeddings`` whose ``embed_documents`` returns
  them (and whose ``embed_query`` is the real ``HuggingFaceEmbeddings``).
* **single query** — ``retriever.invoke(text)`` for each query: embed the query with the
  model, search top 10, return ``Document``s with their text (ours hydrates them from the
  store). p50/p95 per round; ours in ``dense`` mode (the same work as LangChain's) and in the
  product's default ``hybrid`` mode (dense + BM25).
* **batched** — ``retriever.batch(queries)`` on both (LangChain's ``Runnable.batch``, the
  batch call both retrievers offer); queries per second.

Texts: ``--unique`` (10,000) distinct real chunks from ../shared/data
(``bench/retrieval/corpus.py``); a larger size repeats them, each copy its own document with
its own id (embedding 100k distinct texts takes hours on two shared cores; a flat index's build
and search cost depends on the count). Queries are real chunks that are not in the index. Writes ``bench/results/retrieval.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import interleave, machine_info, percentile, timed, write_result
from bench.retrieval.corpus import bench_texts
from bench.retrieval.vectorcache import cached_vectors

log = logging.getLogger("bench.retrieval")
K = 10


class _Precomputed:
    """An embedder over precomputed vectors (to fill our embedding cache without re-embedding)."""

    def __init__(self, real: Any, table: dict[str, np.ndarray]) -> None:
        self.model_name, self.dimension, self._real, self._table = (
            real.model_name,
            real.dimension,
            real,
            table,
        )
        self.missing = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self._table]
        if missing:  # the store changed the text (normalisation): embed those for real
            self.missing += len(missing)
            for text, vector in zip(missing, self._real.embed(missing), strict=True):
                self._table[text] = vector
        return np.stack([self._table[t] for t in texts])


def _our_store(texts: list[str], table: dict[str, np.ndarray], embedder: Any, folder: Path) -> Any:
    """A store holding the texts as documents, its embedding cache filled from ``table``."""
    from sqlmodel import select

    from infinstruct.core.db import session_scope, upgrade
    from infinstruct.core.settings import load_settings
    from infinstruct.core.tables import Chunk
    from infinstruct.embeddings.embedder import embed_cached
    from infinstruct.retrieval.chunks import sync_chunks
    from infinstruct.services import build_ingestor

    settings = load_settings(
        data_dir=folder, embeddings={"device": "cpu"}, retrieval={"index_kind": "flat", "use_gpu": False}
    )
    upgrade(settings)
    source = folder / "bench.jsonl"
    with source.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"guid": f"bench-{i}", "text": text}, ensure_ascii=False) + "\n")
    report = build_ingestor(settings)(source, connector="news", corpus="bench")
    log.info("ingested %s documents", report.get("loaded"))
    with session_scope(settings) as session:
        sync_chunks(session, settings)
    with session_scope(settings) as session:
        rows = session.exec(select(Chunk.text, Chunk.content_hash).where(Chunk.stale == False)).all()  # noqa: E712
    fill = _Precomputed(embedder, table)
    for start in range(0, len(rows), 2000):
        part = rows[start : start + 2000]
        embed_cached(settings, [r[0] for r in part], embedder=fill, hashes=[r[1] for r in part])
    return settings, {
        "documents": report.get("loaded"),
        "chunks": len(rows),
        "embedded_at_setup": fill.missing,
    }


class _CachedHF(Embeddings):
    """LangChain ``Embeddings``: documents from the precomputed vectors, queries for real."""

    def __init__(self, hf: Any, table: dict[str, np.ndarray]) -> None:
        self.hf, self.table = hf, table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t].tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.hf.embed_query(text)  # type: ignore[no-any-return]


def _langchain(texts: list[str], table: dict[str, np.ndarray]) -> tuple[Any, Any]:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings

    from infinstruct.core.bundled_models import minilm_path

    hf = HuggingFaceEmbeddings(
        model_name=str(minilm_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    docs = [Document(page_content=t, metadata={"id": f"bench-{i}"}) for i, t in enumerate(texts)]
    return _CachedHF(hf, table), docs


def _single(retriever: Any, queries: list[str]) -> dict[str, float]:
    samples = []
    for q in queries:
        seconds, docs = timed(lambda q=q: retriever.invoke(q))
        assert len(docs) == K and all(d.page_content for d in docs), "a retriever returned no text"
        samples.append(seconds * 1000)
    return {"p50_ms": percentile(samples, 50), "p95_ms": percentile(samples, 95)}


def _batched(retriever: Any, queries: list[str]) -> float:
    seconds, out = timed(lambda: retriever.batch(queries))
    assert len(out) == len(queries) and all(len(d) == K and d[0].page_content for d in out)
    return len(queries) / seconds


def run_size(n: int, *, n_queries: int, rounds: int, unique: int, embedder: Any) -> dict[str, Any]:
    from langchain_community.vectorstores import FAISS

    from infinstruct.retrieval.index_store import build_index
    from infinstruct.retrieval.retriever import InfinstructRetriever

    every, n_real = bench_texts(min(n, unique) + n_queries)
    vectors, embed_info = cached_vectors(every, embedder)
    queries, pool = every[:n_queries], every[n_queries:]
    table = {t: vectors[i + n_queries] for i, t in enumerate(pool)}
    # Past ``unique`` texts the pool repeats (each copy its own document id): embedding 100k
    # distinct texts on two shared cores would take hours, and a flat index's build and search
    # cost depends on the count, not on whether two vectors are equal.
    texts = [pool[i % len(pool)] for i in range(n)]
    folder = Path(tempfile.mkdtemp(prefix=f"bench-retrieval-{n}-"))
    settings, store_info = _our_store(texts, table, embedder, folder)
    lc_embeddings, docs = _langchain(texts, table)
    dense = InfinstructRetriever(settings=settings, k=K, mode="dense")
    hybrid = InfinstructRetriever(settings=settings, k=K, mode="hybrid")
    built: dict[str, Any] = {}

    def ours() -> dict[str, float]:
        build_s, report = timed(lambda: build_index(settings, full=True))
        assert report["count"] == len(texts), report
        dense.invoke(queries[0])  # load the new index generation (untimed, as a server would)
        single, single_h = _single(dense, queries), _single(hybrid, queries)
        return {
            "build_s": build_s,
            "single_p50_ms": single["p50_ms"],
            "single_p95_ms": single["p95_ms"],
            "hybrid_single_p50_ms": single_h["p50_ms"],
            "hybrid_single_p95_ms": single_h["p95_ms"],
            "batch_qps": _batched(dense, queries),
            "hybrid_batch_qps": _batched(hybrid, queries),
        }

    def langchain() -> dict[str, float]:
        build_s, store = timed(lambda: FAISS.from_documents(docs, lc_embeddings))
        built["langchain"] = retriever = store.as_retriever(search_kwargs={"k": K})
        single = _single(retriever, queries)
        return {
            "build_s": build_s,
            "single_p50_ms": single["p50_ms"],
            "single_p95_ms": single["p95_ms"],
            "batch_qps": _batched(retriever, queries),
        }

    dense.invoke(queries[0])  # warm both query paths (model load, first index load)
    timings = interleave({"ours": ours, "langchain": langchain}, rounds=rounds)
    agree = [
        len(
            {d.page_content for d in dense.invoke(q)} & {d.page_content for d in built["langchain"].invoke(q)}
        )
        / K
        for q in queries
    ]
    return {
        "n": n,
        "n_distinct_texts": len(pool),
        "n_real_chunks": min(n_real, len(pool)),
        "n_composite_chunks": max(len(pool) - n_real, 0),
        "n_repeated_copies": n - len(pool),
        "queries": n_queries,
        "embedding": {**embed_info, "vectors_for": n + n_queries},
        "store": store_info,
        "timings": timings,
        "ratios": _ratios(timings),
        "top10_overlap_ours_dense_vs_langchain": round(float(np.mean(agree)), 4),
    }


def _ratios(t: dict[str, Any]) -> dict[str, float]:
    o, lc = t["ours"], t["langchain"]
    return {
        "build_langchain_over_ours": round(lc["build_s"]["median"] / o["build_s"]["median"], 2),
        "single_p50_langchain_over_ours_dense": round(
            lc["single_p50_ms"]["median"] / o["single_p50_ms"]["median"], 2
        ),
        "batch_qps_ours_dense_over_langchain": round(o["batch_qps"]["median"] / lc["batch_qps"]["median"], 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="Comma-separated index sizes.")
    parser.add_argument("--queries", type=int, default=40, help="Queries per round (single and batched).")
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (>= 5).")
    parser.add_argument(
        "--unique",
        type=int,
        default=10_000,
        help="Distinct texts embedded; a larger size repeats them with new document ids.",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for noisy in ("sentence_transformers", "httpx", "faiss", "infinstruct"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from infinstruct.core.settings import load_settings
    from infinstruct.embeddings.embedder import load_embedder

    settings = load_settings(data_dir=Path(tempfile.mkdtemp()), embeddings={"device": "cpu"})
    embedder = load_embedder(settings)
    machine = machine_info()
    sizes = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        started = time.monotonic()
        sizes.append(
            run_size(n, n_queries=args.queries, rounds=args.rounds, unique=args.unique, embedder=embedder)
        )
        sizes[-1]["wall_s"] = round(time.monotonic() - started, 1)
        _print(sizes[-1])
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_result(
        "retrieval",
        {
            "what": "retriever.invoke / retriever.batch returning Documents with text: infinstruct vs "
            "LangChain FAISS.from_documents + HuggingFaceEmbeddings; index build from the same "
            "precomputed vectors (see the module docstring for exactly what is timed)",
            "produced_by": f"python -m bench.retrieval --sizes {args.sizes} --rounds {args.rounds} "
            f"--queries {args.queries} --unique {args.unique}",
            "machine": machine,
            "inputs": {
                "model": embedder.model_name,
                "k": K,
                "texts": "real chunks of ../shared/data (bench/retrieval/corpus.py), composites past the pool",
                "rounds": args.rounds,
                "queries_per_round": args.queries,
            },
            "sizes": sizes,
        },
    )
    print(f"wrote {path}")


def _print(row: dict[str, Any]) -> None:
    t = row["timings"]
    print(f"n={row['n']}  (median over rounds; p25-p75)")
    for side, keys in (
        ("ours", ("build_s", "single_p50_ms", "single_p95_ms", "batch_qps", "hybrid_single_p50_ms")),
        ("langchain", ("build_s", "single_p50_ms", "single_p95_ms", "batch_qps")),
    ):
        cells = [f"{k}={t[side][k]['median']} ({t[side][k]['p25']}-{t[side][k]['p75']})" for k in keys]
        print(f"  {side:10} " + "  ".join(cells))
    print(f"  ratios {row['ratios']}  overlap@10 {row['top10_overlap_ours_dense_vs_langchain']}")


if __name__ == "__main__":
    main()
