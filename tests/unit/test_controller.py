"""The controller's bookkeeping around reconciles, with fake informers and a fake reconciler.

Most tests drive the controller's methods directly, one step at a time (no worker threads,
so nothing depends on timing); the last ones run the workers and wait for what they do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from app_operator.core import status
from app_operator.core.status import Problem
from app_operator.runtime.cache import Children, Informer
from app_operator.runtime.controller import REPORT_AFTER_FAILURES, Controller
from app_operator.runtime.kube import KubeError
from app_operator.runtime.reconcile import Outcome
from app_operator.runtime.workqueue import WorkQueue

RV = iter(range(1, 10**6))


def app(name: str, generation: int = 1, namespace: str = "ns", **meta: Any) -> dict[str, Any]:
    return {"kind": "App", "metadata": {
        "name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": generation,
        "resourceVersion": str(next(RV)), **meta}, "spec": {}}


class NoSource:
    def list_all(self, *_: Any, **__: Any) -> Any:
        raise AssertionError("the tests feed the stores by hand")

    def watch(self, *_: Any) -> Any:
        raise AssertionError("the tests feed the stores by hand")


class FakeInformer(Informer):
    """An App informer whose list and events the test delivers."""

    def __init__(self) -> None:
        super().__init__(NoSource(), "App", "")

    def start(self) -> None:
        pass

    def listed(self, *bodies: dict[str, Any]) -> None:
        for body in bodies:
            self.store.upsert(body)
        self.synced.set()
        self.following = True
        for body in bodies:
            self.on_change(body, False)

    def event(self, body: dict[str, Any], deleted: bool = False) -> None:
        if deleted:
            self.store.remove(body)
        elif not self.store.upsert(body):
            return
        self.on_change(body, deleted)


class FakeChildren:
    def __init__(self) -> None:
        self.on_change: Any = None
        self.informers: dict[Any, Informer] = {}
        self.optional: set[str] = set()

    def start(self, on_change: Any) -> None:
        self.on_change = on_change

    def stop(self) -> None:
        pass

    def wait_synced(self, timeout: float | None = None) -> bool:
        return True

    def holding(self, namespace: str) -> list[Informer]:
        return []


class FakeKube:
    def counts(self) -> dict[str, int]:
        return {"reads": 1, "writes": 0}

    def flush_events(self) -> None:
        pass


class FakeReconciler:
    def __init__(self) -> None:
        self.kube = FakeKube()
        self.children = FakeChildren()
        self.seen: list[tuple[str, int]] = []
        self.answers: list[Outcome | Exception] = []
        self.reported: list[str] = []
        self.forgotten: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def reconcile(self, body: dict[str, Any]) -> Outcome:
        with self.lock:
            self.seen.append((body["metadata"]["name"], body["metadata"]["generation"]))
            answer = self.answers.pop(0) if self.answers else Outcome()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def report_error(self, body: dict[str, Any], message: str) -> bool:
        self.reported.append(message)
        return True

    def forget(self, namespace: str, name: str) -> None:
        self.forgotten.append((namespace, name))


@pytest.fixture
def parts() -> Iterator[tuple[Controller, FakeReconciler, FakeInformer]]:
    reconciler = FakeReconciler()
    informer = FakeInformer()
    controller = Controller(reconciler, [informer], workers=0)  # type: ignore[arg-type]
    controller.start()
    yield controller, reconciler, informer
    controller.stop()


def run_queue(controller: Controller) -> None:
    """What the workers do, for whatever is due now."""
    while len(controller.queue._queue):
        key = controller.queue.get()
        assert key is not None
        try:
            controller._reconcile(key)
        finally:
            controller.queue.done(key)


def passes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "first pass done" in r.getMessage()]


def test_first_pass_is_reported_once_every_listed_app_was_checked(
        parts: tuple[Controller, FakeReconciler, FakeInformer],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app_operator.controller")
    controller, reconciler, informer = parts
    informer.listed(app("a"), app("b"))
    controller._first_pass_keys()
    assert passes(caplog) == []
    run_queue(controller)
    assert sorted(reconciler.seen) == [("a", 1), ("b", 1)]
    assert len(passes(caplog)) == 1
    assert "Apps checked 2, writes 0, reads 1" in passes(caplog)[0]
    informer.event(app("a", generation=2))
    run_queue(controller)
    assert len(passes(caplog)) == 1


def test_deleted_or_terminating_apps_do_not_hold_up_the_first_pass(
        parts: tuple[Controller, FakeReconciler, FakeInformer],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app_operator.controller")
    controller, reconciler, informer = parts
    gone = app("gone")
    informer.listed(app("a"), gone)
    controller._first_pass_keys()
    informer.event(gone, deleted=True)
    run_queue(controller)
    assert reconciler.seen == [("a", 1)]
    assert passes(caplog)


def test_a_deletion_missed_while_the_watch_was_down_forgets_the_app(
        parts: tuple[Controller, FakeReconciler, FakeInformer]) -> None:
    controller, reconciler, informer = parts
    body = app("a")
    informer.listed(body)
    reconciler.answers = [KubeError(503, "ServiceUnavailable", "busy")]
    run_queue(controller)
    assert ("ns", "a") in controller._state
    # The relist after a 410 no longer has "a": the informer reports it gone.
    informer.store.replace([], "100")
    informer.on_change(body, True)
    assert ("ns", "a") not in controller._state
    assert controller.queue._failures == {}
    # The reconciler's own memory of the App (children held back after an overridden
    # apply) goes in the same place.
    assert reconciler.forgotten == [("ns", "a")]
    # The retry that was due finds nothing to do: no ghost reconcile.
    controller.queue.add(("ns", "a"))
    run_queue(controller)
    assert reconciler.seen == [("a", 1)]


def test_a_child_change_wakes_its_app_and_only_a_known_one(
        parts: tuple[Controller, FakeReconciler, FakeInformer]) -> None:
    controller, reconciler, informer = parts
    informer.listed(app("a"))
    run_queue(controller)
    child = {"metadata": {"namespace": "ns", "labels": {"app.kubernetes.io/instance": "a"}}}
    reconciler.children.on_change(child, False)
    stranger = {"metadata": {"namespace": "ns", "labels": {"app.kubernetes.io/instance": "z"}}}
    reconciler.children.on_change(stranger, False)
    run_queue(controller)
    assert reconciler.seen == [("a", 1), ("a", 1)]


def test_an_invalid_spec_waits_for_a_new_generation(
        parts: tuple[Controller, FakeReconciler, FakeInformer]) -> None:
    controller, reconciler, informer = parts
    reconciler.answers = [Outcome(problem=Problem(status.INVALID_SPEC, "spec.x: bad"))]
    informer.listed(app("a"))
    run_queue(controller)
    assert controller.queue._delayed == []  # no retry scheduled
    informer.event(app("a", generation=2))
    run_queue(controller)
    assert reconciler.seen == [("a", 1), ("a", 2)]


def test_other_stalls_are_retried_with_backoff(
        parts: tuple[Controller, FakeReconciler, FakeInformer]) -> None:
    controller, reconciler, informer = parts
    reconciler.answers = [Outcome(problem=Problem(status.NAME_CONFLICT, "taken"))]
    informer.listed(app("a"))
    run_queue(controller)
    assert [key for _, _, key in controller.queue._delayed] == [("ns", "a")]


def test_a_persisting_transient_error_is_reported_and_retry_after_is_honoured(
        parts: tuple[Controller, FakeReconciler, FakeInformer]) -> None:
    controller, reconciler, informer = parts
    informer.listed(app("a"))
    errors = [KubeError(429, "TooManyRequests", "slow down", retry_after=7.0)
              for _ in range(REPORT_AFTER_FAILURES)]
    reconciler.answers = list(errors)
    for attempt in range(REPORT_AFTER_FAILURES):
        if attempt:
            controller.queue.add(("ns", "a"))
        run_queue(controller)
        due = max(at for at, _, _ in controller.queue._delayed)
        assert due - time.monotonic() > 6.0  # Retry-After: 7 s
        assert reconciler.reported == ([] if attempt < REPORT_AFTER_FAILURES - 1 else
                                       ["429 TooManyRequests: slow down"])
    # Success clears the failure.
    controller.queue.add(("ns", "a"))
    run_queue(controller)
    assert ("ns", "a") not in controller._state


def test_a_conflict_is_retried_quietly(parts: tuple[Controller, FakeReconciler, FakeInformer],
                                       caplog: pytest.LogCaptureFixture) -> None:
    controller, reconciler, informer = parts
    reconciler.answers = [KubeError(409, "Conflict", "the object has been modified")]
    informer.listed(app("a"))
    with caplog.at_level(logging.WARNING):
        run_queue(controller)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert controller.queue._delayed


def test_workers_outlive_unexpected_errors() -> None:
    reconciler = FakeReconciler()
    informer = FakeInformer()
    controller = Controller(reconciler, [informer], workers=1)  # type: ignore[arg-type]
    controller.queue = WorkQueue(base_delay=600)  # the failed App's retry stays far off
    reconciler.answers = [RuntimeError("a bug")]
    controller.start()
    try:
        informer.listed(app("a"), app("b"))
        deadline = time.monotonic() + 10
        # The one worker took "a", failed, and went on to "b".
        while len(reconciler.seen) < 2:
            assert time.monotonic() < deadline, reconciler.seen
            time.sleep(0.01)
        assert reconciler.seen == [("a", 1), ("b", 1)]
        assert controller._state[("ns", "a")].failures == 1
        assert [key for _, _, key in controller.queue._delayed] == [("ns", "a")]
    finally:
        controller.stop()


@pytest.mark.timeout(60)
def test_the_periodic_resync_reconciles_every_known_app_without_an_event() -> None:
    reconciler = FakeReconciler()
    informer = FakeInformer()
    controller = Controller(reconciler, [informer], workers=0,  # type: ignore[arg-type]
                            resync_seconds=0.05)
    controller.start()
    try:
        informer.listed(app("a"), app("b"))
        run_queue(controller)
        informer.event(app("b"), deleted=True)
        reconciler.seen.clear()
        # No news about "a": only the resync can bring it back, and "b" is gone (a resync
        # queued before the deletion finds nothing to do for it).
        while len(reconciler.seen) < 3:
            key = controller.queue.get()
            assert key is not None
            controller._reconcile(key)
            controller.queue.done(key)
        assert reconciler.seen == [("a", 1)] * 3
    finally:
        controller.stop()


class ChildSource:
    """Lists and watches of children: Services in `failing` namespaces fail (their watch at
    once, their lists until `services_back` is set); every other watch waits quietly."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.failing = failing
        self.services_back = threading.Event()
        self.failed_relists = threading.Semaphore(0)
        self.quiet = threading.Event()
        self.lists: list[tuple[str, str | None]] = []

    def list_all(self, kind: str, namespace: str | None, label_selector: str,
                 keep: Any) -> tuple[list[dict[str, Any]], str]:
        relist = (kind, namespace) in self.lists
        self.lists.append((kind, namespace))
        if relist and kind == "Service" and namespace in self.failing and (
                not self.services_back.is_set()):
            self.failed_relists.release()
            raise OSError("connection refused")
        return [], "1"

    def watch(self, kind: str, namespace: str | None, label_selector: str,
              resource_version: str, timeout_seconds: int = 300) -> Iterator[dict[str, Any]]:
        if kind == "Service" and namespace in self.failing:
            raise OSError("connection reset by peer")
        self.quiet.wait()
        yield from ()


