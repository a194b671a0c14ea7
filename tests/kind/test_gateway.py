"""A real gateway in kind (hack/gateway/): Traefik, built here from its Go module, serves the
Gateway `app-operator` (namespace app-operator-gateway) and Ingresses of the class `traefik`;
real HTTP and HTTPS requests reach the Flask App by host name through it, on the host ports
kind-config.yaml maps to its NodePorts (the tier's own cluster: 18081 and 18443, see
hack/kind.sh)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.kind.helpers import (
    GREETING,
    HOST_PORT,
    KIND_CLUSTER_NAME,
    KIND_KUBECONFIG,
    TIMEOUT,
    app,
    wait_app_ready,
)
from tests.kube_helpers import ROOT, Kubectl, condition, wait_for

pytestmark = [pytest.mark.kind, pytest.mark.timeout(900)]

GATEWAY_NAMESPACE = "app-operator-gateway"
GATEWAY = "app-operator"
TLS_SECRET = "app-operator-gateway-tls"  # self-signed, *.example.test (hack/gateway/install.sh)
HTTP_PORT = int(os.environ.get("KIND_GATEWAY_HTTP_PORT", "18081"))
HTTPS_PORT = int(os.environ.get("KIND_GATEWAY_HTTPS_PORT", "18443"))
HOST = "flask.example.test"
INSTALL_TIMEOUT = 3600  # a cold build of Traefik included


@pytest.fixture(scope="module")
def gateway(cluster: Kubectl) -> Kubectl:
    """kubectl in the Gateway's namespace, the Gateway Programmed. `make test` installed it
    before pytest (hack/kind.sh test); run alone, the tier installs it here, as it brings up
    the cluster in conftest."""
    if os.environ.get("KIND_TIER_READY") != "1":
        env = {**os.environ, "KIND_KUBECONFIG": str(KIND_KUBECONFIG),
               "KIND_CLUSTER_NAME": KIND_CLUSTER_NAME, "KIND_HOST_PORT": str(HOST_PORT),
               "KIND_GATEWAY_HTTP_PORT": str(HTTP_PORT),
               "KIND_GATEWAY_HTTPS_PORT": str(HTTPS_PORT)}
        subprocess.run([str(ROOT / "hack" / "kind.sh"), "gateway"], check=True, env=env,
                       timeout=INSTALL_TIMEOUT)
    kubectl = cluster.in_namespace(GATEWAY_NAMESPACE)
    wait_for(f"the Gateway {GATEWAY_NAMESPACE}/{GATEWAY} to be Programmed",
             lambda: condition(kubectl.get("gateway", GATEWAY), "Programmed").get("status")
             == "True", timeout=TIMEOUT)
    return kubectl


def gateway_route(host: str) -> dict[str, Any]:
    """An App's spec.route: `host` on the Gateway (the operator renders an HTTPRoute)."""
    return {"hosts": [host], "parent": {"gateway": {"name": GATEWAY,
                                                     "namespace": GATEWAY_NAMESPACE}}}


def route_accepted(kubectl: Kubectl, name: str) -> dict[str, Any] | None:
    """The route's status for our Gateway once the Gateway accepted it and resolved its
    backend, else None."""
    route = kubectl.get("httproute", name) or {}
    for parent in (route.get("status") or {}).get("parents") or []:
        if parent["parentRef"].get("name") != GATEWAY:
            continue
        conditions = {c["type"]: c["status"] for c in parent.get("conditions") or []}
        if conditions.get("Accepted") == "True" and conditions.get("ResolvedRefs") == "True":
            return route
    return None


