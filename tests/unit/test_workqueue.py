"""The work queue: deduplication, one worker per key, delayed retries."""

import threading
import time

from app_operator.runtime.workqueue import WorkQueue


def test_duplicate_keys_collapse() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert [queue.get(), queue.get()] == ["a", "b"]
    assert len(queue) == 0


def test_key_added_while_processing_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    assert queue.get() == "a"
    queue.add("a")  # an event arrives while "a" is being reconciled
    assert len(queue) == 0  # not handed to a second worker
    queue.done("a")
    assert queue.get() == "a"


def test_add_after_waits() -> None:
    queue: WorkQueue[str] = WorkQueue()
    start = time.monotonic()
    queue.add_after("a", 0.2)
    assert queue.get() == "a"
    assert time.monotonic() - start >= 0.19


def test_retry_backs_off_and_forget_resets() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=1, max_delay=4)
    assert [queue.retry("a") for _ in range(4)] == [1, 2, 4, 4]
    queue.forget("a")
    assert queue.retry("a") == 1


def test_shutdown_releases_waiting_workers() -> None:
    queue: WorkQueue[str] = WorkQueue()
    waiting = threading.Event()
    wait = queue._cond.wait

    def signalling_wait(timeout: float | None = None) -> bool:
        waiting.set()  # the lock is held: shutdown() can only run once this waits
        return wait(timeout)

    queue._cond.wait = signalling_wait  # type: ignore[method-assign]
    results: list[str | None] = []
    worker = threading.Thread(target=lambda: results.append(queue.get()))
    worker.start()
    assert waiting.wait(timeout=10), "the worker never waited"
    queue.shutdown()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert results == [None]


def test_a_waiting_worker_gets_a_key_added_later() -> None:
    queue: WorkQueue[str] = WorkQueue()
    results: list[str | None] = []
    worker = threading.Thread(target=lambda: results.append(queue.get()))
    worker.start()
    queue.add("a")
    worker.join(timeout=10)
    assert results == ["a"]


def test_a_key_waits_for_one_delayed_turn_the_earliest_asked_for() -> None:
    """A reconcile that asks to run again later, each time it runs, must not start a new
    chain of turns each time (client-go's delaying queue keeps one, the earliest)."""
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("a", 600)
    queue.add_after("a", 0.05)
    queue.add_after("a", 300)
    assert len(queue) == 1
    assert queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0  # the later turns were the same one