def with_children(source: ChildSource, namespaces: list[str | None],
                  workers: int = 0) -> tuple[Controller, FakeReconciler, FakeInformer]:
    reconciler = FakeReconciler()
    reconciler.children = Children(  # type: ignore[assignment]
        source, ["Deployment", "Service", "Pod"], "managed=yes", "instance", namespaces,
        fetch=lambda *_: None, optional=["Pod"])
    for child_informer in reconciler.children.informers.values():
        child_informer._retry = 0.01  # a failed watch is retried at once
    informer = FakeInformer()
    controller = Controller(reconciler, [informer], workers=workers)  # type: ignore[arg-type]
    return controller, reconciler, informer


def next_turn(controller: Controller) -> None:
    key = controller.queue.get()
    assert key is not None
    controller._process(key)


@pytest.mark.timeout(60)
def test_an_app_waits_only_for_the_first_list_of_its_own_namespaces_informers() -> None:
    """Before its stores are listed a reconcile would take every child for missing: the App
    waits, but only for the informers that hold its objects, not for another namespace's."""
    controller, reconciler, informer = with_children(ChildSource(), ["ns", "other"])
    children: Children = reconciler.children  # type: ignore[assignment]
    informer.on_change = controller.on_app_change  # not started: the test lists by hand
    informer.listed(app("a"), app("b", namespace="other"))
    for kind in ("Deployment", "Service"):
        children.informers[(kind, "ns")].list_once()  # "other" has not listed its children
    next_turn(controller)
    next_turn(controller)
    assert reconciler.seen == [("a", 1)]
    assert [key for _, _, key in controller.queue._delayed] == [("other", "b")]
    children.informers[("Deployment", "other")].list_once()
    children.informers[("Service", "other")].list_once()  # the pods are not waited for
    controller.queue.add(("other", "b"))
    next_turn(controller)
    assert reconciler.seen == [("a", 1), ("b", 1)]


