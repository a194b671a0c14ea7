"""The work queue: deduplication, one worker per key, delayed retries."""

import threading
import time

from app_operator.workqueue import WorkQueue


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
    results: list[str | None] = []
    worker = threading.Thread(target=lambda: results.append(queue.get()))
    worker.start()
    queue.shutdown()
    worker.join(timeout=2)
    assert results == [None]
