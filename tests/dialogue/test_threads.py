"""The decoding thread lowers its own OpenMP threads without touching any other thread."""

from __future__ import annotations

import threading

import pytest


def test_this_thread_threads_leaves_other_threads_alone() -> None:
    import torch

    from infinstruct.dialogue.threads import this_thread_threads

    default = torch.get_num_threads()
    if default < 2:
        pytest.skip("torch runs one thread here: there is nothing to lower")
    seen: dict[str, int] = {}
    inside, release = threading.Event(), threading.Event()

    def decoder() -> None:
        with this_thread_threads(1):
            seen["inside"] = torch.get_num_threads()
            inside.set()
            release.wait(10)
        seen["after"] = torch.get_num_threads()

    worker = threading.Thread(target=decoder)
    worker.start()
    assert inside.wait(10)
    seen["main, meanwhile"] = torch.get_num_threads()
    fresh: list[int] = []  # a thread that starts meanwhile (a server's request thread)
    starter = threading.Thread(target=lambda: fresh.append(torch.get_num_threads()))
    starter.start()
    starter.join()
    release.set()
    worker.join()
    assert seen == {"inside": 1, "after": default, "main, meanwhile": default}
    assert fresh == [default]
