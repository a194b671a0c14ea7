"""Status: kstatus conditions and counters from observed children."""

from typing import Any

import pytest

from app_operator import status
from app_operator.render import AppRef
from app_operator.status import Observed, Problem

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
    ("HTTP-alt", "TCP", "http://flask.demo.svc:8000"), ("dns", "UDP", "udp://flask.demo.svc:8000"),
    ("metrics", "TCP", "tcp://flask.demo.svc:8000"), ("sctp-8000", "SCTP",
                                                      "sctp://flask.demo.svc:8000"),
])
def test_url_scheme_is_guessed_from_the_name_else_the_protocol(
        app: AppRef, name: str, protocol: str, url: str) -> None:
    spec = make_spec(ports=[{"containerPort": 8000, "protocol": protocol}])
    assert spec.ports is not None
    assert status.url_for(app, spec.ports[0], name) == url


def test_url_scheme_follows_port_name(app: AppRef) -> None:
    spec = make_spec(ports=[{"name": "postgres", "containerPort": 5432},
                            {"name": "https", "containerPort": 8443}])
    assert spec.ports is not None
    assert status.url_for(app, spec.ports[0], "postgres") == "tcp://flask.demo.svc:5432"
    assert status.url_for(app, spec.ports[1], "https") == "https://flask.demo.svc:8443"


def test_a_lone_port_without_a_name_is_http(app: AppRef) -> None:
    """`docker run -p 5000:5000`: one TCP port, no name."""
    spec = make_spec(ports=[{"containerPort": 5000}])
    assert spec.port_names() == ["http"]
    result = status.compute_status(app, 1, spec, Observed(service={"spec": {"ports": [{}]}}),
                                   None, None, NOW)
    assert result["url"] == "http://flask.demo.svc:5000"
