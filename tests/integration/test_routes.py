"""An App's route against a real API server: the HTTPRoute and the Ingress it renders to pass
their own schemas, are put back when edited, made again when deleted and deleted with the
route; a host another App routes is refused; the route's status (written here as a gateway
or an ingress controller would: none runs in the local cluster) decides Ready, Stalled and
status.url; the CRD refuses a route that cannot work; and the Gateway API installed after
the operator started is found.

The Gateway API CRDs come from the Go module sigs.k8s.io/gateway-api (its
config/crd/standard), read from the module cache: `go mod download` fetches the module once.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app_operator.core import render
from app_operator.runtime.cache import Children
from app_operator.runtime.kube import Kube, load_client
from app_operator.runtime.reconcile import Reconciler
from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    condition,
    gone,
    wait_established,
    wait_for,
    wait_ready,
    wait_stalled,
)

pytestmark = pytest.mark.cluster

GATEWAY_API_MODULE = "sigs.k8s.io/gateway-api@v1.6.3"
HTTP_ROUTES_CRD = "httproutes.gateway.networking.k8s.io"
PORTS = [{"name": "http", "containerPort": 5000, "servicePort": 80}]
HOST = "flask.example.test"


def gateway_api_crds() -> list[Path]:
    """The standard channel's CRDs of the Gateway API module, from the Go module cache."""
    try:
        found = subprocess.run(["go", "mod", "download", "-json", GATEWAY_API_MODULE],
                               check=True, capture_output=True, text=True, timeout=300,
                               env={**os.environ, "GOFLAGS": "-mod=mod"}, cwd="/")
    except FileNotFoundError:
        pytest.skip("the Gateway API CRDs come from a Go module, and `go` is not installed")
    directory = Path(json.loads(found.stdout)["Dir"]) / "config" / "crd" / "standard"
    crds = sorted(p for p in directory.glob("gateway.networking.k8s.io_*.yaml")
                  if "_vap_" not in p.name)
    assert any(p.name.endswith("_httproutes.yaml") for p in crds), directory
    return crds


def install_gateway_api(cluster: Kubectl) -> None:
    for crd in gateway_api_crds():
        cluster.run("apply", "--server-side", "--force-conflicts", "-f", str(crd),
                    namespaced=False)
    wait_established(cluster, HTTP_ROUTES_CRD)


@pytest.fixture
def gateway_api(cluster: Kubectl) -> Kubectl:
    install_gateway_api(cluster)
    return cluster


def routed(name: str = "flask", **route: Any) -> dict[str, Any]:
    return app_manifest(name, ports=PORTS, route={"hosts": [HOST], **route})


def on_gateway(name: str = "flask", **route: Any) -> dict[str, Any]:
    return routed(name, parent={"gateway": {"name": "web", "namespace": "infra"}}, **route)


def write_status(kubectl: Kubectl, kind: str, name: str, status: dict[str, Any]) -> None:
    """What a gateway or an ingress controller writes."""
    kubectl("patch", kind, name, "--subresource=status", "--type=merge",
            "--patch", json.dumps({"status": status}))


def route_status(kubectl: Kubectl, name: str, accepted: str, reason: str) -> dict[str, Any]:
    route = kubectl.get("httproute", name)
    assert route is not None
    generation = route["metadata"]["generation"]
    return {"parents": [{
        "parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "web",
                      "namespace": "infra"},
        "controllerName": "example.test/gateway",
        "conditions": [
            {"type": "Accepted", "status": accepted, "reason": reason,
             "message": f"{reason} (written by the test)", "observedGeneration": generation,
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs",
             "message": "", "observedGeneration": generation,
             "lastTransitionTime": "2026-01-01T00:00:00Z"}]}]}


def reason_of(kubectl: Kubectl, name: str, kind: str) -> tuple[str, str] | None:
    app = kubectl.get("app", name)
    found = condition(app, kind)
    return (found.get("status", ""), found.get("reason", "")) if found else None


