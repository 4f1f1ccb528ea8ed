"""OpenMP threads for the calling thread only.

``torch.set_num_threads`` is process-wide: ATen keeps one count, and every thread copies it
when it first runs a parallel op, so setting it for the decode thread would also change the
server's request threads (which embed questions) and every scheduler started later.
``omp_set_num_threads`` on the OpenMP runtime torch itself loaded changes only the calling
thread's setting, and ATen's parallel ops read that setting at each call.

Why the decode thread wants fewer threads: a one-row decode step is ~200 small kernels a
token, each an OpenMP parallel region. With other threads of the process running torch,
waking the worker for each region cost more than the second core's bandwidth gave:
bench/chat/serving.py measured the compiled fp32 step at 35.0 tok/s (0.68 of the
memory-bandwidth ceiling) with one thread against 24.2 (0.47) with two, beside the other
settings' models in the process (bench/results/chat.json).
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@cache
def _openmp() -> Any:
    """torch's OpenMP runtime (libgomp, libomp or libiomp5), or None where none is found."""
    import torch

    lib = Path(torch.__file__).parent / "lib"
    libs = sorted(lib.glob("lib*omp*.so*")) + sorted(lib.glob("lib*omp*.dylib"))
    for name in [*map(str, libs), "libgomp.so.1"]:  # a distro torch links the system libgomp
        try:
            runtime = ctypes.CDLL(name)
        except OSError:
            continue
        if hasattr(runtime, "omp_set_num_threads"):
            return runtime
    log.info("no OpenMP runtime found beside torch: decode threads follow torch's default")
    return None


@contextmanager
def this_thread_threads(count: int) -> Iterator[None]:
    """Run the block with ``count`` OpenMP threads on this thread; other threads are untouched.

    Where torch's OpenMP runtime cannot be found the block runs unchanged.
    """
    import torch

    runtime = _openmp()
    before = torch.get_num_threads()  # also ATen's per-thread init, which would override ours
    if runtime is None or count == before:
        yield
        return
    runtime.omp_set_num_threads(count)
    try:
        yield
    finally:
        runtime.omp_set_num_threads(before)
