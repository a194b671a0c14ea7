"""Status: kstatus conditions and counters from observed children."""

from typing import Any

import pytest

from app_operator.core import status
from app_operator.core.render import AppRef
from app_operator.core.status import Observed, Problem

from .conftest import make_spec

NOW, LATER = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"


def deployment(replicas: int = 1, ready: int = 1, updated: int = 1, available: int = 1,
               generation: int = 1, observed: int = 1, **extra: Any) -> dict[str, Any]:
    return {"metadata": {"generation": generation},
            "status": {"observedGeneration": observed, "replicas": replicas,
                       "readyReplicas": ready, "updatedReplicas": updated,
                       "availableReplicas": available, **extra}}


def conditions(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in result["conditions"]}


def compute(app: AppRef, observed: Observed, problem: Problem | None = None,
            previous: dict[str, Any] | None = None, now: str = NOW,
            **fields: Any) -> dict[str, Any]:
    return status.compute_status(app, 3, make_spec(**fields), observed, problem, previous, now)


def test_ready_when_everything_runs(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment(), service={"spec": {"ports": [{}]}}),
                     ports=[{"name": "http", "containerPort": 5000, "servicePort": 80}])
    c = conditions(result)
    assert c["Ready"]["status"] == "True" and c["Ready"]["reason"] == "Available"
    assert c["Reconciling"]["status"] == "False"
    assert c["Stalled"]["status"] == "False"
    assert all(x["observedGeneration"] == 3 for x in c.values())
    assert result["observedGeneration"] == 3
    assert result["url"] == "http://flask.demo.svc"
    assert result["selector"] == "app.kubernetes.io/name=flask,app.kubernetes.io/instance=flask"
    assert (result["replicas"], result["readyReplicas"], result["availableReplicas"]) == (1, 1, 1)


def test_rolling_out_is_reconciling(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment(replicas=2, updated=1, available=1)),
                     replicas=2)
    c = conditions(result)
    assert c["Ready"]["status"] == "False"
    assert c["Reconciling"]["status"] == "True"
    assert c["Reconciling"]["reason"] == "RollingOut"
    assert "1 of 2 pods" in c["Reconciling"]["message"]


def test_scaling_down_is_not_done_until_the_pods_are_gone(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment(replicas=1, updated=1)), suspend=True)
    assert conditions(result)["Reconciling"]["message"] == "scaling down from 1 to 0 pods"


def test_unseen_generation_is_not_ready(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment(generation=2, observed=1)))
    assert conditions(result)["Ready"]["status"] == "False"


def test_pending_claim_is_not_ready(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment(), claims={
        "data": {"status": {"phase": "Pending"}}}),
        volumes=[{"name": "data", "mountPath": "/data"}])
    c = conditions(result)
    assert c["Reconciling"]["reason"] == "VolumesPending"
    assert "flask-data" in c["Ready"]["message"]
    assert result["volumes"] == [{"name": "data", "claimName": "flask-data",
                                  "phase": "Pending"}]


def test_claims_that_are_not_bound_are_named_with_their_phase(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment(), claims={
        "data": {"status": {"phase": "Lost"}}, "cache": None, "logs": {"status": {}},
        "db": {"status": {"phase": "Bound"}}}),
        volumes=[{"name": n, "mountPath": f"/{n}"} for n in ("data", "cache", "logs", "db")])
    assert conditions(result)["Ready"]["message"] == (
        "waiting for claims to be bound: flask-cache (Missing), flask-data (Lost), "
        "flask-logs (Pending)")
    assert [v["phase"] for v in result["volumes"]] == ["Lost", "Missing", "Pending", "Bound"]


