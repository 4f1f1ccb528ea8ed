"""Per-client rate limits (a sliding one-minute window, in memory per server process).

A server builds ONE limiter (``services.build_app``) and hands it to every channel that
spends model or database time for anonymous callers: ``/api/chat``, ``/v1``, the web chat,
``/api/recommend`` and ``/api/feedback``. Using several channels does not add budgets.
Clients are keyed by API token or by the peer address, which is only taken from a
forwarded header when the peer is one of ``server.trusted_proxies`` (uvicorn's proxy
headers, configured in ``services.run_server``).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from infinstruct.core.errors import LimitError


class RateLimitError(LimitError):
    """A client sent more requests than ``chat.rate_limit_per_minute`` allows."""


class RateLimiter:
    def __init__(self, per_minute: int, *, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Count one message from ``client``; raise when it is over its limit."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self._lock:
            seen = self._seen[client]
            while seen and now - seen[0] >= self.window_s:
                seen.popleft()
            if len(seen) >= self.per_minute:
                wait = self.window_s - (now - seen[0])
                raise RateLimitError(
                    f"more than {self.per_minute} requests a minute from this client "
                    f"(chat.rate_limit_per_minute); try again in {wait:.0f} s"
                )
            seen.append(now)
            if len(self._seen) > 10_000:  # forget idle clients so memory stays bounded
                for key in [k for k, v in self._seen.items() if not v or now - v[-1] >= self.window_s]:
                    del self._seen[key]
