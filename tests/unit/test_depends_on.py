"""dependsOn: an App starts (its Deployment leaves 0 replicas) once the Apps it names are
Ready, says what it waits for meanwhile, is woken when a dependency's status changes, and
reports a cycle instead of waiting for ever. Pure judgement (core.dependencies), the
reconciler on the fake API, and the controller's dependency -> dependents mapping."""

from __future__ import annotations

from typing import Any

import pytest

from app_operator.core import dependencies, status
from app_operator.core.dependencies import Hold
from app_operator.core.model import AppSpec
from app_operator.runtime.controller import Controller
from app_operator.runtime.reconcile import Outcome, Reconciler

from .conftest import make_spec
from .fake_api import FakeApi, Obj, app_body, reconciler
from .test_controller import FakeInformer, FakeReconciler, app, run_queue
from .test_reconcile import NS, conditions, run


def ready(name: str, generation: int = 1, reason: str = "Available",
          status_: str = "True", observed: int | None = None, **spec: Any) -> Obj:
    body = app_body(name=name, uid=f"uid-{name}", generation=generation, **spec)
    body["status"] = {"conditions": [{
        "type": "Ready", "status": status_, "reason": reason, "message": f"{reason} message",
        "observedGeneration": generation if observed is None else observed}]}
    return body


def needs(*names: str) -> AppSpec:
    return make_spec(dependsOn=[{"name": n} for n in names])


def lookup(*bodies: Obj) -> dependencies.Lookup:
    by_name = {b["metadata"]["name"]: b for b in bodies}
    return by_name.get


# Judgement

@pytest.mark.parametrize(("body", "said"), [
    (None, "App db does not exist"),
    (ready("db", status_="False", reason="RollingOut"),
     "App db is not Ready (RollingOut: RollingOut message)"),
    (ready("db", generation=2, observed=1),
     "App db is not Ready (its current spec is not reconciled yet)"),
    (ready("db", reason="Suspended"), "App db is suspended"),
    (ready("db", reason="ScaledToZero"), "App db is scaled to 0"),
    ({**ready("db"), "status": {}}, "App db is not Ready (no status yet)"),
    ({**ready("db"), "metadata": {**ready("db")["metadata"],
                                  "deletionTimestamp": "2026-01-01T00:00:00Z"}},
     "App db is being deleted"),
])
def test_what_a_dependency_lacks_is_said(body: Obj | None, said: str) -> None:
    assert dependencies.why_unmet("db", "Ready", body) == said
    held = dependencies.hold("web", needs("db"), lookup(*([body] if body else [])), None)
    assert held == Hold(dependencies.WAITING_FOR_DEPENDENCY,
                        "waiting for its dependencies (dependsOn) before it starts, at 0 "
                        f"replicas: {said}")


def test_a_ready_dependency_lets_the_app_start() -> None:
    assert dependencies.why_unmet("db", "Ready", ready("db")) is None
    assert dependencies.hold("web", needs("db"), lookup(ready("db")), None) is None


def test_each_unmet_dependency_is_named() -> None:
    held = dependencies.hold("web", needs("db", "cache", "queue"),
                             lookup(ready("cache"), ready("queue", status_="False")), None)
    assert held is not None
    assert held.message.endswith("App db does not exist; App queue is not Ready "
                                 "(Available: Available message)")


def test_only_the_start_waits() -> None:
    """A running App (its Deployment has replicas) is never stopped because a dependency
    stopped being Ready: a database's rollout would take its users down with it."""
    running = {"spec": {"replicas": 2}}
    assert dependencies.hold("web", needs("db"), lookup(), running) is None
    assert dependencies.hold("web", needs("db"), lookup(), {"spec": {"replicas": 0}}) is not None
    # Nothing to hold back when it is scaled to 0 or suspended anyway.
    idle = make_spec(replicas=0, dependsOn=[{"name": "db"}])
    assert dependencies.hold("web", idle, lookup(), None) is None


@pytest.mark.parametrize(("others", "cycle"), [
    ([], ["web", "web"]),  # depends on itself
    ([ready("db", dependsOn=[{"name": "web"}])], ["web", "db", "web"]),
    ([ready("db", dependsOn=[{"name": "cache"}]), ready("cache", dependsOn=[{"name": "web"}])],
     ["web", "db", "cache", "web"]),
])
def test_a_cycle_is_reported_and_stalls(others: list[Obj], cycle: list[str]) -> None:
    spec = needs("web") if not others else needs("db")
    held = dependencies.hold("web", spec, lookup(*others), None)
    assert held is not None and held.stalled and held.replicas_held
    assert held.reason == dependencies.DEPENDENCY_CYCLE
    assert f"dependsOn forms a cycle: {' -> '.join(cycle)};" in held.message
    # Reported also once it runs, but its pods are left running.
    running = dependencies.hold("web", spec, lookup(*others), {"spec": {"replicas": 1}})
    assert running is not None and running.stalled and not running.replicas_held


