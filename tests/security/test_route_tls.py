"""A tenant who may only manage Apps cannot put a TLS Secret they may not read behind an
App's route (issue 25): the Ingress would hand it to the ingress controller, which serves
its key, and cert-manager (for an issuer) would overwrite it. The reference policy refuses
the App at `kubectl apply`, naming the Secret, for a Secret named in route.tls and for the
`<app>-tls` that an issuer fills."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.kube_helpers import Kubectl, app_manifest, wait_for
from tests.security.test_attacks import grant, refused

pytestmark = pytest.mark.usefixtures("api_watchdog")

PORTS = [{"name": "http", "containerPort": 5000}]


def with_tls(tls: dict[str, Any]) -> dict[str, Any]:
    return app_manifest(ports=PORTS, route={"hosts": ["flask.example.test"], "tls": tls})


@pytest.mark.parametrize("tls, secret", [
    ({"secretName": "admin-cert"}, "admin-cert"),
    ({"clusterIssuer": "letsencrypt"}, "flask-tls"),
])
def test_a_tls_secret_the_tenant_cannot_read_is_refused(
        tenant: Kubectl, kubectl: Kubectl, tls: dict[str, Any], secret: str) -> None:
    message = refused(tenant, with_tls(tls), "an App may use only Secrets its author may read",
                      "route.tls")
    assert message.rstrip().endswith(secret), message
    assert tenant.get("app", "flask") is None


def test_a_tls_secret_the_tenant_may_read_is_accepted(
        tenant: Kubectl, kubectl: Kubectl, namespace: str) -> None:
    grant(kubectl, namespace, "read-cert", "secrets", "flask-cert")
    manifest = json.dumps(with_tls({"secretName": "flask-cert"}))
    # The grant takes effect within moments (the API server's RBAC cache).
    wait_for("the App to be accepted", lambda: tenant.run(
        "create", "-f", "-", stdin=manifest, check=False).returncode == 0 or None, timeout=30)
    assert tenant.get("app", "flask") is not None
