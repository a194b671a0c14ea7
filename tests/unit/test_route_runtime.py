"""The runtime around routes: finding the Gateway API (at the start and later), watching
HTTPRoutes from then on, and waking the Apps refused a host when another App's route
changes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from app_operator.core import render
from app_operator.runtime.cache import Children, Store
from app_operator.runtime.controller import Controller
from app_operator.runtime.discovery import GatewayApiDiscovery
from app_operator.runtime.kube import Kube, KubeError, RateLimiter

from .test_cache import FakeSource
from .test_controller import FakeChildren, FakeInformer, FakeReconciler, app


class Discovery:
    """API discovery that answers from a list, then what the last answer was."""

    def __init__(self, *answers: bool | Exception) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, str]] = []

    def serves(self, group_version: str, plural: str) -> bool:
        self.asked.append((group_version, plural))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_gateway_api_found_at_the_start_needs_no_poll() -> None:
    kube = Discovery(True)
    discovery = GatewayApiDiscovery(kube, on_found=lambda: None)
    assert discovery.check() is True
    assert kube.asked == [("gateway.networking.k8s.io/v1", "httproutes")]
    discovery.start()
    assert discovery._thread is None


def test_the_gateway_api_installed_later_is_found_despite_errors_on_the_way() -> None:
    kube = Discovery(False, KubeError(503, "ServiceUnavailable", "busy"), False, True)
    found = threading.Event()
    discovery = GatewayApiDiscovery(kube, on_found=found.set, poll_seconds=0.01)
    assert discovery.check() is False
    discovery.start()
    try:
        assert found.wait(10), "on_found was never called"
        assert discovery.found.is_set()
    finally:
        discovery.stop()


def route(name: str, host: str) -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "ns", "uid": f"uid-route-{name}",
                         "resourceVersion": "5", "labels": {
                             render.MANAGED_BY_LABEL: render.MANAGED_BY,
                             render.INSTANCE_LABEL: name},
                         "ownerReferences": [{"apiVersion": "appoperator.dev/v1alpha1",
                                              "kind": "App", "name": name,
                                              "uid": f"uid-{name}", "controller": True}]},
            "spec": {"hostnames": [host]}}


def test_a_kind_added_after_the_start_is_listed_and_read_like_the_others() -> None:
    source = FakeSource(lists=[([], "1"), ([route("a", "a.example.test")], "7")],
                        watches=[iter(()), iter(())])
    children = Children(source, ["Service"], render.CHILDREN_SELECTOR,
                        render.INSTANCE_LABEL, [None], fetch=lambda *_: None)
    assert not children.watches("HTTPRoute")
    children.start(lambda _obj, _gone: None)
    try:
        assert children.add_kind("HTTPRoute") is True
        assert children.add_kind("HTTPRoute") is False  # once
        informer = children.informers[("HTTPRoute", None)]
        assert informer.synced.wait(10), "the new informer never listed"
        assert children.watches("HTTPRoute")
        found = children.with_hosts("HTTPRoute", ["a.example.test", "b.example.test"])
        assert [o["metadata"]["name"] for o in found] == ["a"]
        assert children.with_hosts("HTTPRoute", ["b.example.test"]) == []
        assert informer in children.holding("ns")
    finally:
        children.stop()


class RouteChildren(FakeChildren):
    def __init__(self) -> None:
        super().__init__()
        self.added: list[str] = []

    def add_kind(self, kind: str) -> bool:
        new = kind not in self.added
        self.added.append(kind)
        return new


class WaitingReconciler(FakeReconciler):
    def __init__(self) -> None:
        super().__init__()
        self.children = RouteChildren()
        self.refused: list[tuple[str, str]] = []

    def waiting(self) -> list[tuple[str, str]]:
        return list(self.refused)


def controller_with(reconciler: WaitingReconciler) -> Iterator[tuple[Controller, FakeInformer]]:
    informer = FakeInformer()
    controller = Controller(reconciler, [informer], workers=0)  # type: ignore[arg-type]
    controller.start()
    informer.listed(app("a"), app("b"))
    while controller.queue._queue:  # the keys of the Apps listed, as a worker would
        key = controller.queue.get()
        assert key is not None
        controller.queue.done(key)
    yield controller, informer
    controller.stop()


def queued(controller: Controller) -> set[tuple[str, str]]:
    return set(controller.queue._queue)


def test_a_route_that_changes_or_goes_wakes_the_apps_refused_a_host() -> None:
    reconciler = WaitingReconciler()
    for controller, _ in controller_with(reconciler):
        reconciler.refused = [("ns", "b")]
        controller.on_child_change(route("a", "a.example.test"), gone=True)
        assert queued(controller) == {("ns", "a"), ("ns", "b")}


def test_a_child_that_is_no_route_wakes_its_app_only() -> None:
    reconciler = WaitingReconciler()
    for controller, _ in controller_with(reconciler):
        reconciler.refused = [("ns", "b")]
        service = {**route("a", "a.example.test"), "kind": "Service"}
        controller.on_child_change(service, gone=False)
        assert queued(controller) == {("ns", "a")}


def test_watching_http_routes_later_looks_at_every_app_again_once() -> None:
    reconciler = WaitingReconciler()
    for controller, _ in controller_with(reconciler):
        controller.watch_kind("HTTPRoute")
        assert reconciler.children.added == ["HTTPRoute"]
        assert queued(controller) == {("ns", "a"), ("ns", "b")}


def test_the_store_finds_routes_by_host_as_they_change_and_go() -> None:
    store = Store("app.kubernetes.io/instance")
    first = route("a", "a.example.test")
    store.upsert(first)
    assert [o["metadata"]["name"] for o in store.with_host("a.example.test")] == ["a"]
    moved = route("a", "b.example.test")
    moved["metadata"]["resourceVersion"] = "6"
    store.upsert(moved)
    assert store.with_host("a.example.test") == []
    assert [o["metadata"]["name"] for o in store.with_host("b.example.test")] == ["a"]
    store.remove(moved)
    assert store.with_host("b.example.test") == []
    # An object that is no App's child (no App owner) is never found by its hosts.
    stranger = route("c", "c.example.test")
    del stranger["metadata"]["ownerReferences"]
    store.upsert(stranger)
    assert store.with_host("c.example.test") == []


class Discovered(Kube):
    """A Kube whose GETs of API discovery answer as the API server would."""

    def __init__(self, answer: dict[str, Any] | KubeError) -> None:
        super().__init__(api_client=None)  # type: ignore[arg-type]
        self.answer = answer
        self.paths: list[str] = []

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                limiter: RateLimiter | None = None) -> Any:
        self.paths.append(f"{method} {path}")
        if isinstance(self.answer, KubeError):
            raise self.answer
        return self.answer


def test_kube_serves_reads_api_discovery() -> None:
    served = Discovered({"kind": "APIResourceList", "groupVersion": "gateway.networking.k8s.io/v1",
                         "resources": [{"name": "gateways"}, {"name": "httproutes"},
                                       {"name": "httproutes/status"}]})
    assert served.serves("gateway.networking.k8s.io/v1", "httproutes")
    assert served.paths == ["GET /apis/gateway.networking.k8s.io/v1"]
    assert not served.serves("gateway.networking.k8s.io/v1", "grpcroutes")
    assert not Discovered(KubeError(404, "NotFound", "")).serves(
        "gateway.networking.k8s.io/v1", "httproutes")
    with pytest.raises(KubeError):
        Discovered(KubeError(503, "ServiceUnavailable", "")).serves(
            "gateway.networking.k8s.io/v1", "httproutes")