def test_an_http_route_is_accepted_refused_and_said_so(
        gateway_api: Kubectl, kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(on_gateway(paths=["/", "/api"]))
    route = wait_for("the HTTPRoute", lambda: kubectl.get("httproute", "flask"))
    assert route["spec"]["hostnames"] == [HOST]
    assert route["spec"]["parentRefs"][0]["name"] == "web"
    assert route["spec"]["rules"][0]["backendRefs"][0]["port"] == 80
    assert route["metadata"]["ownerReferences"][0]["kind"] == "App"
    wait_for("the App to wait for its Gateway", lambda: reason_of(
        kubectl, "flask", "Reconciling") == ("True", "RoutePending"))
    write_status(kubectl, "httproute", "flask", route_status(kubectl, "flask", "True",
                                                             "Accepted"))
    app = wait_ready(kubectl)
    assert app["status"]["url"] == f"http://{HOST}"
    write_status(kubectl, "httproute", "flask", route_status(
        kubectl, "flask", "False", "NotAllowedByListeners"))
    app = wait_stalled(kubectl, "flask", "NotAllowedByListeners")
    message = condition(app, "Stalled")["message"]
    assert "infra/web" in message and "allowedRoutes" in message, message
    assert app["status"]["url"] == f"http://flask.{kubectl.namespace}.svc"


def test_an_ingress_is_repaired_remade_and_deleted_with_the_route(
        kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(routed(parent={"ingressClassName": "traefik"},
                         tls={"secretName": "flask-cert"}))
    ingress = wait_for("the Ingress", lambda: kubectl.get("ingress", "flask"))
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [{"hosts": [HOST], "secretName": "flask-cert"}]
    wait_for("the App to wait for an address", lambda: reason_of(
        kubectl, "flask", "Reconciling") == ("True", "RoutePending"))
    write_status(kubectl, "ingress", "flask", {"loadBalancer": {"ingress": [{"ip": "10.1.2.3"}]}})
    assert wait_ready(kubectl)["status"]["url"] == f"https://{HOST}"
    # Another hand's edit is put back.
    kubectl("patch", "ingress", "flask", "--type=json", "--patch", json.dumps(
        [{"op": "replace", "path": "/spec/rules/0/host", "value": "evil.example.test"}]))
    wait_for("the Ingress's host to be put back", lambda: (kubectl.get("ingress", "flask") or {})
             .get("spec", {}).get("rules", [{}])[0].get("host") == HOST)
    # Deleted: made again.
    uid = ingress["metadata"]["uid"]
    kubectl("delete", "ingress", "flask", "--wait=true")
    wait_for("the Ingress to be made again", lambda: (kubectl.get("ingress", "flask") or {})
             .get("metadata", {}).get("uid") not in (None, uid))
    # The route removed from the App: the Ingress goes.
    kubectl("patch", "app", "flask", "--type=json",
            "--patch", json.dumps([{"op": "remove", "path": "/spec/route"}]))
    wait_for("the Ingress to be deleted", lambda: gone(kubectl, "ingress", "flask"))
    assert wait_ready(kubectl)["status"]["url"] == f"http://flask.{kubectl.namespace}.svc"


def test_a_host_routed_by_another_app_is_refused_until_it_is_free(
        kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(routed("blog"))
    wait_for("blog's Ingress", lambda: kubectl.get("ingress", "blog"))
    kubectl.apply(routed("shop"))
    app = wait_stalled(kubectl, "shop", "HostConflict")
    assert f"{HOST} is routed by App blog" in condition(app, "Stalled")["message"]
    assert kubectl.get("ingress", "shop") is None
    assert kubectl.get("deployment", "shop") is not None, "the rest of the App runs"
    # blog gives the host up: shop gets it (woken by blog's route going; the retries of a
    # Stalled App would also get there, later).
    kubectl("patch", "app", "blog", "--type=json",
            "--patch", json.dumps([{"op": "remove", "path": "/spec/route"}]))
    wait_for("shop's Ingress", lambda: kubectl.get("ingress", "shop"), timeout=60)
    wait_for("shop to be no longer Stalled", lambda: reason_of(
        kubectl, "shop", "Stalled") == ("False", "Reconciled"))


@pytest.mark.parametrize("route, words", [
    ({"hosts": ["*.example.test"]}, "spec.route.hosts"),
    ({"hosts": ["10.0.0.1"]}, "spec.route.hosts"),
    ({"hosts": [HOST], "paths": ["/a/../b"]}, "spec.route.paths"),
    ({"hosts": [HOST], "port": "admin"}, "route.port names no TCP port"),
    ({"hosts": [HOST], "parent": {}}, "exactly one of gateway or ingressClassName"),
    ({"hosts": [HOST], "tls": {"secretName": "x"},
      "parent": {"gateway": {"name": "web"}}}, "the Gateway listener's"),
    ({"hosts": [HOST], "tls": {"issuer": "a", "clusterIssuer": "b"}},
     "issuer or clusterIssuer, not both"),
])
def test_a_route_that_cannot_work_is_refused_at_apply(
        kubectl: Kubectl, route: dict[str, Any], words: str) -> None:
    manifest = app_manifest(ports=PORTS, route=route)
    result = kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
    assert result.returncode != 0 and words in result.stderr, result.stderr


@pytest.mark.parametrize("ports, words", [
    (None, "route needs spec.ports"),
    ([], "route needs spec.ports"),
    ([{"containerPort": 5432}, {"name": "metrics", "containerPort": 9090}],
     "no TCP port of spec.ports serves HTTP or HTTPS"),
])
def test_a_route_without_a_web_port_is_refused_at_apply(
        kubectl: Kubectl, ports: list[dict[str, Any]] | None, words: str) -> None:
    manifest = app_manifest(route={"hosts": [HOST]})
    manifest["spec"].pop("ports", None)
    if ports is not None:
        manifest["spec"]["ports"] = ports
    result = kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
    assert result.returncode != 0 and words in result.stderr, result.stderr


@pytest.mark.parametrize("port", [
    {"containerPort": 5000}, {"name": "http-admin", "containerPort": 9000},
    {"name": "api", "containerPort": 9000, "appProtocol": "kubernetes.io/h2c"},
])
def test_a_route_to_a_web_port_by_number_name_or_app_protocol_is_accepted(
        kubectl: Kubectl, port: dict[str, Any]) -> None:
    manifest = app_manifest(ports=[{"containerPort": 5432}, port], route={"hosts": [HOST]})
    kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(manifest))


@pytest.fixture
def without_gateway_api(cluster: Kubectl) -> Iterator[Kubectl]:
    """The cluster without the HTTPRoute CRD (its other Gateway API CRDs may stay); it is
    installed again afterwards, whatever the test did."""
    cluster.run("delete", "crd", HTTP_ROUTES_CRD, "--ignore-not-found", "--wait=true",
                namespaced=False)
    yield cluster
    install_gateway_api(cluster)


def test_the_gateway_api_installed_later_is_found_and_used(
        without_gateway_api: Kubectl, kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(on_gateway())
    wait_for("the App to wait for the Gateway API", lambda: reason_of(
        kubectl, "flask", "Reconciling") == ("True", "GatewayAPIMissing"))
    assert kubectl.get("ingress", "flask") is None, "nothing is made in the Gateway's place"
    install_gateway_api(without_gateway_api)
    # Found by the operator's next look at API discovery (every 30 s).
    wait_for("the HTTPRoute", lambda: kubectl.get("httproute", "flask"), timeout=90)
    wait_for("the App to wait for its Gateway", lambda: reason_of(
        kubectl, "flask", "Reconciling") == ("True", "RoutePending"))


def test_a_converged_http_route_and_ingress_cost_no_write(
        gateway_api: Kubectl, kubectl: Kubectl, namespace: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What the API server stores of each route (its defaults added) reads back as unchanged:
    a second reconcile writes nothing."""
    monkeypatch.setenv("KUBECONFIG", gateway_api.kubeconfig)
    kube = Kube(load_client())
    children = Children(kube, render.CHILD_KINDS, render.CHILDREN_SELECTOR,
                        render.INSTANCE_LABEL, [namespace],
                        fetch=lambda kind, ns, name: kube.get(kind, ns, name))
    reconciler = Reconciler(kube, children, gateway_api=lambda: True)
    kubectl.apply(on_gateway("gw", paths=["/", "/api"], tls={}))
    kubectl.apply(app_manifest("ing", ports=PORTS, route={
        "hosts": ["ing.example.test"], "parent": {"ingressClassName": "traefik"},
        "tls": {"clusterIssuer": "letsencrypt"}}))
    kubectl.apply(app_manifest("other", ports=PORTS, route={"hosts": ["other.example.test"]}))
    for name, kind in (("gw", "HTTPRoute"), ("ing", "Ingress"), ("other", "Ingress")):
        app = kube.get("App", namespace, name)
        assert app is not None
        first = reconciler.reconcile(app)
        assert f"{kind} {name}" in first.applied, first
        again = reconciler.reconcile(kube.get("App", namespace, name) or {})
        assert (again.applied, again.deleted) == ([], []), again
    kube.flush_events()
