"""The process-wide dialogue pool: at most N models loaded, least recently used closed first."""

from __future__ import annotations

from collections.abc import Iterator

from infinstruct.chat.backends import DialoguePool


class _Backend:
    def __init__(self, version: str) -> None:
        self.version = version
        self.closed = False

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Iterator[str]:
        yield self.version

    def close(self) -> None:
        self.closed = True


def test_pool_keeps_at_most_capacity_and_closes_the_least_recently_used() -> None:
    pool = DialoguePool(capacity=2)
    loads: list[str] = []

    def get(name: str) -> _Backend:
        def load() -> _Backend:
            loads.append(name)
            return _Backend(name)

        backend = pool.get(("k", name), load)
        assert isinstance(backend, _Backend)
        return backend

    active = get("active")
    tried = get("v1")
    assert get("active") is active  # a hit: no second load, and "active" is now most recent
    newer = get("v2")  # evicts v1, the least recently used
    assert tried.closed and not active.closed and not newer.closed
    assert pool.loaded() == ["active", "v2"]
    assert loads == ["active", "v1", "v2"]
