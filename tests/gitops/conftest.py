"""Apps driven into every state a GitOps tool must tell apart, on a real API server, and the
GitOps tools' own code to read them (tests/kstatus: kstatus and Argo CD's Lua).

`app_states` is shared by the kstatus and the Argo CD tests: one namespace, one operator, the
Apps as the API server returns them. One state cannot be reached through the API:
InvalidSpec needs a spec the CRD accepts and the operator's model refuses, and the two are
kept in agreement (tests/security/test_fuzz.py); its body is a real App with the status the
operator computes for such a spec (`app_operator.core.status.compute_status` with the model's own
validation error), as a reconcile would write it. "retrying" (requests failing for a while,
the API server away) is made the same way from `retrying_status`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app_operator.core.model import AppSpec
from app_operator.core.render import AppRef
from app_operator.core.status import (
    INVALID_SPEC,
    Observed,
    Problem,
    compute_status,
    retrying_status,
)
from app_operator.runtime.reconcile import describe_validation_error
from tests.kube_helpers import (
    ROOT,
    Kubectl,
    OperatorProcess,
    app_manifest,
    condition,
    wait_for,
    wait_ready,
    wait_stalled,
)

TOOL_SOURCE = ROOT / "tests" / "kstatus"


def cache_dir() -> Path:
    base = os.environ.get("APP_OPERATOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "app-operator")
    return Path(base)


@pytest.fixture(scope="session")
def gitops_check() -> Path:
    """tests/kstatus built once per version of its sources (go.sum, go.mod, main.go), cached
    under ~/.cache/app-operator/gitops-check/; modules come from the Go module proxy."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((TOOL_SOURCE / name).read_bytes())
    binary = cache_dir() / "gitops-check" / digest.hexdigest()[:16] / "gitops-check"
    if binary.exists():
        return binary
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        raise RuntimeError("no Go toolchain: install Go to build tests/kstatus")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(f".{uuid.uuid4().hex[:6]}.partial")
    print(f"building {binary} (Go modules from the proxy on first use)")
    subprocess.run([go, "build", "-mod=readonly", "-trimpath", "-o", str(partial), "."],
                   cwd=TOOL_SOURCE, check=True, env={**os.environ, "CGO_ENABLED": "0"})
    partial.replace(binary)
    return binary


def check(tool: Path, objects: list[dict[str, Any]], *args: str) -> list[dict[str, str]]:
    """What the tool says of each object: [{"name", "status", "message"}, ...]."""
    document = {"apiVersion": "v1", "kind": "List", "items": objects}
    result = subprocess.run([str(tool), *args], input=json.dumps(document), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, str]] = json.loads(result.stdout)
    return answers


def invalid_spec_body(app: dict[str, Any]) -> dict[str, Any]:
    """`app` with a spec the model refuses, and the status a reconcile writes for it."""
    body = copy.deepcopy(app)
    body["metadata"]["generation"] += 1
    body["spec"]["replicas"] = -1
    try:
        AppSpec.model_validate(body["spec"])
    except ValidationError as error:
        problem = Problem(INVALID_SPEC, describe_validation_error(error))
    else:
        raise AssertionError("the model accepted replicas -1")
    body["status"] = compute_status(AppRef.from_body(body), body["metadata"]["generation"], None,
                                    Observed(), problem, app["status"], "2026-01-01T00:00:00Z")
    return body


def retrying_body(app: dict[str, Any]) -> dict[str, Any]:
    """`app` as the operator reports it when its requests have failed for a while."""
    body = copy.deepcopy(app)
    body["status"] = retrying_status(app["status"], app["metadata"]["generation"],
                                     "the API server did not answer (timed out)",
                                     "2026-01-01T00:00:00Z")
    return body


def wait_reconciling(kubectl: Kubectl, name: str, reason: str) -> dict[str, Any]:
    """Reconciling=True with `reason`, written for the App's current generation."""
    def reconciling() -> dict[str, Any] | None:
        app = kubectl.get("app", name)
        found = condition(app, "Reconciling")
        current = app is not None and (app.get("status") or {}).get(
            "observedGeneration") == app["metadata"]["generation"]
        return app if current and found.get("status") == "True" and (
            found.get("reason") == reason) else None
    return wait_for(f"App {name} Reconciling with {reason}", reconciling)


