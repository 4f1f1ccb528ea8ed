"""Which torch device a setting names: the one rule for every model runtime.

Dialogue, sentiment and embeddings each had a copy, and only the dialogue one accepted
``mps``; a config that worked for one model was refused by the next.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from infinstruct.core.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str = "auto", *, setting: str = "device") -> str:
    """``auto`` means CUDA when torch sees a GPU, else the CPU; ``cuda:N`` picks a GPU.

    ``setting`` names the configuration key in the error, so the message says what to fix.
    """
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ConfigError(f"{setting} must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps' (got {device!r})")
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def native_bf16(device: str) -> bool:
    """Whether ``device`` (resolved) computes bfloat16 natively: a GPU that supports it, or a
    CPU with AVX512-BF16 or AMX. Elsewhere bf16 is emulated and slower than fp32."""
    if device.startswith("cuda"):
        import torch

        # including_emulation=False: a T4 or V100 says yes to bf16 otherwise, and emulates it
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))
    return device == "cpu" and _cpu_has_native_bf16()


@cache
def _cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX in /proc/cpuinfo (read once: the CPU does not change)."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:  # not Linux: no cheap way to tell, so the safe answer
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags
