"""The liveness and readiness probes (issue 21, item 7): what they judge, and what a kubelet
gets. The liveness answer is served by kopf's own health endpoint with the operator's probe
handler, as in the running operator; the readiness answer by the metrics server."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import kopf
import pytest
from kopf._cogs.structs import ephemera
from kopf._core.engines import indexing, probing

from app_operator.runtime import handlers, metrics
from app_operator.runtime.controller import Controller as RealController
from app_operator.runtime.health import Health
from app_operator.runtime.kube import Kube
from app_operator.runtime.leader import LeaderElector
from app_operator.runtime.reconcile import Outcome
from tests.kube_helpers import free_port, http_get
from tests.unit.test_controller import FakeInformer, FakeReconciler, Fatal, app
from tests.unit.test_leader import LeaseApi, wait_until


class Controller:
    """What the controller says of its threads and caches (Controller.liveness_problems,
    .readiness_problems), made to order."""

    def __init__(self) -> None:
        self.dead: list[str] = []
        self.synced = True

    def liveness_problems(self) -> list[str]:
        return [f"worker thread {name} is dead" for name in self.dead]

    def readiness_problems(self) -> list[str]:
        return [] if self.synced else ["the caches of Deployment are not synced yet"]


def running_health(controller: Controller) -> Health:
    health = Health(controller)
    health.started.set()
    return health


# What is judged.


def test_a_dead_worker_makes_the_operator_not_alive() -> None:
    controller = Controller()
    health = running_health(controller)
    assert health.liveness() == (True, {"role": "single", "problems": []})
    controller.dead.append("reconcile-3")
    assert health.liveness() == (False, {"role": "single",
                                         "problems": ["worker thread reconcile-3 is dead"]})


def test_caches_not_synced_make_the_leader_not_ready_but_alive() -> None:
    controller = Controller()
    controller.synced = False
    health = running_health(controller)
    assert health.readiness() == (False, {
        "role": "single", "problems": ["the caches of Deployment are not synced yet"]})
    assert health.liveness()[0]
    controller.synced = True
    assert health.readiness()[0]


def test_not_ready_before_the_controller_has_started() -> None:
    assert Health(Controller()).readiness() == (
        False, {"role": "single", "problems": ["the controller is starting"]})


def elected(api: LeaseApi, identity: str) -> tuple[LeaderElector, threading.Thread, list[str]]:
    elector = LeaderElector(cast(Kube, api), "ops", "app-operator", identity,
                            lease_duration=3, renew_deadline=2, retry_period=0.1)
    events: list[str] = []
    thread = threading.Thread(target=elector.run, daemon=True, args=(
        lambda: events.append("leads"), lambda: events.append("lost")))
    thread.start()
    return elector, thread, events


def test_a_standby_is_alive_and_ready_and_says_who_leads() -> None:
    api = LeaseApi()
    leader, leader_thread, leader_events = elected(api, "one")
    wait_until(lambda: leader_events == ["leads"])
    standby, standby_thread, _ = elected(api, "two")
    wait_until(lambda: standby.holder() == "one")
    controller = Controller()
    controller.synced = False  # a standby never starts its informers
    health = Health(controller, standby, standby_thread)
    body = {"role": "standby", "identity": "two", "leader": "one", "problems": []}
    assert health.readiness() == (True, body)
    assert health.liveness() == (True, body)
    leading = Health(controller, leader, leader_thread)
    leading.started.set()
    assert leading.readiness() == (False, {
        "role": "leader", "identity": "one", "leader": "one",
        "problems": ["the caches of Deployment are not synced yet"]})
    leader.stop()
    standby.stop()


def test_a_dead_or_stuck_election_thread_makes_the_operator_not_alive() -> None:
    api = LeaseApi()
    elector, thread, events = elected(api, "one")
    wait_until(lambda: events == ["leads"])
    health = Health(Controller(), elector, thread)
    assert health.liveness()[0]
    elector.stop()
    thread.join(timeout=5)
    assert health.liveness() == (False, {
        "role": "standby", "identity": "one", "leader": "one",
        "problems": ["the leader election thread is dead"]})
    stuck = threading.Thread(target=threading.Event().wait, daemon=True)
    stuck.start()
    elector.last_attempt = time.monotonic() - 60
    assert Health(Controller(), elector, stuck).liveness()[1]["problems"] == [
        "the leader election thread is stuck: no attempt on the Lease for 60s"]


# What a kubelet gets.


@pytest.fixture
def kopf_liveness() -> Iterator[str]:
    """kopf's own health endpoint, with the operator's probe handler (registered when
    runtime/handlers.py is imported), on a free port; its URL."""
    url = f"http://127.0.0.1:{free_port()}/healthz"
    ready = threading.Event()
    running: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]] = []

    async def serve() -> None:
        flag = asyncio.Event()
        task = asyncio.create_task(probing.health_reporter(
            url, memo=ephemera.AnyMemo(kopf.Memo()), indices=indexing.OperatorIndexers().indices,
            registry=kopf.get_default_registry(), settings=kopf.OperatorSettings(),
            ready_flag=flag))
        await flag.wait()
        running.append((asyncio.get_running_loop(), task))
        ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield url
    loop, task = running[0]
    loop.call_soon_threadsafe(task.cancel)
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_kopfs_liveness_endpoint_answers_200_with_the_role_while_alive(
        kopf_liveness: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "_health", running_health(Controller()), raising=False)
    status, body = http_get(kopf_liveness)
    assert (status, json.loads(body)) == (200, {"health": {"role": "single", "problems": []}})


def test_kopfs_liveness_endpoint_answers_500_once_a_worker_is_dead(
        kopf_liveness: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """(kopf keeps a success for 10 s, so a worker that dies after a passing probe is
    reported up to 10 s later; a failure is never kept.)"""
    controller = Controller()
    controller.dead.append("reconcile-0")
    monkeypatch.setattr(handlers, "_health", running_health(controller), raising=False)
    assert http_get(kopf_liveness)[0] == 500
    assert http_get(kopf_liveness)[0] == 500
    controller.dead.clear()  # the next probe asks again
    assert http_get(kopf_liveness)[0] == 200


@pytest.mark.timeout(60)
def test_a_worker_of_the_real_controller_dies_and_kopfs_endpoint_answers_500(
        kopf_liveness: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole way: a reconcile meets what no `except Exception` catches, its worker
    thread dies, the controller reports it, the probe handler fails, kopf answers 500."""
    monkeypatch.setattr(threading, "excepthook", lambda _args: None)  # an expected death

    class Deadly(FakeReconciler):
        def reconcile(self, body: dict[str, Any]) -> Outcome:
            raise Fatal()

    informer = FakeInformer()
    controller = RealController(Deadly(), [informer], workers=1)  # type: ignore[arg-type]
    health = Health(controller)
    monkeypatch.setattr(handlers, "_health", health, raising=False)
    controller.start()
    health.started.set()
    try:
        informer.listed(app("a"))
        wait_until(lambda: bool(controller.liveness_problems()))
        status, _ = http_get(kopf_liveness)
        assert status == 500
        assert health.liveness()[1]["problems"] == ["the reconcile-0 thread is dead"]
    finally:
        controller.stop()