def test_progress_deadline_is_stalled(app: AppRef) -> None:
    stuck = deployment(available=0, ready=0, conditions=[{
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": "ReplicaSet flask-1 has timed out progressing."}])
    c = conditions(compute(app, Observed(deployment=stuck)))
    assert c["Stalled"]["status"] == "True"
    assert c["Stalled"]["reason"] == "ProgressDeadlineExceeded"
    assert c["Reconciling"]["status"] == "False"
    assert "kubectl describe pods" in c["Stalled"]["message"]


def test_problem_is_stalled_with_its_reason(app: AppRef) -> None:
    problem = Problem(status.NAME_CONFLICT, "Deployment flask is not ours")
    c = conditions(compute(app, Observed(), problem=problem))
    assert c["Stalled"]["status"] == "True" and c["Stalled"]["reason"] == "NameConflict"
    assert c["Ready"]["status"] == "False" and c["Ready"]["message"] == problem.message


def test_invalid_spec_without_a_model(app: AppRef) -> None:
    result = status.compute_status(app, 1, None, Observed(),
                                   Problem(status.INVALID_SPEC, "spec.image: missing"), None, NOW)
    assert conditions(result)["Stalled"]["reason"] == "InvalidSpec"
    assert "url" not in result


def test_suspended_and_scaled_to_zero_are_ready(app: AppRef) -> None:
    zero = deployment(replicas=0, ready=0, updated=0, available=0)
    assert conditions(compute(app, Observed(deployment=zero), suspend=True))["Ready"][
        "reason"] == "Suspended"
    assert conditions(compute(app, Observed(deployment=zero), replicas=0))["Ready"][
        "reason"] == "ScaledToZero"


def test_transition_time_kept_while_status_unchanged(app: AppRef) -> None:
    first = compute(app, Observed(deployment=deployment()))
    second = compute(app, Observed(deployment=deployment()), previous=first, now=LATER)
    assert second == first
    rolling = compute(app, Observed(deployment=deployment(updated=0)), previous=first, now=LATER)
    assert conditions(rolling)["Ready"]["lastTransitionTime"] == LATER
    assert conditions(rolling)["Stalled"]["lastTransitionTime"] == NOW


def test_node_port_is_the_one_the_service_got(app: AppRef) -> None:
    """A NodePort Service without a fixed nodePort gets one from the API server: the status
    reports the port the Service has, not the spec's."""
    service = {"spec": {"ports": [{"port": 80, "nodePort": 31234}]}}
    ports = [{"name": "http", "containerPort": 5000, "servicePort": 80}]
    result = compute(app, Observed(deployment=deployment(), service=service), ports=ports,
                     service={"type": "NodePort"})
    assert result["nodePort"] == 31234
    assert "nodePort" not in compute(app, Observed(deployment=deployment(), service={
        "spec": {"ports": [{"port": 80}]}}), ports=ports)
    # Before the Service exists there is no node port, and no address either.
    waiting = compute(app, Observed(deployment=deployment()), ports=ports,
                      service={"type": "NodePort"})
    assert "nodePort" not in waiting and "url" not in waiting


def test_retained_claims_are_listed_sorted_and_only_when_there_are_some(app: AppRef) -> None:
    """Which claims are retained is the reconciler's finding (tests/unit/test_reconcile.py);
    the status lists them in a stable order, so an unchanged list writes nothing."""
    result = compute(app, Observed(deployment=deployment(),
                                   retained_claims=["flask-old", "flask-cache"]))
    assert result["retainedClaims"] == ["flask-cache", "flask-old"]
    assert "retainedClaims" not in compute(app, Observed(deployment=deployment()))


def test_no_ready_while_the_service_is_not_created_yet(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment()),
                     ports=[{"name": "http", "containerPort": 5000}])
    c = conditions(result)
    assert c["Ready"]["status"] == "False"
    assert (c["Reconciling"]["status"], c["Reconciling"]["reason"]) == ("True", "RollingOut")
    assert c["Ready"]["message"] == "waiting for Service flask to be created"
    # Without ports there is no Service to wait for.
    assert conditions(compute(app, Observed(deployment=deployment())))["Ready"]["status"] == (
        "True")


def test_https_on_443_is_a_url_without_a_port(app: AppRef) -> None:
    spec = make_spec(ports=[{"name": "https", "containerPort": 8443, "servicePort": 443},
                            {"name": "https-admin", "containerPort": 9443},
                            {"name": "http", "containerPort": 8080, "servicePort": 80}])
    assert spec.ports is not None
    assert status.url_for(app, spec.ports[0], "https") == "https://flask.demo.svc"
    assert status.url_for(app, spec.ports[1], "https-admin") == "https://flask.demo.svc:9443"
    assert status.url_for(app, spec.ports[2], "http") == "http://flask.demo.svc"
    result = compute(app, Observed(deployment=deployment(), service={"spec": {"ports": [{}]}}),
                     ports=[{"name": "https", "containerPort": 8443, "servicePort": 443}])
    assert result["url"] == "https://flask.demo.svc"
    assert conditions(result)["Ready"]["message"] == (
        "1 of 1 replicas available at https://flask.demo.svc")


@pytest.mark.parametrize(("name", "protocol", "url"), [
    ("web", "TCP", "http://flask.demo.svc:8000"), ("www", "TCP", "http://flask.demo.svc:8000"),
    ("HTTP-alt", "TCP", "http://flask.demo.svc:8000"), ("http2", "TCP",
                                                        "http://flask.demo.svc:8000"),
    ("https-admin", "TCP", "https://flask.demo.svc:8000"),
    # Not the web: an address like tcp://... or http://db:5432 would mislead.
    ("dns", "UDP", None), ("metrics", "TCP", None), ("sctp-8000", "SCTP", None),
    ("postgres", "TCP", None), ("httpd", "TCP", None), ("grpc", "TCP", None),
])
def test_a_url_only_for_a_port_whose_name_says_it_serves_the_web(
        app: AppRef, name: str, protocol: str, url: str | None) -> None:
    spec = make_spec(ports=[{"containerPort": 8000, "protocol": protocol}])
    assert spec.ports is not None
    assert status.url_for(app, spec.ports[0], name) == url


@pytest.mark.parametrize(("app_protocol", "url"), [
    ("http", "http://flask.demo.svc:9000"), ("HTTPS", "https://flask.demo.svc:9000"),
    ("kubernetes.io/h2c", "http://flask.demo.svc:9000"),
    ("kubernetes.io/wss", "https://flask.demo.svc:9000"),
    ("postgresql", None), ("example.com/http", None),
])
def test_the_app_protocol_decides_the_url_over_the_name(
        app: AppRef, app_protocol: str, url: str | None) -> None:
    spec = make_spec(ports=[{"name": "http", "containerPort": 9000,
                             "appProtocol": app_protocol}])
    assert spec.ports is not None
    assert status.url_for(app, spec.ports[0], "http") == url


def test_a_lone_port_without_a_name_is_http_on_a_web_port_only(app: AppRef) -> None:
    """`docker run -p 5000:5000`: one TCP port, no name, where Flask listens."""
    spec = make_spec(ports=[{"containerPort": 5000}])
    assert spec.port_names() == ["http"]
    result = status.compute_status(app, 1, spec, Observed(service={"spec": {"ports": [{}]}}),
                                   None, None, NOW)
    assert result["url"] == "http://flask.demo.svc:5000"
    # `docker run -p 5432:5432 postgres`: no http://flask.demo.svc:5432.
    database = make_spec(ports=[{"containerPort": 5432}])
    result = status.compute_status(app, 1, database, Observed(
        deployment=deployment(), service={"spec": {"ports": [{}]}}), None, None, NOW)
    assert "url" not in result
    assert conditions(result)["Ready"]["message"] == "1 of 1 replicas available"


def test_the_url_is_the_first_port_that_serves_the_web(app: AppRef) -> None:
    spec = make_spec(ports=[{"containerPort": 5432}, {"containerPort": 9000},
                            {"containerPort": 8080, "servicePort": 80}, {"containerPort": 443}])
    result = status.compute_status(app, 1, spec, Observed(
        deployment=deployment(), service={"spec": {"ports": [{}]}}), None, None, NOW)
    assert result["url"] == "http://flask.demo.svc"
    assert conditions(result)["Ready"]["message"] == (
        "1 of 1 replicas available at http://flask.demo.svc")


def pod(name: str = "flask-1", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": status}


def waiting(reason: str, message: str = "", **extra: Any) -> dict[str, Any]:
    return {"name": "flask", "image": "pylounge_flask_app:v9", "restartCount": 4,
            "state": {"waiting": {"reason": reason, "message": message}}, **extra}


STARTING = deployment(replicas=1, ready=0, updated=1, available=0)


@pytest.mark.parametrize(("pods", "reason", "words"), [
    ([pod(containerStatuses=[waiting("ImagePullBackOff", "Back-off pulling image")])],
     "ImagePullBackOff", ["cannot pull image pylounge_flask_app:v9", "Back-off pulling"]),
    ([pod(containerStatuses=[waiting("ErrImagePull", "not found")])],
     "ImagePullBackOff", ["pylounge_flask_app:v9", "not found"]),
    ([pod(containerStatuses=[waiting("CrashLoopBackOff", lastState={
        "terminated": {"exitCode": 3, "reason": "Error"}})])],
     "CrashLoopBackOff", ["exit code 3", "restarted 4 times", "kubectl logs flask-1 --previous"]),
    ([pod(containerStatuses=[waiting("CrashLoopBackOff", lastState={
        "terminated": {"exitCode": 137, "reason": "OOMKilled"}})])],
     "CrashLoopBackOff", ["OOMKilled"]),
    ([pod(conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                       "message": "0/1 nodes are available: 1 Insufficient cpu."}])],
     "Unschedulable", ["0/1 nodes are available: 1 Insufficient cpu."]),
])
def test_why_pods_do_not_run_is_in_the_status(app: AppRef, pods: list[dict[str, Any]],
                                              reason: str, words: list[str]) -> None:
    result = compute(app, Observed(deployment=STARTING, pods=pods))
    ready = conditions(result)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert all(word in ready["message"] for word in words), ready["message"]
    assert conditions(result)["Reconciling"]["status"] == "True"


def test_a_crash_loop_shows_also_while_the_container_runs_or_has_exited(
        app: AppRef) -> None:
    """The kubelet shows a crash-looping container waiting in back-off, terminated, or
    running, not ready, for the moment before it exits again (when it may even count as
    available)."""
    recently = {"exitCode": 3, "finishedAt": "2026-01-01T00:04:00Z"}
    for state in ({"terminated": recently}, {"running": {"startedAt": "2026-01-01T00:04:01Z"}}):
        container = {"name": "flask", "restartCount": 4, "state": state, "ready": False,
                     "lastState": {"terminated": recently}}
        result = status.compute_status(app, 3, make_spec(), Observed(
            deployment=deployment(), pods=[pod(containerStatuses=[container])]), None, None,
            LATER)
        ready = conditions(result)["Ready"]
        assert (ready["status"], ready["reason"]) == ("False", "CrashLoopBackOff"), state
        assert "exit code 3" in ready["message"]


def test_restarts_long_ago_are_no_crash_loop(app: AppRef) -> None:
    container = {"name": "flask", "restartCount": 4, "state": {"running": {}},
                 "lastState": {"terminated": {"exitCode": 1,
                                              "finishedAt": "2025-12-31T00:00:00Z"}}}
    result = status.compute_status(app, 3, make_spec(), Observed(
        deployment=deployment(), pods=[pod(containerStatuses=[container])]), None, None, LATER)
    assert conditions(result)["Ready"]["reason"] == "Available"
    once = {"name": "flask", "restartCount": 1, "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:04:00Z"}}}
    result = status.compute_status(app, 3, make_spec(), Observed(
        deployment=deployment(), pods=[pod(containerStatuses=[once])]), None, None, LATER)
    assert conditions(result)["Ready"]["reason"] == "Available"


