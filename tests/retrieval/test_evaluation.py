"""``eval retrieval`` on real twcs, BANKING77 and ECD loaded by the real ingestor.

Small slices keep the test inside its budget; the full sets run from the CLI (see
docs/retrieval.md for the numbers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infinstruct.core.settings import Settings
from infinstruct.retrieval.evaluation import evaluate_retrieval
from infinstruct.retrieval.fusion import load_weights
from tests.conftest import shared_path
from tests.retrieval.conftest import banking_slice, ingest, make_settings

pytestmark = pytest.mark.slow

KEYS = {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "n"}


@pytest.fixture(scope="module")
def eval_store(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp("retrieval-eval")
    settings = make_settings(root / "var", _migrated_template)
    ingest(settings, shared_path("support", "twcs_head5000_pandas"))
    ingest(settings, banking_slice(root / "banking77", every=8), corpus="banking77")
    ingest(settings, shared_path("zh", "ecd_taobao_customer_service"))
    yield settings


@pytest.fixture(scope="module")
def report(eval_store: Settings) -> dict[str, dict[str, dict[str, float]]]:
    return evaluate_retrieval(eval_store, limit=400)


def test_report_shape_and_fitted_weights(
    report: dict[str, dict[str, dict[str, float]]], eval_store: Settings
) -> None:
    assert set(report) == {"twcs", "banking77", "ecd_zh"}
    for methods in report.values():
        assert set(methods) == {"dense", "bm25", "hybrid"}
        for metrics in methods.values():
            assert set(metrics) >= KEYS and metrics["n"] > 10
            assert 0 <= metrics["recall@1"] <= metrics["recall@5"] <= metrics["recall@10"] <= 1
    weights = load_weights(eval_store)
    assert set(weights) == {"en", "zh"}
    assert report["ecd_zh"]["hybrid"]["dense_weight"] == weights["zh"]["dense_weight"]


def test_retrieval_beats_its_label_shuffled_control(report: dict[str, dict[str, dict[str, float]]]) -> None:
    for name, methods in report.items():
        for method, metrics in methods.items():
            if name == "ecd_zh" and method == "dense":
                continue  # the English MiniLM is near chance on Chinese: documented, not hidden
            assert metrics["recall@10"] > 0.15, (name, method, metrics)
            assert metrics["control_recall@10"] <= 0.2 * metrics["recall@10"], (name, method, metrics)
    # The semantic model must matter on paraphrased intents.
    assert report["banking77"]["dense"]["mrr"] > report["banking77"]["bm25"]["mrr"]


def test_cli_eval_json(eval_store: Settings, report: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from infinstruct.cli import app

    monkeypatch.setenv("INFINSTRUCT_DATA_DIR", str(eval_store.data_dir))
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "retrieval", "--json", "--limit", "400", "--set", "ecd_zh"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(data) == {"ecd_zh"} and set(data["ecd_zh"]["hybrid"]) >= KEYS

    bad = runner.invoke(app, ["eval", "retrieval", "--set", "nope"])
    assert bad.exit_code == 2 and "--set must be one of" in bad.output


def test_cli_index_and_search_json(store: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """On a copy of the small shared store (its embedding cache included, so nothing is
    re-encoded): the shared store stays without an index for test_index."""
    import shutil

    from infinstruct.cli import app

    copy = shutil.copytree(store.data_dir, tmp_path / "var")
    monkeypatch.setenv("INFINSTRUCT_DATA_DIR", str(copy))
    runner = CliRunner()
    built = runner.invoke(app, ["index", "build", "--json"])
    assert built.exit_code == 0, built.output
    assert json.loads(built.stdout.strip().splitlines()[-1])["count"] > 0
    status = runner.invoke(app, ["index", "status", "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["in_sync"] is True
    found = runner.invoke(
        app, ["search", "my card has not arrived", "--k", "2", "--corpus", "bank-a", "--json"]
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout.strip().splitlines()[-1])["hits"]
    assert len(hits) == 2 and {"doc_id", "corpus", "title", "snippet", "score"} <= set(hits[0])
    filtered = runner.invoke(app, ["search", "company news", "--ticker", "AAPL", "--json"])
    assert filtered.exit_code == 0, filtered.output
    assert [h["title"] for h in json.loads(filtered.stdout)["hits"]] == ["Apple beats earnings estimates"]
    bad = runner.invoke(app, ["search", "x", "--mode", "nope"])
    assert bad.exit_code == 2 and "--mode must be one of" in bad.output
