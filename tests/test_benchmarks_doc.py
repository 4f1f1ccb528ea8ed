"""docs/benchmarks.md is generated from bench/results/*.json: the two must agree, and every
result file of the benches here records where its numbers came from."""

from __future__ import annotations

import json

from bench.common import MIN_ROUNDS
from bench.report import DOC, RESULTS, SECTIONS, render


def test_benchmarks_doc_is_what_the_result_files_render() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/benchmarks.md disagrees with bench/results/*.json: run `make bench-doc` (or `make bench`)"
    )


def test_result_files_record_machine_commit_inputs_and_rounds() -> None:
    files = [p for p in RESULTS.glob("*.json") if p.stem in SECTIONS]
    assert files, "no bench/results/*.json: run `make bench`"
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in ("commit", "machine", "produced_by", "written_at"):
            assert data.get(key), f"{path.name} lacks {key!r}"
        assert len(data["machine"]["loadavg_1_5_15"]) == 3, path.name
        rounds = data.get("inputs", {}).get("rounds")
        if rounds is not None:
            assert rounds >= MIN_ROUNDS, f"{path.name}: {rounds} rounds (< {MIN_ROUNDS})"