@pytest.fixture(scope="session")
def app_states(cluster: Kubectl, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[dict[str, dict[str, Any]]]:
    """App bodies, read from the API server, in each state: name of the state -> App.
    "no-status" is an App the operator has not seen yet (it was stopped)."""
    namespace = f"t-gitops-{uuid.uuid4().hex[:5]}"
    cluster("create", "namespace", namespace)
    kubectl = cluster.in_namespace(namespace)
    fixed_class = f"fixed-{namespace}"
    operator = OperatorProcess(cluster.kubeconfig, [namespace],
                               tmp_path_factory.mktemp("gitops") / "operator.log")
    try:
        states = drive_into_states(cluster, kubectl, operator, fixed_class)
        yield states
    finally:
        operator.stop()
        cluster.run("delete", "namespace", namespace, "--wait=false", check=False)
        cluster.run("delete", "storageclass", fixed_class, "--wait=false", check=False)


def drive_into_states(cluster: Kubectl, kubectl: Kubectl, operator: OperatorProcess,
                      fixed_class: str) -> dict[str, dict[str, Any]]:
    try:
        cluster.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                       "metadata": {"name": fixed_class}, "provisioner": "kwok.x-k8s.io/volume",
                       "allowVolumeExpansion": False})
        kubectl("create", "deployment", "conflict", "--image=someone-elses:1")
        operator.start()
        fixed_volume = {"name": "data", "mountPath": "/data", "storageClassName": fixed_class}
        for manifest in (
            app_manifest("ready"),
            app_manifest("suspended", suspend=True),
            # No node has a thousand cores: its pod stays Pending, and the App says why.
            app_manifest("rolling-out", resources={"requests": {"cpu": "1000"}}),
            # No such StorageClass: its claim stays Pending.
            app_manifest("volumes-pending", volumes=[
                {"name": "data", "mountPath": "/data",
                 "storageClassName": f"missing-{kubectl.namespace}"}]),
            app_manifest("conflict"),
            app_manifest("api-refused", volumes=[fixed_volume]),
        ):
            kubectl.apply(manifest)
        states = {
            "ready": wait_ready(kubectl, "ready"),
            "rolling-out": wait_reconciling(kubectl, "rolling-out", "Unschedulable"),
            "volumes-pending": wait_reconciling(kubectl, "volumes-pending", "VolumesPending"),
            "name-conflict": wait_stalled(kubectl, "conflict", "NameConflict"),
        }
        states["suspended"] = wait_for("App suspended to be Suspended", lambda: (
            a := kubectl.get("app", "suspended")) and condition(a, "Ready").get("status") ==
            "True" and condition(a, "Ready").get("reason") == "Suspended" and (
                a["status"].get("observedGeneration") == a["metadata"]["generation"]) and a)
        # Growing a claim whose class cannot expand: the API server refuses the claim.
        wait_for("claim api-refused-data", lambda: kubectl.get("pvc", "api-refused-data"))
        kubectl.apply(app_manifest("api-refused", volumes=[{**fixed_volume, "size": "5Gi"}]))
        states["api-refused"] = wait_stalled(kubectl, "api-refused", "ApiRefused")
        states["invalid-spec"] = invalid_spec_body(states["ready"])
        states["retrying"] = retrying_body(states["ready"])
        # With the operator stopped: a spec change it has not seen, an App it has never seen.
        operator.stop()
        kubectl("patch", "app", "ready", "--type=merge", "-p",
                '{"spec": {"image": "pylounge_flask_app:v2"}}')
        states["not-observed"] = kubectl.get("app", "ready") or {}
        assert states["not-observed"]["status"]["observedGeneration"] == 1
        assert states["not-observed"]["metadata"]["generation"] == 2
        kubectl.apply(app_manifest("no-status"))
        states["no-status"] = kubectl.get("app", "no-status") or {}
        assert not (states["no-status"].get("status") or {}).get("conditions")
    except BaseException:
        if operator.log_path.exists():
            print(f"--- operator log ---\n{operator.logs()[-6000:]}")
        raise
    return states
