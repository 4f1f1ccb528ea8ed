"""`infinstruct demo --smoke` runs the demo on the bundled samples and exits once /healthz answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from infinstruct.platform.settings import load_settings


@pytest.mark.slow
def test_demo_smoke(demo_store: Path) -> None:
    # The fixture ran the demo from outside the checkout and checked that it exited 0.
    from infinstruct.platform import registry
    from infinstruct.platform.corpus_visibility import visibility_by_corpus

    settings = load_settings(data_dir=demo_store)
    assert {v.kind for v in registry.list_versions(settings) if v.status == "active"} == {
        "dialogue",
        "sentiment",
    }
    shown = visibility_by_corpus(settings)
    assert shown["sample-help_centre"] == "public" and shown["sample-banking77"] == "internal"