def restarted(ready: bool | None, finished: str = "2026-01-01T00:04:00Z",
              restarts: int = 2, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """A container that exited with code 1 at `finished` and was restarted; `ready` None: the
    kubelet's status says nothing about readiness."""
    container: dict[str, Any] = {
        "name": "flask", "restartCount": restarts,
        "state": state or {"running": {"startedAt": finished}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": finished}}}
    if ready is not None:
        container["ready"] = ready
    return container


def ready_reason(app: AppRef, *containers: dict[str, Any], now: str = LATER) -> str:
    result = status.compute_status(app, 3, make_spec(), Observed(
        deployment=deployment(), pods=[pod(containerStatuses=list(containers))]), None, None,
        now)
    return str(conditions(result)["Ready"]["reason"])


def test_a_ready_container_that_restarted_recently_is_no_crash_loop(app: AppRef) -> None:
    """A web app that exited twice while its database started, and serves now: Flux and
    Argo CD must not see it unhealthy for the next ten minutes."""
    assert ready_reason(app, restarted(ready=True)) == "Available"
    # The same container not ready (or with no word on readiness) is crash-looping.
    assert ready_reason(app, restarted(ready=False)) == "CrashLoopBackOff"
    assert ready_reason(app, restarted(ready=None)) == "CrashLoopBackOff"
    exited = {"terminated": {"exitCode": 1, "finishedAt": "2026-01-01T00:04:00Z"}}
    assert ready_reason(app, restarted(ready=False, state=exited)) == "CrashLoopBackOff"
    # The kubelet's back-off is a crash loop, whatever the time of the last exit.
    backing_off = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert ready_reason(app, restarted(ready=False, finished="2025-01-01T00:00:00Z",
                                       state=backing_off)) == "CrashLoopBackOff"
    # One ready container does not hide another that keeps crashing.
    assert ready_reason(app, restarted(ready=True), restarted(ready=False)) == (
        "CrashLoopBackOff")


def test_recheck_after_is_when_a_recent_restart_stops_counting(app: AppRef) -> None:
    """The crash-loop verdict of a not-ready container ends CRASH_LOOP_WINDOW after its last
    exit with no event to say so: recheck_after says when, and the verdict does change
    then, not a second before."""
    observed = Observed(pods=[pod(containerStatuses=[restarted(ready=False)])])
    assert status.recheck_after(observed, LATER) == 540.0  # exited at 00:04, now 00:05
    assert ready_reason(app, restarted(ready=False), now="2026-01-01T00:13:59Z") == (
        "CrashLoopBackOff")
    assert ready_reason(app, restarted(ready=False), now="2026-01-01T00:14:00Z") == (
        "Available")
    assert status.recheck_after(observed, "2026-01-01T00:14:00Z") is None
    # The soonest change counts, among pods and containers.
    later = restarted(ready=False, finished="2026-01-01T00:04:30Z")
    two = Observed(pods=[pod(containerStatuses=[later]), pod("flask-2", containerStatuses=[
        restarted(ready=True), restarted(ready=False)])])
    assert status.recheck_after(two, LATER) == 540.0
    assert status.recheck_after(Observed(pods=[pod(containerStatuses=[later])]), LATER) == 570.0


@pytest.mark.parametrize("container", [
    restarted(ready=True),  # serving: no verdict to change
    restarted(ready=False, restarts=1),  # too few restarts
    restarted(ready=False, finished="2025-12-31T00:00:00Z"),  # long ago
    restarted(ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}}),  # the kubelet
    {"name": "flask", "restartCount": 5, "state": {"running": {}}, "lastState": {
        "terminated": {"exitCode": 1}}},  # an exit with no time: crash loop until it changes
])
def test_nothing_to_recheck_when_no_verdict_depends_on_the_time(
        container: dict[str, Any]) -> None:
    assert status.recheck_after(Observed(pods=[pod(containerStatuses=[container])]), LATER) is (
        None)


def test_nothing_to_recheck_without_pods_or_on_a_terminating_pod() -> None:
    assert status.recheck_after(Observed(), LATER) is None
    leaving = pod(containerStatuses=[restarted(ready=False)])
    leaving["metadata"]["deletionTimestamp"] = NOW
    assert status.recheck_after(Observed(pods=[leaving]), LATER) is None


def test_a_terminating_pod_is_not_a_problem(app: AppRef) -> None:
    leaving = pod(containerStatuses=[waiting("CrashLoopBackOff")])
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    result = compute(app, Observed(deployment=STARTING, pods=[leaving]))
    assert conditions(result)["Ready"]["reason"] == "RollingOut"


def leaving(name: str, phase: str = "Running") -> dict[str, Any]:
    """A pod being deleted (the kubelet still stopping it, unless its phase is final)."""
    result = pod(name, phase=phase)
    result["metadata"]["deletionTimestamp"] = NOW
    return result


def test_an_old_pod_still_running_keeps_the_app_from_ready(app: AppRef) -> None:
    """A rolling update that surged: the new pods are all available, one old pod is not
    deleted yet."""
    surged = Observed(deployment=deployment(replicas=3, updated=2, available=3),
                      service=SERVICE)
    progress = status.rollout_progress(app, make_spec(replicas=2, **ONE_PORT), surged)
    assert progress == status.Progress(False, "RollingOut", "1 pod still runs an older spec")


def test_a_terminating_pod_keeps_the_app_from_ready(app: AppRef) -> None:
    """The Deployment's counters leave terminating pods out: with the new pod available and
    the old one still shutting down, they say all is done. The pods say it is not."""
    done = deployment(replicas=1, updated=1, available=1)
    spec = make_spec(**ONE_PORT)
    running = pod("flask-new", phase="Running")
    progress = status.rollout_progress(app, spec, Observed(
        deployment=done, service=SERVICE, pods=[running, leaving("flask-old")]))
    assert progress == status.Progress(False, "RollingOut",
                                       "1 pod is still terminating: flask-old")
    result = status.compute_status(app, 3, spec, Observed(
        deployment=done, service=SERVICE, pods=[running, leaving("flask-old")]), None, None, NOW)
    assert conditions(result)["Ready"]["status"] == "False"
    assert conditions(result)["Reconciling"]["status"] == "True"
    # Gone, or stopped for good (its phase final, only the object left): Ready.
    for pods in ([running], [running, leaving("flask-old", "Succeeded"),
                             leaving("flask-older", "Failed")]):
        assert status.rollout_progress(app, spec, Observed(
            deployment=done, service=SERVICE, pods=pods)).ready, pods


def test_terminating_pods_are_counted_by_the_deployment_or_by_the_pods(app: AppRef) -> None:
    """status.terminatingReplicas (Kubernetes 1.33+) and the pods list may each be behind the
    other: the larger count wins, and the pods known are named."""
    spec = make_spec(replicas=2)
    counted = deployment(replicas=2, updated=2, available=2, terminatingReplicas=2)
    assert status.rollout_progress(app, spec, Observed(deployment=counted)) == status.Progress(
        False, "RollingOut", "2 pods are still terminating")
    assert status.rollout_progress(app, spec, Observed(
        deployment=counted, pods=[leaving("flask-b")])).message == (
        "2 pods are still terminating: flask-b")
    many = [leaving(f"flask-{n}") for n in "dcba"]
    assert status.rollout_progress(app, spec, Observed(
        deployment=deployment(replicas=2, updated=2, available=2, terminatingReplicas=0),
        pods=many)).message == "4 pods are still terminating: flask-a, flask-b, flask-c, ..."
    assert status.rollout_progress(app, spec, Observed(deployment=deployment(
        replicas=2, updated=2, available=2, terminatingReplicas=0))).ready


# Every branch of the rollout, word for word: these messages are what a person reads in
# `kubectl get apps` and in events.

def failed(message: str | None, reason: str = "FailedCreate") -> dict[str, Any]:
    condition = {"type": "ReplicaFailure", "status": "True", "reason": reason}
    if message is not None:
        condition["message"] = message
    return deployment(available=0, conditions=[
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}, condition])


