"""Rate limits by tier and injected faults (SLACK_NOTES §8).

Tiers come from each method's `rate_limits` (t1..t4 = 1/20/50/100 per minute, per method per app per
workspace). `chat.postMessage` (t5, "Special") is 1 message per second per channel with a short burst.
Other t5 methods (auth.test, chat.getPermalink) get a generous limit: Bolt calls auth.test several times
concurrently (§7.1). A limited call answers HTTP 429 + integer `Retry-After` + `{"ok":false,"error":
"ratelimited"}` (§8.1).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from sandbox.slack.spec import TIER_PER_MINUTE

POST_BURST = 5  # messages a channel absorbs before the 1/s rule bites ("short bursts allowed")
WINDOW = 60.0


class RateLimiter:
    """Sliding one-minute windows per method, and a token bucket per channel for chat.postMessage.

    `time_scale` > 1 runs Slack's clock faster, for tests that must live through a storm in
    seconds: a tier's minute lasts `60 / time_scale` s and a channel takes `time_scale` messages a
    second; Retry-After stays a whole number of seconds, at least 1, as Slack sends it."""

    def __init__(self, *, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.window = WINDOW / time_scale
        self.posts_per_second = time_scale
        self._calls: dict[str, deque[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # channel → (tokens, last refill)

    def check(self, method: str, tier: str, channel: str | None = None) -> int | None:
        """Record the call and return a Retry-After in seconds when it must be refused."""
        now = time.monotonic()
        if method == "chat.postMessage":
            tokens, last = self._buckets.get(channel or "", (float(POST_BURST), now))
            tokens = min(float(POST_BURST), tokens + (now - last) * self.posts_per_second)
            if tokens < 1.0:
                self._buckets[channel or ""] = (tokens, now)
                return max(1, math.ceil((1.0 - tokens) / self.posts_per_second))
            self._buckets[channel or ""] = (tokens - 1.0, now)
            return None
        limit = TIER_PER_MINUTE.get(tier, 50)
        calls = self._calls.setdefault(method, deque())
        while calls and now - calls[0] >= self.window:
            calls.popleft()
        if len(calls) >= limit:
            return max(1, math.ceil(self.window - (now - calls[0])))
        calls.append(now)
        return None


@dataclass
class InjectedError:
    method: str
    error: str
    times: int


@dataclass
class InjectedRateLimit:
    method: str
    retry_after: int
    times: int


@dataclass
class Faults:
    """Faults a test asks for: latency, documented errors, 429s, lost Socket Mode acks."""

    latency: list[tuple[float, frozenset[str] | None]] = field(default_factory=list)
    errors: list[InjectedError] = field(default_factory=list)
    rate_limits: list[InjectedRateLimit] = field(default_factory=list)
    dropped_acks: int = 0

    def latency_for(self, method: str) -> float:
        return sum(
            seconds for seconds, methods in self.latency if methods is None or method in methods
        )

    def take_error(self, method: str) -> str | None:
        for fault in self.errors:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                return fault.error
        return None

    def take_rate_limit(self, method: str) -> int | None:
        for fault in self.rate_limits:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                return fault.retry_after
        return None

    def clear(self) -> None:
        self.latency.clear()
        self.errors.clear()
        self.rate_limits.clear()
        self.dropped_acks = 0
