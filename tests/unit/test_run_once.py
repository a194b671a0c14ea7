"""Run-once work (`restartPolicy: OnFailure | Never`): a Job instead of a Deployment, status
Completed or Failed, owned and drift-repaired like the other children, replaced when its pod
changes, and what `dependsOn` with condition Completed waits for."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app_operator.core import dependencies, render, status
from app_operator.core.render import AppRef
from app_operator.core.status import Observed
from app_operator.runtime import cache

from .conftest import make_spec
from .fake_api import FakeApi, Obj, app_body, reconciler
from .test_reconcile import NS, conditions, run

MIGRATE = {"restartPolicy": "Never", "command": ["flask", "db", "upgrade"]}
JOB = ("Job", NS, "flask")


def job_status(**fields: Any) -> dict[str, Any]:
    return {"startTime": "2026-01-01T00:00:00Z", **fields}


def finished(kind: str, reason: str, message: str = "") -> dict[str, Any]:
    return {"conditions": [{"type": kind, "status": "True", "reason": reason,
                            "message": message}]}


# Model and rendering

def test_run_once_apps_run_one_pod() -> None:
    with pytest.raises(ValidationError, match="runs one pod: replicas may be 0 or 1"):
        make_spec(replicas=2, restartPolicy="Never")
    assert make_spec(restartPolicy="OnFailure").run_once
    assert not make_spec().run_once


@pytest.mark.parametrize(("policy", "backoff"), [("Never", 0), ("OnFailure", 6)])
def test_a_job_replaces_the_deployment(app: AppRef, policy: str, backoff: int) -> None:
    desired = render.render_all(app, make_spec(restartPolicy=policy, ports=[
        {"name": "http", "containerPort": 8000}]))
    assert desired.deployment is None and desired.job is not None
    job = desired.job
    assert (job["apiVersion"], job["kind"], job["metadata"]["name"]) == ("batch/v1", "Job",
                                                                          "flask")
    assert job["metadata"]["ownerReferences"][0]["uid"] == app.uid
    assert job["spec"]["backoffLimit"] == backoff and job["spec"]["suspend"] is False
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == policy
    # The same pod as a Deployment's: security defaults and all.
    assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert "selector" not in job["spec"]  # the Job's own (its uid label)
    assert desired.service is not None  # ports: a Service, as for any App
    assert [o["kind"] for o in desired.objects()] == ["Service", "Job"]


def test_a_job_is_suspended_while_suspended_scaled_to_zero_or_held(app: AppRef) -> None:
    for fields, held in (({"suspend": True}, False), ({"replicas": 0}, False), ({}, True)):
        job = render.render_job(app, make_spec(**MIGRATE, **fields), held)
        assert job["spec"]["suspend"] is True, fields


# Status

def progress(app: AppRef, job: dict[str, Any] | None, **fields: Any) -> status.Progress:
    return status.rollout_progress(app, make_spec(**MIGRATE, **fields), Observed(job=job))


@pytest.mark.parametrize(("job", "reason", "ready", "message"), [
    (None, "RollingOut", False, "waiting for Job flask to be created"),
    ({"status": job_status(active=1)}, "Running", False, "running: 1 pod active"),
    ({"status": job_status(active=1, failed=2)}, "Running", False,
     "running: 1 pod active, 2 failed before"),
    ({"status": {**job_status(completionTime="2026-01-01T00:01:00Z"),
                 **finished("Complete", "")}}, "Completed", True,
     "completed: its pod ran to success at 2026-01-01T00:01:00Z"),
    ({"status": finished("Failed", "BackoffLimitExceeded", "Job has reached the specified "
                         "backoff limit")}, "JobFailed", False,
     "the run failed (BackoffLimitExceeded: Job has reached the specified backoff limit); "
     "see `kubectl logs job/flask`; a change of the App runs it again"),
])
def test_what_a_job_does_is_said(app: AppRef, job: dict[str, Any] | None, reason: str,
                                 ready: bool, message: str) -> None:
    found = progress(app, job)
    assert (found.reason, found.ready, found.message) == (reason, ready, message)
    assert found.stalled == (reason == "JobFailed")


def test_a_run_once_app_has_a_completed_condition(app: AppRef) -> None:
    def completed(job: dict[str, Any]) -> dict[str, Any]:
        result = status.compute_status(app, 4, make_spec(**MIGRATE), Observed(job=job), None,
                                       None, "2026-01-01T00:00:00Z")
        by_type = {c["type"]: c for c in result["conditions"]}
        assert list(by_type) == ["Ready", "Reconciling", "Stalled", "Completed"]
        return by_type

    done = completed({"status": finished("Complete", "")})
    assert (done["Completed"]["status"], done["Ready"]["status"]) == ("True", "True")
    assert done["Completed"]["observedGeneration"] == 4
    failed = completed({"status": finished("Failed", "BackoffLimitExceeded")})
    assert (failed["Completed"]["status"], failed["Completed"]["reason"]) == ("False",
                                                                              "JobFailed")
    assert failed["Stalled"]["status"] == "True"
    # A service App has no such condition.
    plain = status.compute_status(app, 1, make_spec(), Observed(), None, None, "x")
    assert [c["type"] for c in plain["conditions"]] == ["Ready", "Reconciling", "Stalled"]


def test_a_retrying_status_keeps_the_completed_condition() -> None:
    previous = {"conditions": [{"type": "Completed", "status": "True", "reason": "Completed",
                                "message": "ran", "lastTransitionTime": "t"}]}
    kept = status.retrying_status(previous, 1, "busy", "2026-01-01T00:00:00Z")
    assert previous["conditions"][0] in kept["conditions"]


# Reconciling

def test_a_run_once_app_gets_a_job_and_an_unchanged_one_is_left_alone() -> None:
    api = FakeApi()
    run(api, app_body(**MIGRATE))
    assert api.find(*JOB) is not None and api.find("Deployment", NS, "flask") is None
    api.set_status("Job", NS, "flask", finished("Complete", ""))
    api.writes.clear()
    run(api, app_body(**MIGRATE))
    assert [w for w in api.writes if w[0] != "status"] == []
    assert conditions(api)["Completed"]["status"] == "True"


def test_a_changed_pod_replaces_the_job_and_runs_again() -> None:
    api = FakeApi()
    run(api, app_body(**MIGRATE))
    first = api.find(*JOB)
    assert first is not None
    api.set_status("Job", NS, "flask", finished("Complete", ""))
    outcome = run(api, app_body(generation=2, **{**MIGRATE, "image": "flask:v2"}))
    assert ("delete", "Job", "flask") in api.writes
    again = api.find(*JOB)
    assert again is not None and again["metadata"]["uid"] != first["metadata"]["uid"]
    assert again["spec"]["template"]["spec"]["containers"][0]["image"] == "flask:v2"
    assert outcome.deleted == ["Job flask"]
    assert conditions(api)["Completed"]["status"] == "False"


def test_suspending_a_job_is_an_update_not_a_new_run() -> None:
    api = FakeApi()
    run(api, app_body(**MIGRATE))
    run(api, app_body(generation=2, suspend=True, **MIGRATE))
    assert ("delete", "Job", "flask") not in api.writes
    job = api.find(*JOB)
    assert job is not None and job["spec"]["suspend"] is True


def test_switching_between_deployment_and_job_removes_the_other() -> None:
    api = FakeApi()
    run(api, app_body())
    assert api.find("Deployment", NS, "flask") is not None
    run(api, app_body(generation=2, **MIGRATE))
    assert api.find("Deployment", NS, "flask") is None and api.find(*JOB) is not None
    run(api, app_body(generation=3))
    assert api.find(*JOB) is None and api.find("Deployment", NS, "flask") is not None


def test_a_job_of_someone_else_is_a_conflict_and_never_deleted() -> None:
    api = FakeApi()
    api.create({"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "flask", "namespace": NS}, "spec": {}})
    run(api, app_body(**MIGRATE))
    assert conditions(api)["Stalled"]["reason"] == "NameConflict"
    run(api, app_body(generation=2))  # a service App: the Job is not its to prune either
    assert api.find(*JOB) is not None


# dependsOn with condition Completed

def migrated(generation: int = 1, done: bool = True) -> Obj:
    body = app_body(name="migrate", uid="uid-migrate", generation=generation, **MIGRATE)
    body["status"] = {"conditions": [
        {"type": "Ready", "status": "True", "reason": "Completed", "message": "",
         "observedGeneration": generation},
        {"type": "Completed", "status": "True" if done else "False",
         "reason": "Completed" if done else "Running", "message": "",
         "observedGeneration": generation}]}
    return body


def test_an_app_waits_for_run_once_work_to_complete() -> None:
    web = make_spec(dependsOn=[{"name": "migrate", "condition": "Completed"}])
    held = dependencies.hold("web", web, {"migrate": migrated(done=False)}.get, None)
    assert held is not None and "App migrate is not Completed (Running: )" in held.message
    assert dependencies.hold("web", web, {"migrate": migrated()}.get, None) is None
    service = app_body(name="migrate")
    service["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    held = dependencies.hold("web", web, {"migrate": service}.get, None)
    assert held is not None and "only run-once Apps (restartPolicy OnFailure or Never) " \
        "complete" in held.message


def test_a_held_job_is_suspended_and_a_running_one_is_left_running() -> None:
    api = FakeApi()
    found = reconciler(api)
    found.find_app = lambda _namespace, _name: None
    spec = {**MIGRATE, "dependsOn": [{"name": "db"}]}
    run(api, app_body(**spec), found)
    job = api.find(*JOB)
    assert job is not None and job["spec"]["suspend"] is True
    assert conditions(api)["Ready"]["reason"] == "WaitingForDependency"
    run(api, app_body(**spec), found)  # a suspended Job has not started: still held
    job = api.find(*JOB)
    assert job is not None and job["spec"]["suspend"] is True
    # Started (not suspended): only the start waits.
    assert dependencies.hold("flask", make_spec(**spec), {}.get,
                             {"kind": "Job", "spec": {"suspend": False}}) is None


def test_the_stores_hold_an_apps_job_whole() -> None:
    """A Job owned by an App under the App's name is a child (kept whole for reconciles); a
    labelled Job of another name is held by name only, like any planted object."""
    owner = [{"apiVersion": "appoperator.dev/v1alpha1", "kind": "App", "name": "flask",
              "uid": "u", "controller": True}]
    job = {"apiVersion": "batch/v1", "kind": "Job", "spec": {"suspend": False},
           "metadata": {"name": "flask", "namespace": NS, "ownerReferences": owner}}
    assert cache.is_child(job) and cache.trim(job)["spec"] == {"suspend": False}
    other = {**job, "metadata": {**job["metadata"], "name": "flask-2"}}
    assert not cache.is_child(other) and "spec" not in cache.trim(other)