ONE_PORT = {"ports": [{"name": "http", "containerPort": 5000, "servicePort": 80}]}
SERVICE = {"spec": {"ports": [{"port": 80}]}}
BOUND = {"status": {"phase": "Bound"}}
PENDING = {"status": {"phase": "Pending"}}


@pytest.mark.parametrize(("observed", "fields", "expected"), [
    (Observed(), {}, status.Progress(
        False, "RollingOut", "waiting for Deployment flask to be created")),
    (Observed(deployment=deployment(generation=2, observed=1)), {}, status.Progress(
        False, "RollingOut", "waiting for the Deployment controller to see the new spec")),
    (Observed(deployment=failed("quota exceeded")), {}, status.Progress(
        False, "FailedCreate", "pods cannot be created: quota exceeded", stalled=True)),
    (Observed(deployment=failed(None, reason="FailedCreate")), {}, status.Progress(
        False, "FailedCreate", "pods cannot be created: FailedCreate", stalled=True)),
    (Observed(deployment=deployment(available=0, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": "ReplicaSet flask-1 has timed out progressing."}])), {}, status.Progress(
        False, "ProgressDeadlineExceeded",
        "the new pods did not become ready in time (ReplicaSet flask-1 has timed out "
        "progressing.); see `kubectl describe pods -l app.kubernetes.io/name=flask,"
        "app.kubernetes.io/instance=flask` and the pods' logs", stalled=True)),
    (Observed(deployment=deployment(available=0), claims={"data": PENDING, "logs": None}),
     {"volumes": [{"name": "data", "mountPath": "/d"}, {"name": "logs", "mountPath": "/l"}]},
     status.Progress(False, "VolumesPending",
                     "waiting for claims to be bound: flask-data (Pending), flask-logs (Missing)")),
    (Observed(deployment=deployment(updated=0, available=0)), {}, status.Progress(
        False, "RollingOut", "0 of 1 pods run the current spec")),
    (Observed(deployment=deployment(replicas=3, updated=1)), {}, status.Progress(
        False, "RollingOut", "2 pods still run an older spec")),
    (Observed(deployment=deployment(replicas=3, updated=3)), {}, status.Progress(
        False, "RollingOut", "scaling down from 3 to 1 pods")),
    (Observed(deployment=deployment(available=0)), {}, status.Progress(
        False, "RollingOut", "0 of 1 pods are available")),
    # The pods run (they mount nothing yet, or have not restarted) but a claim is not bound.
    (Observed(deployment=deployment(), claims={"data": PENDING}),
     {"volumes": [{"name": "data", "mountPath": "/d"}]},
     status.Progress(False, "VolumesPending", "waiting for claims to be bound: flask-data "
                     "(Pending)")),
    (Observed(deployment=deployment()), ONE_PORT, status.Progress(
        False, "RollingOut", "waiting for Service flask to be created")),
    (Observed(deployment=deployment(replicas=0, updated=0, available=0)), {"suspend": True},
     status.Progress(True, "Suspended", "suspended: scaled to 0, Service and volumes kept")),
    (Observed(deployment=deployment(replicas=0, updated=0, available=0)), {"replicas": 0},
     status.Progress(True, "ScaledToZero", "scaled to 0 replicas")),
    (Observed(deployment=deployment(), service=SERVICE), ONE_PORT, status.Progress(
        True, "Available", "1 of 1 replicas available at http://flask.demo.svc")),
    (Observed(deployment=deployment(replicas=2, updated=2, available=2)), {"replicas": 2},
     status.Progress(True, "Available", "2 of 2 replicas available")),
    (Observed(deployment=deployment(), claims={"data": BOUND}),
     {"volumes": [{"name": "data", "mountPath": "/d"}]},
     status.Progress(True, "Available", "1 of 1 replicas available")),
])
def test_rollout_progress(app: AppRef, observed: Observed, fields: dict[str, Any],
                          expected: status.Progress) -> None:
    assert status.rollout_progress(app, make_spec(**fields), observed) == expected


def test_a_pending_claim_is_named_first_only_while_pods_are_missing(app: AppRef) -> None:
    """Fewer pods available than desired and a claim not bound: the claim is what to look
    at. All pods available but some not of the current spec: the rollout is."""
    spec = make_spec(volumes=[{"name": "d", "mountPath": "/d"}])
    waiting = Observed(deployment=deployment(available=0, updated=0), claims={"d": PENDING})
    assert status.rollout_progress(app, spec, waiting).reason == "VolumesPending"
    rolling = Observed(deployment=deployment(available=1, updated=0), claims={"d": PENDING})
    assert status.rollout_progress(app, spec, rolling) == status.Progress(
        False, "RollingOut", "0 of 1 pods run the current spec")


def test_a_problem_gives_the_three_conditions_their_exact_values(app: AppRef) -> None:
    result = status.conditions(None, Problem("NameConflict", "Service flask is taken"), 4,
                               None, NOW)
    assert result == [
        {"type": "Ready", "status": "False", "reason": "NameConflict",
         "message": "Service flask is taken", "lastTransitionTime": NOW,
         "observedGeneration": 4},
        {"type": "Reconciling", "status": "False", "reason": "NameConflict",
         "message": "stopped: Service flask is taken", "lastTransitionTime": NOW,
         "observedGeneration": 4},
        {"type": "Stalled", "status": "True", "reason": "NameConflict",
         "message": "Service flask is taken", "lastTransitionTime": NOW,
         "observedGeneration": 4}]


def test_progress_gives_the_three_conditions_their_exact_values(app: AppRef) -> None:
    ready = status.conditions(status.Progress(True, "Available", "1 of 1"), None, 2, None, NOW)
    assert ready == [
        {"type": "Ready", "status": "True", "reason": "Available", "message": "1 of 1",
         "lastTransitionTime": NOW, "observedGeneration": 2},
        {"type": "Reconciling", "status": "False", "reason": "Reconciled",
         "message": "up to date", "lastTransitionTime": NOW, "observedGeneration": 2},
        {"type": "Stalled", "status": "False", "reason": "Reconciled",
         "message": "making progress", "lastTransitionTime": NOW, "observedGeneration": 2}]
    rolling = status.conditions(status.Progress(False, "RollingOut", "0 of 1"), None, 2, None,
                                NOW)
    assert [(c["status"], c["reason"], c["message"]) for c in rolling] == [
        ("False", "RollingOut", "0 of 1"), ("True", "RollingOut", "0 of 1"),
        ("False", "Reconciled", "making progress")]


def test_a_given_problem_wins_over_a_stalled_rollout(app: AppRef) -> None:
    result = compute(app, Observed(deployment=failed("quota")),
                     problem=Problem("NameConflict", "Service flask is taken"))
    assert conditions(result)["Stalled"]["reason"] == "NameConflict"


def test_every_counter_comes_from_the_deployments_status(app: AppRef) -> None:
    result = compute(app, Observed(deployment=deployment(
        replicas=4, ready=3, updated=2, available=1)), replicas=4, strategy="RollingUpdate")
    assert {k: result[k] for k in ("replicas", "readyReplicas", "updatedReplicas",
                                   "availableReplicas")} == {
        "replicas": 4, "readyReplicas": 3, "updatedReplicas": 2, "availableReplicas": 1}
    empty = compute(app, Observed())
    assert [empty[k] for k in ("replicas", "readyReplicas", "updatedReplicas",
                               "availableReplicas")] == [0, 0, 0, 0]


def test_a_service_without_ports_or_spec_has_no_node_port(app: AppRef) -> None:
    for service in ({}, {"spec": {}}, {"spec": {"ports": []}}):
        result = compute(app, Observed(deployment=deployment(), service=service), **ONE_PORT)
        assert "nodePort" not in result and result["url"] == "http://flask.demo.svc"


def test_volume_status_has_the_capacity_the_storage_reports(app: AppRef) -> None:
    claim = {"status": {"phase": "Bound", "capacity": {"storage": "10Gi"}}}
    result = compute(app, Observed(deployment=deployment(), claims={"data": claim,
                                                                    "empty": {"status": {
                                                                        "capacity": {}}}}),
                     volumes=[{"name": "data", "mountPath": "/d"},
                              {"name": "empty", "mountPath": "/e"}])
    assert result["volumes"] == [
        {"name": "data", "claimName": "flask-data", "phase": "Bound", "capacity": "10Gi"},
        {"name": "empty", "claimName": "flask-empty", "phase": "Pending"}]


def test_a_message_of_exactly_the_limit_is_kept_whole() -> None:
    assert status.shorten("x" * 1024) == "x" * 1024
    assert status.shorten("x" * 1025) == "x" * 1000 + " ... (1 more characters)"
    assert status.shorten("y" * 2000, limit=100) == "y" * 73 + " ... (1900 more characters)"


# An error that keeps the App from being reconciled (status.retrying_status)

READY_BEFORE = {"type": "Ready", "status": "True", "reason": "Available",
                "message": "1 of 1 replicas available", "lastTransitionTime": NOW,
                "observedGeneration": 1}


def test_a_persisting_error_is_reconciling_and_keeps_the_rest_of_the_status() -> None:
    previous = {"observedGeneration": 1, "readyReplicas": 1, "url": "http://flask.demo.svc",
                "conditions": [READY_BEFORE]}
    result = status.retrying_status(previous, 2, "503 ServiceUnavailable: busy", LATER)
    assert {k: v for k, v in result.items() if k != "conditions"} == {
        k: v for k, v in previous.items() if k != "conditions"}
    assert result["conditions"] == [
        READY_BEFORE,  # what was true of the pods stays true
        {"type": "Reconciling", "status": "True", "reason": "RetryingAfterError",
         "message": "503 ServiceUnavailable: busy; retrying", "lastTransitionTime": LATER,
         "observedGeneration": 2},
        {"type": "Stalled", "status": "False", "reason": "RetryingAfterError",
         "message": "retrying", "lastTransitionTime": LATER, "observedGeneration": 2}]


def test_an_app_never_reconciled_is_not_ready_while_retrying() -> None:
    result = status.retrying_status({}, 1, "connection refused", NOW)
    assert result == {"conditions": [
        {"type": "Ready", "status": "False", "reason": "RetryingAfterError",
         "message": "connection refused; retrying", "lastTransitionTime": NOW,
         "observedGeneration": 1},
        {"type": "Reconciling", "status": "True", "reason": "RetryingAfterError",
         "message": "connection refused; retrying", "lastTransitionTime": NOW,
         "observedGeneration": 1},
        {"type": "Stalled", "status": "False", "reason": "RetryingAfterError",
         "message": "retrying", "lastTransitionTime": NOW, "observedGeneration": 1}]}


def test_retrying_keeps_the_transition_times_of_unchanged_conditions() -> None:
    previous = {"conditions": [
        READY_BEFORE,
        {"type": "Reconciling", "status": "True", "reason": "RollingOut", "message": "x",
         "lastTransitionTime": NOW, "observedGeneration": 1},
        {"type": "Stalled", "status": "False", "reason": "Reconciled", "message": "y",
         "lastTransitionTime": NOW, "observedGeneration": 1}]}
    result = status.retrying_status(previous, 1, "busy", LATER)
    assert [c["lastTransitionTime"] for c in result["conditions"]] == [NOW, NOW, NOW]
