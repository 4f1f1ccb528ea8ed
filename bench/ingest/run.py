"""Ingest throughput: infinstruct vs pandas + per-row ORM insert vs LangChain CSVLoader.

Same files, same run, each into a fresh, already migrated SQLite store (LangChain only builds Documents; it
has no store, so its number is an upper bound for "parse only"). Records/s = source rows
read per wall-clock second, in ``--rounds`` interleaved rounds (median and spread).

    python bench/ingest/run.py [--rounds 5]      # writes bench/results/ingest.json
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
FILES = {
    "twcs (4,014 tweets)": DATA / "support" / "twcs_head5000_pandas" / "twcs.csv",
    "twitter fin. news (9,543)": DATA / "finance" / "twitter_financial_news_sentiment" / "sent_train.csv",
    "movielens ratings (80,535)": DATA / "items" / "movielens_latest_small" / "ratings.csv",
}


def _fresh_settings(folder: Path) -> object:
    from infinstruct.core.db import upgrade
    from infinstruct.core.settings import load_settings

    settings = load_settings(data_dir=folder)
    upgrade(settings)
    return settings


def run_infinstruct(path: Path, settings: object) -> int:
    from infinstruct.connectors.ingest import ingest

    report = ingest(settings, path, show_progress=False)  # type: ignore[arg-type]
    return int(report["read"])


def run_pandas_orm(path: Path, settings: object) -> int:
    """The common hand-written loader: pandas read, one ORM object per row, one commit."""
    import pandas as pd
    from sqlmodel import Session

    from infinstruct.core.db import get_engine
    from infinstruct.core.tables import Corpus, CorpusVersion, Document, Interaction

    frame = pd.read_csv(path)
    with Session(get_engine(settings)) as session:  # type: ignore[arg-type]
        corpus = Corpus(name="bench", domain="bench", connector="pandas")
        session.add(corpus)
        session.flush()
        version = CorpusVersion(corpus_id=corpus.id, version=1, content_hash="x")  # type: ignore[arg-type]
        session.add(version)
        session.flush()
        import hashlib

        for row in frame.itertuples(index=False):
            values = row._asdict()
            if "rating" in values:
                session.add(
                    Interaction(
                        corpus_id=corpus.id,
                        version_id=version.id,
                        user_id=str(values["userId"]),  # type: ignore[arg-type]
                        item_id=str(values["movieId"]),
                        kind="rating",
                        value=float(values["rating"]),
                    )
                )
            else:
                text = str(values.get("text", ""))
                doc_id = hashlib.sha256(f"{row}".encode()).hexdigest()[:32]
                session.add(
                    Document(
                        id=doc_id,
                        corpus_id=corpus.id,
                        version_id=version.id,
                        kind="labelled",  # type: ignore[arg-type]
                        text=text,
                    )
                )
        session.commit()
    return len(frame)


def run_langchain(path: Path, settings: object) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langchain_community.document_loaders import CSVLoader

    return len(CSVLoader(str(path), encoding="utf-8").load())


RUNNERS: dict[str, Callable[[Path, object], int]] = {
    "infinstruct": run_infinstruct,
    "pandas+ORM": run_pandas_orm,
    "LangChain CSVLoader": run_langchain,
}


def _rate(runner: Callable[[Path, object], int], path: Path) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        settings = _fresh_settings(folder)  # schema creation is not part of the load
        started = time.perf_counter()
        rows = runner(path, settings)
        seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"records_per_s": rows / seconds, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (>= 5).")
    args = parser.parse_args()
    missing = [str(p) for p in FILES.values() if not p.exists()]
    if missing:
        raise SystemExit(f"missing data: {missing} (the sets live in ../shared/data beside the repo)")
    sys.path.insert(0, str(REPO))
    from bench.common import interleave, machine_info, write_result

    results: dict[str, Any] = {}
    for label, path in FILES.items():
        sides = {name: (lambda r=runner, p=path: _rate(r, p)) for name, runner in RUNNERS.items()}
        results[label] = interleave(sides, rounds=args.rounds)
    header = f"{'file':28} " + " ".join(f"{n:>20}" for n in RUNNERS) + "  ratio vs pandas+ORM / LangChain"
    print(header)
    for label, row in results.items():
        med = {n: row[n]["records_per_s"]["median"] for n in RUNNERS}
        ours = med["infinstruct"]
        ratios = f"{ours / med['pandas+ORM']:.2f}x / {ours / med['LangChain CSVLoader']:.2f}x"
        print(f"{label:28} " + " ".join(f"{med[n]:>16.0f} r/s" for n in RUNNERS) + f"  {ratios}")
    path = write_result(
        "ingest",
        {
            "what": "ingest records/s: infinstruct vs pandas + per-row ORM insert vs LangChain CSVLoader; "
            "infinstruct and pandas+ORM include the SQLite writes, LangChain only parses",
            "produced_by": f"python bench/ingest/run.py --rounds {args.rounds}",
            "machine": machine_info(),
            "inputs": {
                "files": {k: str(v.relative_to(REPO.parent)) for k, v in FILES.items()},
                "rounds": args.rounds,
            },
            "results": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