def curl(url: str, host: str, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """curl `url` with `host` resolved to the local end of kind's port mapping: the request
    carries the host name (Host header, and SNI over TLS) as a browser's would."""
    return subprocess.run(
        ["curl", "-sS", "--max-time", "5", "--resolve", f"{host}:{port}:127.0.0.1",
         "-w", "\n%{http_code}", *extra, url],
        capture_output=True, text=True, timeout=30)


def answer(url: str, host: str, port: int, *extra: str) -> str | None:
    """The body at `url` once it holds the greeting, else None (nothing routed yet)."""
    result = curl(url, host, port, *extra)
    return result.stdout if result.returncode == 0 and GREETING in result.stdout else None


def ingress_route(host: str, tls_secret: str) -> dict[str, Any]:
    """An App's spec.route through an Ingress of the class `traefik` (served by the same
    Traefik), TLS with `tls_secret` (the operator renders an Ingress)."""
    return {"hosts": [host], "tls": {"secretName": tls_secret},
            "parent": {"ingressClassName": "traefik"}}


def run_flask(kubectl: Kubectl, route: dict[str, Any]) -> dict[str, Any]:
    """The Flask App with a Service on port 80 and `route`, Ready: its route Accepted by the
    Gateway or its Ingress given an address, as the App's status says."""
    kubectl.apply(app("flask", ports=[{"name": "http", "containerPort": 5000,
                                       "servicePort": 80}],
                      probes={"readiness": {"httpGet": {"path": "/", "port": "http"}}},
                      route=route))
    return wait_app_ready(kubectl, "flask")


def gateway_certificate(gateway: Kubectl, directory: Path) -> Path:
    """The Gateway's self-signed certificate (its HTTPS listener's Secret), as a file for
    curl --cacert."""
    secret = gateway.get("secret", TLS_SECRET)
    assert secret, f"no Secret {GATEWAY_NAMESPACE}/{TLS_SECRET}"
    ca = directory / "gateway.crt"
    ca.write_bytes(base64.b64decode(secret["data"]["tls.crt"]))
    return ca


def assert_greeting_by_host_name(host: str, ca: Path) -> None:
    """The greeting over HTTP and HTTPS for `host` (the certificate verified against `ca`
    alone, so Traefik's own default certificate would fail, and matched to the name sent in
    SNI); another host name on the same port gets 404: routing is by host name."""
    http_url = f"http://{host}:{HTTP_PORT}/"
    reply = wait_for(f"the greeting on {http_url}",
                     lambda: answer(http_url, host, HTTP_PORT), timeout=60, interval=1)
    assert GREETING in reply
    other = curl(f"http://other.example.test:{HTTP_PORT}/", "other.example.test", HTTP_PORT)
    assert other.stdout.rstrip().endswith("404"), other
    https_url = f"https://{host}:{HTTPS_PORT}/"
    reply = wait_for(f"the greeting on {https_url}",
                     lambda: answer(https_url, host, HTTPS_PORT, "--cacert", str(ca)),
                     timeout=60, interval=1)
    assert GREETING in reply


def test_flask_by_host_name_over_http_and_https(gateway: Kubectl, kubectl: Kubectl,
                                                tmp_path: Path) -> None:
    """Through the Gateway: the App's route rendered as an HTTPRoute, HTTPS terminated by
    the Gateway's listener."""
    ready = run_flask(kubectl, gateway_route(HOST))
    assert route_accepted(kubectl, "flask") is not None
    assert (ready.get("status") or {}).get("url") == f"http://{HOST}"
    assert_greeting_by_host_name(HOST, gateway_certificate(gateway, tmp_path))


def self_signed(host: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for `host` and its key, made with openssl as install.sh
    makes the Gateway's."""
    cert, key = directory / f"{host}.crt", directory / f"{host}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_flask_by_host_name_through_an_ingress(gateway: Kubectl, kubectl: Kubectl,
                                               tmp_path: Path) -> None:
    """Through an Ingress of the class traefik, TLS from a Secret in the App's namespace: a
    host name outside *.example.test, so only that Secret's certificate can verify."""
    host = "flask.ingress.test"
    cert, key = self_signed(host, tmp_path)
    kubectl("create", "secret", "tls", "flask-tls", "--cert", str(cert), "--key", str(key))
    ready = run_flask(kubectl, ingress_route(host, "flask-tls"))
    assert ((kubectl.get("ingress", "flask") or {}).get("status") or {}).get(
        "loadBalancer", {}).get("ingress") == [{"ip": "127.0.0.1"}]
    assert (ready.get("status") or {}).get("url") == f"https://{host}"
    assert_greeting_by_host_name(host, cert)