def test_a_cycle_elsewhere_is_not_this_apps_and_ends() -> None:
    """web -> db, and db <-> cache: web waits for db (not Ready), the cycle is db's and
    cache's to report; the search ends."""
    others = [ready("db", status_="False", dependsOn=[{"name": "cache"}]),
              ready("cache", dependsOn=[{"name": "db"}])]
    held = dependencies.hold("web", needs("db"), lookup(*others), None)
    assert held is not None and held.reason == dependencies.WAITING_FOR_DEPENDENCY


# The reconciler

def store(api: FakeApi, *bodies: Obj) -> Reconciler:
    by_name = {b["metadata"]["name"]: b for b in bodies}
    found = reconciler(api)
    found.find_app = lambda namespace, name: by_name.get(name) if namespace == NS else None
    return found


def test_the_deployment_waits_at_zero_replicas_and_the_app_says_why() -> None:
    api = FakeApi()
    web = app_body(name="web", replicas=3, dependsOn=[{"name": "db"}])
    run(api, web, store(api, ready("db", status_="False", reason="RollingOut")))
    deployment = api.find("Deployment", NS, "web")
    assert deployment is not None and deployment["spec"]["replicas"] == 0
    ready_condition = conditions(api, "web")["Ready"]
    assert (ready_condition["status"], ready_condition["reason"]) == (
        "False", "WaitingForDependency")
    assert "App db is not Ready (RollingOut" in ready_condition["message"]
    assert conditions(api, "web")["Stalled"]["status"] == "False"
    # The dependency is Ready: the App starts with its replicas.
    run(api, web, store(api, ready("db")))
    assert api.objects[("Deployment", NS, "web")]["spec"]["replicas"] == 3
    assert conditions(api, "web")["Ready"]["reason"] == "RollingOut"
    # And it is not stopped when the dependency goes.
    run(api, web, store(api))
    assert api.objects[("Deployment", NS, "web")]["spec"]["replicas"] == 3


def test_a_cycle_stalls_the_app_at_zero_replicas() -> None:
    api = FakeApi()
    run(api, app_body(name="web", dependsOn=[{"name": "db"}]),
        store(api, ready("db", dependsOn=[{"name": "web"}])))
    assert api.objects[("Deployment", NS, "web")]["spec"]["replicas"] == 0
    stalled = conditions(api, "web")["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "DependencyCycle")
    assert "web -> db -> web" in stalled["message"]


def test_status_reports_the_hold_before_anything_else(app: Any) -> None:
    held = Hold(dependencies.WAITING_FOR_DEPENDENCY, "waiting: App db does not exist")
    result = status.compute_status(app, 1, needs("db"), status.Observed(hold=held), None, None,
                                   "2026-01-01T00:00:00Z")
    by_type = {c["type"]: c for c in result["conditions"]}
    assert by_type["Ready"]["reason"] == by_type["Reconciling"]["reason"] == (
        "WaitingForDependency")


# The controller: a dependency's change wakes its dependents

@pytest.fixture
def parts() -> Any:
    fake = FakeReconciler()
    informer = FakeInformer()
    controller = Controller(fake, [informer], workers=0)  # type: ignore[arg-type]
    controller.start()
    yield controller, fake, informer
    controller.stop()


def with_deps(name: str, *names: str, generation: int = 1) -> dict[str, Any]:
    body = app(name, generation=generation)
    body["spec"] = {"dependsOn": [{"name": n} for n in names]}
    return body


def test_a_dependencys_change_or_deletion_wakes_its_dependents(parts: Any) -> None:
    controller, fake, informer = parts
    informer.listed(app("db"), with_deps("web", "db"), with_deps("cron", "db"), app("other"))
    run_queue(controller)
    fake.seen.clear()
    informer.event(app("db"))  # its status changed
    run_queue(controller)
    assert sorted(fake.seen) == [("cron", 1), ("db", 1), ("web", 1)]
    fake.seen.clear()
    # web no longer depends on db: only cron is woken.
    informer.event(with_deps("web", generation=2))
    run_queue(controller)
    fake.seen.clear()
    informer.event(app("db"), deleted=True)
    run_queue(controller)
    assert fake.seen == [("cron", 1)]


def test_an_own_status_write_wakes_the_dependents(parts: Any) -> None:
    """The operator's own status write comes back from the watch as no news: the
    dependents are woken when it is written."""
    controller, fake, informer = parts
    informer.listed(app("db"), with_deps("web", "db"))
    run_queue(controller)
    fake.seen.clear()
    fake.answers = [Outcome(status_written=True)]
    controller.queue.add(("ns", "db"))
    run_queue(controller)
    assert fake.seen == [("db", 1), ("web", 1)]


def test_a_forgotten_app_leaves_no_mapping(parts: Any) -> None:
    controller, _, informer = parts
    informer.listed(app("db"), with_deps("web", "db"))
    assert controller.dependents(("ns", "db")) == [("ns", "web")]
    informer.event(with_deps("web", "db"), deleted=True)
    assert controller.dependents(("ns", "db")) == []
    assert controller._depends_on == {}