@pytest.mark.timeout(60)
def test_a_failing_services_informer_does_not_pause_the_reconciles() -> None:
    """Once listed, an informer stays synced while its watch fails and it lists again: the
    Apps are still reconciled meanwhile (one informer's trouble paused every worker)."""
    source = ChildSource(failing=("ns",))
    controller, reconciler, informer = with_children(source, ["ns"], workers=1)
    controller.start()
    try:
        assert source.failed_relists.acquire(timeout=30)  # listed, watched, failed, relisting
        informer.listed(app("a"))
        deadline = time.monotonic() + 20
        while not reconciler.seen:
            assert time.monotonic() < deadline, "no reconcile while Services relist"
            time.sleep(0.01)
        assert reconciler.seen == [("a", 1)]
        assert source.failed_relists.acquire(timeout=30)  # still relisting meanwhile
    finally:
        source.services_back.set()
        source.quiet.set()
        controller.stop()


def test_an_app_asks_to_be_reconciled_again_at_a_given_time(
        parts: tuple[Controller, FakeReconciler, FakeInformer]) -> None:
    """A verdict that changes with time alone (a crash loop that ages out) comes with
    Outcome.requeue_after; the App is otherwise done (no backoff), and asking again at every
    reconcile keeps one turn waiting, not one per reconcile."""
    controller, reconciler, informer = parts
    reconciler.answers = [Outcome(requeue_after=120.0) for _ in range(3)]
    informer.listed(app("a"))
    asked = time.monotonic()
    for _ in range(3):
        run_queue(controller)
        controller.queue.add(("ns", "a"))  # a child changed meanwhile
    run_queue(controller)
    due = controller.queue._waiting[("ns", "a")]
    assert asked + 119 < due <= time.monotonic() + 120
    assert len(controller.queue) == 1
    assert controller.queue._failures == {}
    assert reconciler.seen == [("a", 1)] * 4


