"""The kind tier: real containers on one kind cluster for the whole tier (hack/kind.sh).

`cluster` here stands in for the root conftest's: kubectl for the kind cluster, with the images
loaded and the operator deployed from manifests/ as a pod under its own ServiceAccount. The
root conftest's `namespace` and `kubectl` fixtures build on it, so each test gets a namespace
of its own. `make test` (hack/kind.sh test) brings the cluster up before pytest starts
(KIND_TIER_READY=1); run alone, `pytest tests/kind` does it here.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.kind.helpers import (
    HOST_PORT,
    KIND_CLUSTER_NAME,
    KIND_KUBECONFIG,
    diagnostics,
    operator_log,
)
from tests.kube_helpers import ROOT, Kubectl

STEP_TIMEOUT = 3600  # a cold node image build included


@pytest.fixture(scope="session")
def cluster() -> Kubectl:
    """kubectl for the kind cluster, the operator deployed in it."""
    if os.environ.get("KIND_TIER_READY") != "1":
        env = {**os.environ, "KIND_KUBECONFIG": str(KIND_KUBECONFIG),
               "KIND_CLUSTER_NAME": KIND_CLUSTER_NAME, "KIND_HOST_PORT": str(HOST_PORT)}
        for step in ("up", "load", "deploy"):
            subprocess.run([str(ROOT / "hack" / "kind.sh"), step], check=True, env=env,
                           timeout=STEP_TIMEOUT)
    return Kubectl(str(KIND_KUBECONFIG))


@pytest.fixture(autouse=True)
def _diagnose_failures(request: pytest.FixtureRequest) -> Iterator[None]:
    """On failure: the test namespace described, its events, and the operator's log."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    cluster: Kubectl = request.getfixturevalue("cluster")
    namespace = request.node.funcargs.get("namespace")
    if namespace:
        print(diagnostics(cluster.in_namespace(namespace)))
    print(f"--- operator log (tail) ---\n{operator_log(cluster)[-8000:]}")
