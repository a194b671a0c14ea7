"""A thread-safe work queue of App keys, in the manner of client-go's workqueue.

Many events about one App (its own, and its Deployment's status as pods start) collapse
into one pending reconcile; a key being reconciled is never handed to a second worker at
the same time, and is queued again afterwards if an event came in meanwhile; failed keys
come back after an exponential backoff. A key waits for its delayed turn once, at the
earliest time asked for (as client-go's delaying queue): a reconcile that asks to be run
again later, each time it runs, does not start a new chain of turns every time.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from app_operator.runtime import metrics

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, base_delay: float = 0.5, max_delay: float = 300.0,
                 name: str = metrics.CONTROLLER) -> None:
        self.name = name
        self._cond = threading.Condition()
        self._added_at: dict[K, float] = {}
        self._started_at: dict[K, float] = {}
        self._queue: deque[K] = deque()
        self._queued: set[K] = set()
        self._processing: set[K] = set()
        self._dirty: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []
        self._waiting: dict[K, float] = {}  # key -> when it is due; older heap entries stale
        self._sequence = 0
        self._failures: dict[K, int] = {}
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._shutdown = False

    def add(self, key: K) -> None:
        with self._cond:
            self._add_locked(key)

    def _add_locked(self, key: K) -> None:
        if self._shutdown or key in self._queued:
            return
        if key in self._processing:
            self._dirty.add(key)
            return
        self._queued.add(key)
        self._queue.append(key)
        self._added_at[key] = time.monotonic()
        metrics.queue_adds.labels(self.name).inc()
        metrics.queue_depth.labels(self.name).set(len(self._queue))
        self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        """Queue the key once `delay` seconds have passed, unless it waits already for a
        turn that comes sooner."""
        with self._cond:
            due = time.monotonic() + delay
            waiting = self._waiting.get(key)
            if self._shutdown or (waiting is not None and waiting <= due):
                return
            self._waiting[key] = due
            self._sequence += 1
            heapq.heappush(self._delayed, (due, self._sequence, key))
            self._cond.notify()

    def retry(self, key: K, at_least: float | None = None) -> float:
        """Queue a failed key again after a backoff that doubles with each failure (and is
        at least `at_least`, e.g. the server's Retry-After)."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = float(min(self._base_delay * 2**failures, self._max_delay))
        delay = max(delay, at_least or 0.0)
        metrics.queue_retries.labels(self.name).inc()
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset a key's backoff after it succeeded."""
        with self._cond:
            self._failures.pop(key, None)

    def get(self) -> K | None:
        """The next key to work on, waiting for one; None once shut down."""
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    due, _, key = heapq.heappop(self._delayed)
                    if self._waiting.get(key) == due:
                        del self._waiting[key]
                        self._add_locked(key)
                if self._queue:
                    key = self._queue.popleft()
                    self._queued.discard(key)
                    self._processing.add(key)
                    metrics.queue_depth.labels(self.name).set(len(self._queue))
                    metrics.queue_duration.labels(self.name).observe(
                        now - self._added_at.pop(key, now))
                    self._started_at[key] = now
                    return key
                timeout = self._delayed[0][0] - now if self._delayed else None
                self._cond.wait(timeout)

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            started = self._started_at.pop(key, None)
            if started is not None:
                metrics.work_duration.labels(self.name).observe(time.monotonic() - started)
            if key in self._dirty:
                self._dirty.discard(key)
                self._add_locked(key)

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue) + len(self._waiting)
