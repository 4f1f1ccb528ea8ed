"""Which torch device a setting names: the one rule for every model runtime.

Dialogue, sentiment and embeddings each had a copy, and only the dialogue one accepted
``mps``; a config that worked for one model was refused by the next.
"""

from __future__ import annotations

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
