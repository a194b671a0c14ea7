"""Fixtures of the attack suite: a tenant who may only manage Apps, the operator as its own
ServiceAccount, and a watchdog on the API server's health.

The tenant is a ServiceAccount of the test's namespace with a Role that allows Apps (and
their scale subresource) and nothing else; kubectl impersonates it (`--as`), so the API
server's admission, the reference policy's authorizer checks and RBAC all see that user.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import config

from tests.kube_helpers import (
    OPERATOR_ACCOUNT,
    Kubectl,
    OperatorProcess,
    install_without_deployment,
    service_account_kubeconfig,
    wait_for,
)

TENANT = "tenant"
TENANT_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
    "metadata": {"name": "app-author"},
    "rules": [{"apiGroups": ["appoperator.dev"], "resources": ["apps", "apps/scale"],
               "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
              {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list"]}],
}


@pytest.fixture(scope="session")
def installed(cluster: Kubectl) -> Kubectl:
    """manifests/ without the operator's Deployment: RBAC, the reference policy (the CRD
    comes from the `cluster` fixture)."""
    install_without_deployment(cluster)
    return cluster


@pytest.fixture
def tenant(installed: Kubectl, kubectl: Kubectl, namespace: str) -> Kubectl:
    """kubectl as a user who may manage Apps in this namespace, and nothing else."""
    kubectl("create", "serviceaccount", TENANT)
    kubectl.apply(TENANT_ROLE)
    kubectl("create", "rolebinding", "app-author", "--role=app-author",
            f"--serviceaccount={namespace}:{TENANT}")
    user = f"system:serviceaccount:{namespace}:{TENANT}"
    as_tenant = kubectl.as_user(user)
    # RBAC takes effect within moments: wait until the tenant may create Apps.
    wait_for("the tenant to be allowed to create Apps", lambda: as_tenant.run(
        "auth", "can-i", "create", "apps.appoperator.dev", check=False).stdout.strip() == "yes",
        timeout=30)
    return as_tenant


@pytest.fixture
def secured_operator(installed: Kubectl, namespace: str, tmp_path: Path,
                     request: pytest.FixtureRequest) -> Iterator[OperatorProcess]:
    """The operator for this namespace, authenticated as its own ServiceAccount only."""
    account_kubeconfig = service_account_kubeconfig(
        installed.in_namespace("app-operator-system"), "app-operator", tmp_path)
    process = OperatorProcess(str(account_kubeconfig), [namespace], tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- operator log ---\n{process.logs()[-6000:]}")
    assert OPERATOR_ACCOUNT  # the account the kubeconfig authenticates as


class ApiWatchdog:
    """Asks the API server's /readyz every half second with a 1 s timeout, in a thread. A
    hang is two answers in a row missing or not ready: on a busy machine one check can miss
    its second, while the hang this watches for lasts minutes."""

    def __init__(self, kubeconfig: str) -> None:
        self.client = config.new_client_from_config(config_file=kubeconfig)
        self.failures: list[str] = []
        self.checks = 0
        self.missed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="readyz")

    def __enter__(self) -> ApiWatchdog:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        url = self.client.configuration.host + "/readyz"
        previous: str | None = None
        while not self._stop.is_set():
            started = time.monotonic()
            problem = None
            try:
                response = self.client.rest_client.pool_manager.request(
                    "GET", url, timeout=1.0, retries=False)
                if response.status != 200:
                    problem = f"/readyz answered {response.status}"
            except Exception as error:  # a timeout is what this watches for
                problem = (f"/readyz: {type(error).__name__} after "
                           f"{time.monotonic() - started:.1f}s")
            if problem is not None:
                self.missed += 1
                if previous is not None:
                    self.failures.append(f"{previous}, then {problem}")
            previous = problem
            self.checks += 1
            self._stop.wait(0.5)


@pytest.fixture
def api_watchdog(cluster: Kubectl) -> Iterator[ApiWatchdog]:
    with ApiWatchdog(cluster.kubeconfig) as watchdog:
        yield watchdog
    assert watchdog.checks > 0
    assert not watchdog.failures, f"the API server was not ready: {watchdog.failures[:5]}"