def wsgi_get(app: Any, path: str) -> tuple[str, bytes]:
    answer: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
               "SERVER_NAME": "x", "SERVER_PORT": "0", "wsgi.input": io.BytesIO(),
               "wsgi.url_scheme": "http"}
    body = b"".join(app(environ, lambda status, headers, *_: answer.append(status)))
    return answer[0], body


def test_readyz_answers_503_until_the_caches_are_synced_and_metrics_stay_served() -> None:
    controller = Controller()
    controller.synced = False
    app = metrics.app(running_health(controller).readiness)
    status, body = wsgi_get(app, "/readyz")
    assert status.startswith("503")
    assert json.loads(body)["problems"] == ["the caches of Deployment are not synced yet"]
    controller.synced = True
    status, body = wsgi_get(app, "/readyz")
    assert status.startswith("200") and json.loads(body) == {"role": "single", "problems": []}
    status, body = wsgi_get(app, "/metrics")
    assert status.startswith("200") and b"rest_client_requests_total" in body


def test_a_readiness_probe_that_fails_is_a_503_not_a_dead_server() -> None:
    def broken() -> tuple[bool, dict[str, Any]]:
        raise RuntimeError("boom")
    status, body = wsgi_get(metrics.app(broken), "/readyz")
    assert status.startswith("503") and "RuntimeError: boom" in body.decode()


def test_the_metrics_server_serves_readyz() -> None:
    port = free_port()
    controller = Controller()
    metrics.serve(f"127.0.0.1:{port}", readiness=running_health(controller).readiness)
    assert http_get(f"http://127.0.0.1:{port}/readyz") == (
        200, '{"problems": [], "role": "single"}\n')
    controller.synced = False
    assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 503
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200 and "leader_election_master_status" in body


def test_the_options_of_an_operator_started_by_kopf_run_are_the_defaults() -> None:
    options = handlers.options_of(kopf.OperatorSettings())
    assert options == handlers.RunOptions()
    assert options.leader_election_namespace is None and options.namespaces == []


def test_a_failing_probe_is_said_once_not_with_aiohttps_traceback(
        kopf_liveness: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from app_operator.cli import quiet_probe_failures

    controller = Controller()
    controller.dead.append("reconcile-0")
    monkeypatch.setattr(handlers, "_health", running_health(controller), raising=False)
    server_log = logging.getLogger("aiohttp.server")
    server_log.addFilter(quiet_probe_failures)
    try:
        with caplog.at_level(logging.INFO):
            assert http_get(kopf_liveness)[0] == 500
    finally:
        server_log.removeFilter(quiet_probe_failures)
    errors = [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [("kopf.activities.probe", "Activity 'health' failed permanently: not "
                       "alive: worker thread reconcile-0 is dead")]
