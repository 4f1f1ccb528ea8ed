"""Embed the benchmark texts once and keep the vectors on disk, so both sides' index builds
can be timed on the same precomputed vectors (embedding 100k chunks on two shared cores takes
far longer than either build; it is the same work for both sides and is measured separately).

    python -m bench.retrieval.vectorcache [--n 100000] [--queries 200]

Blocks of 5,000 texts are saved as ``<folder>/<sha256 of the block's texts>.npy``: a run that
stops part way resumes at the first missing block, and a block is reused only for exactly the
texts it was computed from.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "var" / "bench-retrieval" / "vectors"
BLOCK = 5_000
log = logging.getLogger("bench.retrieval")


def _key(texts: list[str], model: str) -> str:
    digest = hashlib.sha256(model.encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def cached_vectors(
    texts: list[str], embedder: Any, folder: Path = FOLDER
) -> tuple[np.ndarray, dict[str, Any]]:
    """Vectors for ``texts`` (float32, unit-normalised) and how many were embedded now vs read
    back, with the embedding rate of the texts embedded now."""
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[np.ndarray] = []
    embedded, seconds = 0, 0.0
    for start in range(0, len(texts), BLOCK):
        block = texts[start : start + BLOCK]
        path = folder / f"{_key(block, embedder.model_name)}.npy"
        if path.exists():
            parts.append(np.load(path))
            continue
        began = time.perf_counter()
        vectors = np.asarray(embedder.embed(block), dtype=np.float32)
        seconds += time.perf_counter() - began
        embedded += len(block)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        log.info("embedded %d/%d texts (%.0f/s)", start + len(block), len(texts), embedded / seconds)
        parts.append(vectors)
    out = np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), dtype=np.float32)
    info = {
        "embedded_now": embedded,
        "read_back": len(texts) - embedded,
        "embed_per_s": round(embedded / seconds, 1) if seconds else None,
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    return out, info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import tempfile

    from bench.retrieval.corpus import bench_texts
    from infinstruct.core.settings import load_settings
    from infinstruct.embeddings.embedder import load_embedder

    settings = load_settings(data_dir=Path(tempfile.mkdtemp()), embeddings={"device": "cpu"})
    texts, _ = bench_texts(args.n + args.queries)
    _, info = cached_vectors(texts, load_embedder(settings))
    print(info)


if __name__ == "__main__":
    main()
