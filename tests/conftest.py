"""Fixtures for the tiers that need an API server.

`cluster` uses the cluster $KUBECONFIG names (kind, anything else), waiting for it to answer;
without $KUBECONFIG it brings up the tests' local cluster (hack/cluster/up.sh, in
.cluster-test/). Each test gets a namespace of its own, deleted afterwards.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kube_helpers import ROOT, Kubectl, OperatorProcess, wait_established, wait_for


def _reachable(kubeconfig: str) -> bool:
    try:
        Kubectl(kubeconfig).run("get", "--raw", "/readyz", namespaced=False)
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired):
        return False
    return True


@pytest.fixture(scope="session")
def cluster() -> Kubectl:
    """kubectl for the test cluster, with the App CRD installed."""
    kubeconfig = os.environ.get("KUBECONFIG", "")
    if kubeconfig:
        # It may be restarting (a fault test, another session): wait for it. A cluster
        # started beside it would take ports it needs.
        wait_for(f"the cluster of {kubeconfig} to answer", lambda: _reachable(kubeconfig),
                 timeout=180, interval=2)
    else:
        # The tests' own local cluster (as `make test` starts it), never the demo's, whose
        # operator would reconcile the tests' Apps too.
        state = ROOT / ".cluster-test"
        subprocess.run([str(ROOT / "hack" / "cluster" / "up.sh")], check=True,
                       stdout=subprocess.DEVNULL,
                       env={**os.environ, "CLUSTER_NAME": "app-operator-test",
                            "CLUSTER_STATE": str(state)})
        kubeconfig = str(state / "kubeconfig")
    kubectl = Kubectl(kubeconfig)
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    wait_established(kubectl, "apps.appoperator.dev")
    return kubectl


@pytest.fixture
def namespace(cluster: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:40].strip("-")
    name = f"t-{base}-{uuid.uuid4().hex[:5]}"
    cluster("create", "namespace", name)
    yield name
    cluster.run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def kubectl(cluster: Kubectl, namespace: str) -> Kubectl:
    return cluster.in_namespace(namespace)


@pytest.fixture
def operator(cluster: Kubectl, namespace: str, tmp_path: Path,
             request: pytest.FixtureRequest) -> Iterator[OperatorProcess]:
    """The operator, running for this test's namespace only."""
    process = OperatorProcess(cluster.kubeconfig, [namespace], tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- operator log ---\n{process.logs()[-6000:]}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `last` run after all others (a regression there may be costly)."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)