class Fatal(BaseException):
    """What no `except Exception` catches: a thread that meets it dies."""


def wait_until(what: str, condition: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_readiness_names_the_caches_not_listed_yet() -> None:
    controller, reconciler, informer = with_children(ChildSource(), ["ns"])
    children: Children = reconciler.children  # type: ignore[assignment]
    assert controller.readiness_problems() == [
        "the App informer (all namespaces) has not listed yet",
        "the Deployment informer (ns) has not listed yet",
        "the Service informer (ns) has not listed yet"]  # the pods are not waited for
    informer.listed()
    children.informers[("Deployment", "ns")].list_once()
    assert controller.readiness_problems() == [
        "the Service informer (ns) has not listed yet"]
    children.informers[("Service", "ns")].list_once()
    assert controller.readiness_problems() == []
    assert controller.liveness_problems() == []  # not started: nothing to judge


@pytest.mark.timeout(60)
def test_liveness_reports_a_dead_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threading, "excepthook", lambda _args: None)  # expected death

    class Deadly(FakeReconciler):
        def reconcile(self, body: dict[str, Any]) -> Outcome:
            raise Fatal()

    informer = FakeInformer()
    controller = Controller(Deadly(), [informer], workers=2)  # type: ignore[arg-type]
    controller.start()
    try:
        assert controller.liveness_problems() == []
        informer.listed(app("a"))
        wait_until("the dead worker reported", controller.liveness_problems)
        dead = controller.liveness_problems()
        assert len(dead) == 1 and dead[0] in (
            "the reconcile-0 thread is dead", "the reconcile-1 thread is dead"), dead
    finally:
        controller.stop()
    assert controller.liveness_problems() == []  # stopping is not dying


