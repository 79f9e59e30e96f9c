"""Rate limits: a token bucket per key (API keys, and client addresses for failed key
checks)."""

from __future__ import annotations

import threading
import time

__all__ = ["RateLimiter"]


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second, bursts of ``burst`` (by default two
    seconds' worth)."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else 2 * rate
        self.buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self.lock = threading.Lock()

    def has_tokens(self, key: str) -> bool:
        """Whether ``key`` could be allowed now (nothing is taken)."""
        if self.rate <= 0:
            return True
        with self.lock:
            tokens, last = self.buckets.get(key, (self.burst, time.monotonic()))
        return tokens + (time.monotonic() - last) * self.rate >= 1

    def allow(self, key: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1:
                self.buckets[key] = (tokens, now)
                return False
            self.buckets[key] = (tokens - 1, now)
            return True
