"""Two replicas with --leader-elect against a real API server: a leader that froze (SIGSTOP)
is replaced, and when it wakes up it writes nothing and exits (issue 21, item 3).

Short lease timings keep the test quick: a 6 s lease, a 4 s renew deadline, a try every
0.5 s (the defaults are Kubernetes' 15, 10 and 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.kube_helpers import (
    ROOT,
    Kubectl,
    OperatorProcess,
    app_manifest,
    free_port,
    http_get,
    service_account_kubeconfig,
    wait_for,
    wait_ready,
)

LEADING = "leading: Lease"


def elect(namespace: str) -> tuple[str, ...]:
    return ("--leader-elect", "--leader-election-namespace", namespace,
            "--leader-elect-lease-duration", "6", "--leader-elect-renew-deadline", "4",
            "--leader-elect-retry-period", "0.5")


def image_of(kubectl: Kubectl, name: str) -> str | None:
    deployment = kubectl.get("deployment", name)
    if deployment is None:
        return None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def written(kubectl: Kubectl, name: str) -> dict[str, Any]:
    """What changes when the operator writes for App `name`: the App's resourceVersion (its
    status), the Deployment's generation and template (the Deployment controller writes its
    status), the Service's resourceVersion, the operator's events, and the Lease."""
    app = kubectl.get("app", name) or {}
    deployment = kubectl.get("deployment", name) or {}
    service = kubectl.get("service", name) or {}
    lease = kubectl.get("lease", "app-operator") or {}
    return {
        "app": app.get("metadata", {}).get("resourceVersion"),
        "deployment": (deployment.get("metadata", {}).get("generation"),
                       deployment.get("spec", {}).get("template")),
        "service": service.get("metadata", {}).get("resourceVersion"),
        "lease": lease.get("metadata", {}).get("resourceVersion"),
        "events": sorted(e["metadata"]["name"] for e in kubectl.items("events")
                         if e.get("reportingComponent") == "app-operator"),
    }


def test_a_frozen_leader_is_replaced_and_writes_nothing_when_it_wakes(
        kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    replicas = [OperatorProcess(kubectl.kubeconfig, [namespace], tmp_path / f"op-{i}.log",
                                extra_args=elect(namespace)) for i in range(2)]
    for replica in replicas:
        replica.start()
    try:
        old = wait_for("a leader", lambda: next(
            (r for r in replicas if LEADING in r.logs()), None))
        new = next(r for r in replicas if r is not old)
        kubectl.apply(app_manifest("web"))
        wait_ready(kubectl, "web")

        # The leader freezes; the standby takes the Lease over and converges the change.
        old.freeze()
        kubectl.apply(app_manifest("web", image="pylounge_flask_app:v2"))
        wait_ready(kubectl, "web", timeout=20)
        assert image_of(kubectl, "web") == "pylounge_flask_app:v2"
        assert LEADING in new.logs()

        # The new leader freezes too, and the App changes again: the old leader, when it
        # wakes, finds work that nobody else does. It must do none of it: its Lease is gone.
        new.freeze()
        kubectl.apply(app_manifest("web", image="pylounge_flask_app:v3"))
        before = written(kubectl, "web")
        mark = len(old.logs())
        old.thaw()
        status = old.wait_exit(timeout=30)
        woke = old.logs()[mark:]
        assert status == 1, woke[-3000:]
        assert written(kubectl, "web") == before, woke[-3000:]
        assert image_of(kubectl, "web") == "pylounge_flask_app:v2"
        assert "lost the Lease" in woke
        for said in ("created", "updated", "deleted", "released the Lease"):
            assert said not in woke, woke[-3000:]

        # The frozen new leader is killed (its pod deleted); a replica that starts (its
        # replacement) leads once the Lease expired, and converges the App.
        new.kill()
        again = OperatorProcess(kubectl.kubeconfig, [namespace], tmp_path / "op-again.log",
                                extra_args=elect(namespace)).start()
        replicas.append(again)
        wait_for("the restarted replica to converge the App",
                 lambda: image_of(kubectl, "web") == "pylounge_flask_app:v3", timeout=30)
        wait_ready(kubectl, "web")
    finally:
        for replica in replicas:
            replica.thaw()
            replica.stop()


Answers = dict[str, tuple[int, dict[str, Any]]]


def probes(addresses: tuple[str, str]) -> Answers:
    """The liveness (kopf's endpoint) and readiness (/readyz beside /metrics) answers of the
    replica serving them at these addresses."""
    answers = {}
    for name, url in (("live", f"http://{addresses[0]}/healthz"),
                      ("ready", f"http://{addresses[1]}/readyz")):
        try:
            status, body = http_get(url)
        except OSError:  # not serving yet (kopf starts its endpoint after the startup handler)
            status, body = 0, ""
        answers[name] = (status, json.loads(body) if body.startswith("{") else {})
    return answers


def wait_probes(what: str, addresses: tuple[str, str], check: Callable[[Answers], bool],
                timeout: float = 120) -> Answers:
    """The probes' answers once `check` holds; on a timeout, the message has the last ones
    (a busy machine and a wrong answer look alike otherwise)."""
    seen: list[Answers] = []

    def probe() -> Answers | None:
        answers = probes(addresses)
        seen[:] = [answers]
        return answers if check(answers) else None
    try:
        return wait_for(what, probe, timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}; the last answers: {seen[-1] if seen else None}") from None


def test_the_probes_of_a_leader_and_a_standby(kubectl: Kubectl, namespace: str,
                                              tmp_path: Path) -> None:
    replicas: list[OperatorProcess] = []
    addresses: dict[int, tuple[str, str]] = {}
    for index in range(2):
        live, ready = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        replicas.append(OperatorProcess(
            kubectl.kubeconfig, [namespace], tmp_path / f"op-{index}.log",
            extra_args=(*elect(namespace), "--liveness", f"http://{live}/healthz",
                        "--metrics-bind-address", ready)))
        addresses[id(replicas[-1])] = (live, ready)
    try:
        for replica in replicas:
            replica.start()
        leader = wait_for("a leader", lambda: next(
            (r for r in replicas if LEADING in r.logs()), None))
        standby = next(r for r in replicas if r is not leader)
        answers = wait_probes("the leader to be ready", addresses[id(leader)],
                              lambda a: a["ready"][0] == 200)
        identity = answers["ready"][1]["identity"]
        assert answers["ready"][1] == {"role": "leader", "identity": identity,
                                       "leader": identity, "problems": []}
        assert answers["live"] == (200, {"health": answers["ready"][1]})

        answers = wait_probes("the standby to know the leader", addresses[id(standby)],
                              lambda a: a["ready"][1].get("leader") == identity)
        standby_body = {"role": "standby", "identity": answers["ready"][1]["identity"],
                        "leader": identity, "problems": []}
        assert answers["ready"] == (200, standby_body)  # a standby is ready: rollouts go on
        assert answers["live"][0] == 200
        assert answers["live"][1]["health"]["role"] == "standby"

        leader.kill()
        answers = wait_probes("the standby to lead and be ready", addresses[id(standby)],
                              lambda a: a["ready"] == (200, {**a["ready"][1], "role": "leader"}),
                              timeout=30)
        assert answers["ready"][1]["leader"] == standby_body["identity"]
    finally:
        for replica in replicas:
            replica.stop()


def operator_role(services: list[str]) -> dict[str, Any]:
    """manifests/clusterrole.yaml's rules as a Role (read from it, so that a kind the
    operator comes to watch is granted here too), with these verbs on Services."""
    clusterrole = yaml.safe_load((ROOT / "manifests" / "clusterrole.yaml").read_text())
    rules: list[dict[str, Any]] = []
    for rule in clusterrole["rules"]:
        if rule["apiGroups"] == [""] and "services" in rule["resources"]:
            others = [r for r in rule["resources"] if r != "services"]
            if others:
                rules.append({**rule, "resources": others})
            rules.append({**rule, "resources": ["services"], "verbs": services})
        else:
            rules.append(rule)
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "operator"}, "rules": rules}


def test_not_ready_while_a_cache_cannot_list_then_ready(kubectl: Kubectl, namespace: str,
                                                        tmp_path: Path) -> None:
    """An operator that may not list Services (a Role one verb short) is alive but not
    ready, and its readiness answer says which cache and why; given the verb, it lists and is
    ready without a restart."""
    kubectl("create", "serviceaccount", "operator")
    kubectl.apply(operator_role(["get", "watch", "create", "patch", "delete"]))
    kubectl("create", "rolebinding", "operator", "--role", "operator",
            f"--serviceaccount={namespace}:operator")
    config = service_account_kubeconfig(kubectl, "operator", tmp_path)
    live, ready = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    operator = OperatorProcess(str(config), [namespace], tmp_path / "operator.log", extra_args=(
        "--liveness", f"http://{live}/healthz", "--metrics-bind-address", ready)).start()
    try:
        # The other caches list within moments (they may not have yet at the first answer):
        # what remains is the one that cannot.
        answers = wait_probes("a readiness answer naming the Services' cache alone",
                              (live, ready), lambda a: a["ready"][0] == 503 and [
                                  "Service" in p for p in a["ready"][1]["problems"]] == [True])
        [problem] = answers["ready"][1]["problems"]
        assert "has not listed yet" in problem and "403" in problem, problem
        assert answers["live"] == (200, {"health": {"role": "single", "problems": []}})

        kubectl.apply(operator_role(["get", "list", "watch", "create", "patch", "delete"]))
        answers = wait_probes("the operator to be ready", (live, ready),
                              lambda a: a["ready"][0] == 200, timeout=60)
        assert answers["ready"][1] == {"role": "single", "problems": []}
    finally:
        operator.stop()