@pytest.mark.timeout(60)
def test_liveness_reports_a_reconcile_that_runs_too_long() -> None:
    release = threading.Event()

    class Stuck(FakeReconciler):
        def reconcile(self, body: dict[str, Any]) -> Outcome:
            release.wait()
            return super().reconcile(body)

    informer = FakeInformer()
    controller = Controller(Stuck(), [informer], workers=1)  # type: ignore[arg-type]
    controller.RECONCILE_LIMIT_SECONDS = 0.05
    controller.start()
    try:
        informer.listed(app("a"))
        wait_until("the stuck reconcile reported", controller.liveness_problems)
        [problem] = controller.liveness_problems()
        assert problem.startswith("the reconcile of ns/a has run for "), problem
        assert problem.endswith("(reconcile-0)"), problem
        release.set()
        wait_until("the reconcile done", lambda: not controller.liveness_problems())
    finally:
        release.set()
        controller.stop()


@pytest.mark.timeout(60)
def test_liveness_reports_an_informer_that_stopped_moving_or_died(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A watch that says nothing for longer than it may (no event, no end) and an informer
    whose thread died are both reported by name."""
    monkeypatch.setattr(threading, "excepthook", lambda _args: None)  # expected death

    class Dying(ChildSource):
        def list_all(self, kind: str, namespace: str | None, label_selector: str,
                     keep: Any) -> tuple[list[dict[str, Any]], str]:
            if kind == "Deployment":
                raise Fatal()
            return super().list_all(kind, namespace, label_selector, keep)

    source = Dying()
    controller, reconciler, _ = with_children(source, ["ns"])
    service = reconciler.children.informers[("Service", "ns")]
    service.WATCH_TIMEOUT_SECONDS = (0, 0)
    service.PROGRESS_GRACE_SECONDS = 0.05
    controller.start()
    try:
        wait_until("both reported", lambda: len(controller.liveness_problems()) == 2)
        dead, quiet = controller.liveness_problems()
        assert dead == "the Deployment informer (ns) thread is dead"
        assert quiet.startswith("the Service informer (ns) has not moved for "), quiet
        assert quiet.endswith("(its watch)"), quiet
    finally:
        source.quiet.set()
        controller.stop()


@pytest.mark.timeout(60)
def test_an_app_waits_while_its_own_app_informer_lists_again_after_a_failure() -> None:
    """Children informers relisting never hold an App back; the Apps' informer does, for
    its own Apps: an App deleted while its watch was down must not be reconciled back into
    children before the relist says it is gone (Apps of other namespaces go on)."""
    controller, reconciler, informer = with_children(ChildSource(), [None])
    other = FakeInformer()
    other.namespace = "other"
    informer.namespace = "ns"
    controller.apps.append(other)
    children: Children = reconciler.children  # type: ignore[assignment]
    informer.on_change = other.on_change = controller.on_app_change
    for child_informer in children.informers.values():
        child_informer.list_once()
    informer.listed(app("a"))
    other.listed(app("b", namespace="other"))
    informer.following = False  # its watch failed: listing again
    next_turn(controller)
    next_turn(controller)
    assert reconciler.seen == [("b", 1)]
    informer.following = True  # the relist is in, and "a" is still there
    controller.queue.add(("ns", "a"))
    next_turn(controller)
    assert reconciler.seen == [("b", 1), ("a", 1)]
