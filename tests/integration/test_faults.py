"""Faults against the local cluster: the operator killed at any moment, the API server
restarted, other tools editing the children, a deletion missed while a watch was down, the
leader killed. After each, the cluster converges: nothing duplicated, orphaned or lost.
Each test prints its figures (pytest -s shows them; they are also in the failure report)."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.faults import ApiServerProcess, CuttableProxy, api_server_address
from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    condition,
    wait_for,
    wait_ready,
)

MANAGED = "app.kubernetes.io/managed-by=app-operator"


def apply_all(kubectl: Kubectl, manifests: list[dict[str, Any]]) -> None:
    kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                  "items": manifests}))


def all_converged(kubectl: Kubectl, names: list[str], image: str) -> bool:
    apps = {a["metadata"]["name"]: a for a in kubectl.items("apps")}
    deployments = {d["metadata"]["name"]: d for d in kubectl.items("deployments")}
    for name in names:
        app = apps.get(name)
        if app is None:
            return False
        ready = condition(app, "Ready")
        if ready.get("status") != "True" or (
                ready.get("observedGeneration") != app["metadata"]["generation"]):
            return False
        containers = deployments[name]["spec"]["template"]["spec"]["containers"]
        if containers[0]["image"] != image:
            return False
    return True


def assert_one_of_each_and_no_orphan(kubectl: Kubectl, names: list[str]) -> None:
    uids = {a["metadata"]["name"]: a["metadata"]["uid"] for a in kubectl.items("apps")}
    for kind in ("deployments", "services", "persistentvolumeclaims"):
        children = kubectl.items(kind, MANAGED)
        counts = Counter(c["metadata"]["labels"]["app.kubernetes.io/instance"]
                         for c in children)
        assert counts == Counter(names), f"{kind}: {counts}"
        for child in children:
            instance = child["metadata"]["labels"]["app.kubernetes.io/instance"]
            refs = child["metadata"].get("ownerReferences") or []
            if kind == "persistentvolumeclaims":  # kept under Retain: no owner, its maker's uid
                assert child["metadata"]["annotations"]["appoperator.dev/app-uid"] == (
                    uids[instance])
            else:
                assert [r["uid"] for r in refs] == [uids[instance]], child["metadata"]


def test_killed_at_random_moments_while_images_change(kubectl: Kubectl, namespace: str,
                                                      tmp_path: Path) -> None:
    names = [f"app-{i:02}" for i in range(30)]
    operator = OperatorProcess(kubectl.kubeconfig, [namespace], tmp_path / "operator.log")
    operator.start()
    seed = random.randrange(10**6)
    chance = random.Random(seed)
    kills = []
    try:
        for round_ in range(6):
            image = f"registry.example/app:{round_}"
            apply_all(kubectl, [app_manifest(name, image=image, volumes=[
                {"name": "data", "mountPath": "/data"}]) for name in names])
            moment = chance.uniform(0.0, 3.0)
            time.sleep(moment)  # the fault's moment, not a wait for a result
            operator.kill()
            kills.append(round(moment, 2))
            operator.start()
        started = time.monotonic()
        wait_for("every App to converge on the last image",
                 lambda: all_converged(kubectl, names, "registry.example/app:5"), timeout=180,
                 interval=1)
        converged = time.monotonic() - started
        assert_one_of_each_and_no_orphan(kubectl, names)
        print(f"faults: 30 Apps, kill -9 after {kills} s (seed {seed}); converged "
              f"{converged:.1f}s after the last start; one Deployment, Service and claim each")
        assert "Traceback" not in operator.logs()
    finally:
        operator.stop()


def test_api_server_restart_during_churn(cluster: Kubectl, kubectl: Kubectl,
                                         operator: OperatorProcess) -> None:
    names = [f"churn-{i}" for i in range(8)]
    apply_all(kubectl, [app_manifest(name) for name in names])
    for name in names:
        wait_ready(kubectl, name)
    api_server = ApiServerProcess(cluster)
    saved = api_server.stop()
    time.sleep(5)  # the API server stays away for a while, then comes back
    api_server.start(saved)
    back = time.monotonic()
    apply_all(kubectl, [app_manifest(name, image="busybox:2") for name in names])
    kubectl.apply(app_manifest("fresh"))
    kubectl("delete", "service", "churn-0")
    wait_ready(kubectl, "fresh", timeout=60)
    wait_for("the deleted Service to come back", lambda: kubectl.get("service", "churn-0"),
             timeout=60)
    wait_for("the churned Apps to converge", lambda: all_converged(kubectl, names,
                                                                   "busybox:2"), timeout=60)
    recovered = time.monotonic() - back
    # Events are posted by a background thread, after the status: wait for it.
    wait_for("the Created event of the new App", lambda: any(
        e["reason"] == "Created" for e in json.loads(kubectl(
            "get", "events", "--field-selector", "involvedObject.name=fresh",
            "-o", "json"))["items"]))
    print(f"faults: API server away 5 s; a new App, a deleted Service and 8 changed Apps "
          f"in step {recovered:.1f}s after its return")
    assert recovered < 60
    log = operator.logs()
    assert "Traceback" not in log, log[-5000:]


def test_rapid_updates_the_last_one_wins(kubectl: Kubectl, operator: OperatorProcess) -> None:
    for counter in range(20):
        kubectl.apply(app_manifest(env=[{"name": "COUNTER", "value": str(counter)}]))
    app = wait_ready(kubectl)
    deployment = kubectl.get("deployment", "flask")
    assert deployment is not None
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "COUNTER", "value": "19"}]
    assert app["status"]["observedGeneration"] == app["metadata"]["generation"]


def test_other_managers_edits_are_kept_and_cost_no_write(kubectl: Kubectl, namespace: str,
                                                          tmp_path: Path) -> None:
    operator = OperatorProcess(kubectl.kubeconfig, [namespace], tmp_path / "operator.log",
                               extra_args=("--resync-seconds", "3"))
    operator.start()
    try:
        kubectl.apply(app_manifest(env=[{"name": "A", "value": "1"}]))
        wait_ready(kubectl)
        kubectl("annotate", "deployment", "flask", "team.example/owner=web")
        kubectl("rollout", "restart", "deployment/flask")
        kubectl("set", "env", "deployment/flask", "INJECTED=yes")
        kubectl("annotate", "service", "flask", "team.example/owner=web")
        mark = len(operator.logs())
        wait_for("three periodic resyncs", lambda: operator.logs()[mark:].count(
            "periodic resync") >= 3, timeout=30)
        # The last resync's reconciles have run once the queue is empty; a reconcile of a
        # converged App sends nothing, so any write would have been logged by now.
        wait_ready(kubectl)
        after = operator.logs()[mark:]
        assert "updated" not in after and "created" not in after, after
        deployment = kubectl.get("deployment", "flask")
        assert deployment is not None
        assert deployment["metadata"]["annotations"]["team.example/owner"] == "web"
        template = deployment["spec"]["template"]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
        assert {"name": "INJECTED", "value": "yes"} in template["spec"]["containers"][0]["env"]
        service = kubectl.get("service", "flask")
        assert service is not None
        assert service["metadata"]["annotations"]["team.example/owner"] == "web"
    finally:
        operator.stop()


def test_a_deletion_missed_during_a_watch_outage_leaves_no_ghost(
        cluster: Kubectl, kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    """The operator is cut off; the App is deleted; the API server restarts (its watch cache
    starts anew, so the operator's watch cannot resume: 410, list again). The list no longer
    has the App: it must be forgotten, not reconciled again by the resync."""
    proxy = CuttableProxy(*api_server_address(cluster.kubeconfig))
    operator = OperatorProcess(str(proxy.kubeconfig(cluster.kubeconfig, tmp_path)),
                               [namespace], tmp_path / "operator.log",
                               extra_args=("--resync-seconds", "3"))
    operator.start()
    try:
        kubectl.apply(app_manifest("ghost"))
        wait_ready(kubectl, "ghost")
        proxy.cut()
        kubectl("delete", "app", "ghost", "--wait=true")
        wait_for("the children to be collected",
                 lambda: kubectl.get("deployment", "ghost") is None)
        ApiServerProcess(cluster).restart()
        mark = len(operator.logs())
        proxy.resume()
        wait_for("the operator to learn the App is gone", lambda: "ghost: App deleted" in
                 operator.logs()[mark:], timeout=90)
        wait_for("two periodic resyncs", lambda: operator.logs()[mark:].count(
            "periodic resync") >= 2, timeout=30)
        assert kubectl.get("deployment", "ghost") is None
        # No child at all: the children's informers may list again before the Apps' one,
        # and a reconcile of the App then would make its Service again (it did once the
        # relist of a child's informer no longer paused the reconciles).
        assert "ghost: created" not in operator.logs()[mark:]
    finally:
        operator.stop()
        proxy.close()


def test_a_standby_takes_over_when_the_leader_is_killed(kubectl: Kubectl, namespace: str,
                                                        tmp_path: Path) -> None:
    elect = ("--leader-elect", "--leader-election-namespace", namespace,
             # The 15 s lease of the defaults, shortened so the takeover stays under 15 s.
             "--leader-elect-lease-duration", "10", "--leader-elect-renew-deadline", "7")
    replicas = [OperatorProcess(kubectl.kubeconfig, [namespace], tmp_path / f"op-{i}.log",
                                extra_args=elect) for i in range(2)]
    for replica in replicas:
        replica.start()
    try:
        leader = wait_for("a leader", lambda: next(
            (r for r in replicas if "leading: Lease" in r.logs()), None))
        standby = next(r for r in replicas if r is not leader)
        kubectl.apply(app_manifest("before"))
        wait_ready(kubectl, "before")
        assert "created Deployment before" not in standby.logs()
        leader.kill()
        killed = time.monotonic()
        wait_for("the standby to lead", lambda: "leading: Lease" in standby.logs(),
                 timeout=30)
        takeover = time.monotonic() - killed
        kubectl.apply(app_manifest("after"))
        wait_ready(kubectl, "after")
        lease = kubectl.get("lease", "app-operator")
        assert lease is not None and lease["spec"]["holderIdentity"] in standby.logs()
        print(f"faults: the standby led {takeover:.1f}s after the leader was killed")
        assert takeover < 15
    finally:
        for replica in replicas:
            replica.stop()

