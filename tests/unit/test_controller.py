"""The controller's bookkeeping around reconciles, with a fake reconciler (no cluster)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from app_operator.controller import Controller
from app_operator.reconcile import Outcome


def app(name: str, generation: int = 1, namespace: str = "ns") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                         "generation": generation}, "spec": {}}


class FakeChildren:
    def __init__(self) -> None:
        self.namespaces: list[str | None] = [None]
        self.synced = threading.Event()
        self.synced.set()

    def start(self, on_change: Any) -> None:
        self.on_change = on_change

    def stop(self) -> None:
        pass

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self.synced.wait(timeout)


class FakeKube:
    def __init__(self, listed: list[dict[str, Any]]) -> None:
        self.listed = listed
        self.listing = threading.Event()
        self.listing.set()

    def list_all(self, kind: str, namespace: str | None, selector: str,
                 keep: Callable[[dict[str, Any]], Any]) -> tuple[list[Any], str]:
        self.listing.wait(5)
        return [keep(item) for item in self.listed], "1"

    def counts(self) -> dict[str, int]:
        return {"reads": 1, "writes": 0}

    def flush_events(self) -> None:
        pass


class FakeReconciler:
    def __init__(self, listed: list[dict[str, Any]]) -> None:
        self.kube = FakeKube(listed)
        self.children = FakeChildren()
        self.seen: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def reconcile(self, body: dict[str, Any]) -> Outcome:
        with self.lock:
            self.seen.append((body["metadata"]["name"], body["metadata"]["generation"]))
        return Outcome()

    def forget(self, uid: str) -> None:
        pass


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def first_pass_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="app_operator.controller")
    return caplog


def passes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "first pass done" in r.getMessage()]


@pytest.mark.parametrize("list_first", [True, False])
def test_first_pass_is_reported_once_every_listed_app_was_checked(
        first_pass_log: pytest.LogCaptureFixture, list_first: bool) -> None:
    reconciler = FakeReconciler([app("a"), app("b")])
    if not list_first:
        reconciler.kube.listing.clear()  # the list answers after the reconciles ran
    controller = Controller(reconciler, workers=2)  # type: ignore[arg-type]
    controller.start()
    try:
        controller.on_app_event(None, app("a"))
        if list_first:
            time.sleep(0.2)
            assert passes(first_pass_log) == []  # b is still to be checked
        controller.on_app_event(None, app("b"))
        wait_until(lambda: len(reconciler.seen) == 2)
        reconciler.kube.listing.set()
        wait_until(lambda: passes(first_pass_log))
        assert "Apps checked 2, writes 0, reads 1" in passes(first_pass_log)[0]
        controller.on_app_event("MODIFIED", app("a", generation=2))
        wait_until(lambda: ("a", 2) in reconciler.seen)
        assert len(passes(first_pass_log)) == 1
    finally:
        controller.stop()


def test_deleted_or_terminating_apps_do_not_hold_up_the_first_pass(
        first_pass_log: pytest.LogCaptureFixture) -> None:
    reconciler = FakeReconciler([app("a"), app("gone"), app("leaving")])
    controller = Controller(reconciler, workers=1)  # type: ignore[arg-type]
    leaving = app("leaving")
    leaving["metadata"]["deletionTimestamp"] = "2026-11-28T00:00:00Z"
    controller.start()
    try:
        time.sleep(0.1)
        controller.on_app_event(None, app("a"))
        controller.on_app_event(None, leaving)
        controller.on_app_event("DELETED", app("gone"))
        wait_until(lambda: passes(first_pass_log))
        assert reconciler.seen == [("a", 1)]
    finally:
        controller.stop()


def test_own_status_write_events_do_not_cause_reconciles() -> None:
    reconciler = FakeReconciler([])
    controller = Controller(reconciler, workers=1)  # type: ignore[arg-type]
    controller.start()
    try:
        controller.on_app_event(None, app("a"))
        wait_until(lambda: len(reconciler.seen) == 1)
        time.sleep(0.05)
        controller.on_app_event("MODIFIED", app("a"))  # same generation: our status write
        time.sleep(0.2)
        assert reconciler.seen == [("a", 1)]
        reconciler.children.on_change({"metadata": {
            "namespace": "ns", "labels": {"app.kubernetes.io/instance": "a"}}})
        wait_until(lambda: len(reconciler.seen) == 2)  # a child changed: checked again
    finally:
        controller.stop()
