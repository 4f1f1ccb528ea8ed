"""``train compare``: every method on the same data, one row each with the issue's keys,
forgetting with ``--continual``, the last comparison kept; bad method names refused."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from infinstruct import services
from infinstruct.cli import app
from infinstruct.core.settings import Settings
from infinstruct.finetune.training.compare import ROW_KEYS, run_compare
from infinstruct.ui.operator.methods import comparison_markdown
from tests.finetune.training.conftest import FAST

QUICK: dict[str, Any] = {
    **FAST,
    "pretrain.steps": 2,
    "pretrain.max_chars": 60_000,
    "optim.max_steps": 4,
    "data.max_train": 80,
    "data.max_eval": 8,
}


def test_compare_reports_every_method_and_forgetting(tiny_store: Settings) -> None:
    result = run_compare(
        tiny_store,
        "tiny-scratch",
        methods=["full", "bottleneck"],
        overrides=QUICK,
        continual="tiny-continual",
        isolate=False,  # in-process: the spawned child costs seconds of imports per method
    )
    rows = {r["method"]: r for r in result["methods"]}
    assert list(rows) == ["full", "bottleneck"]
    for row in rows.values():
        assert set(ROW_KEYS) <= set(row) and "error" not in row, row
        assert row["val_loss_after"] < row["val_loss_before"]
        assert row["tokens_per_s"] > 0 and row["artifact_mb"] > 0 and row["seconds"] > 0
        f = row["forgetting"]
        assert f["forgetting"] == round(f["first_val_loss_after"] - f["first_val_loss_before"], 5)
    full, adapters = rows["full"], rows["bottleneck"]
    assert full["trainable"] == full["total"] and full["trainable_share"] == 1.0
    assert adapters["total"] == full["total"] + adapters["trainable"]  # the adapters add to the base
    assert adapters["artifact_mb"] < full["artifact_mb"] / 5
    # Same data and seed: the untrained models score the same examples (the base is the same
    # random init; zero-init adapters leave it unchanged).
    assert adapters["val_loss_before"] == full["val_loss_before"]
    assert result["continual"] == "tiny-continual" and result["examples"]["validation"] > 0
    assert services.last_method_comparison(tiny_store) == result
    # The console's Training tab shows it beside the recipe picker.
    shown = comparison_markdown(services.build_operator_backend(tiny_store))
    assert "| bottleneck |" in shown and "tiny-scratch" in shown


def test_compare_refuses_an_unknown_method(tiny_store: Settings) -> None:
    out = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(tiny_store.data_dir),
            "train",
            "compare",
            "tiny-scratch",
            "--methods",
            "lora,houlsby",
        ],
    )
    assert out.exit_code == 2, out.output
    assert "'lora,houlsby'" in out.output and "bottleneck" in out.output
