"""The Reconciler against a small in-memory API (fake_api.py): what it creates, owns, adopts,
refuses to touch, prunes, keeps, and reports. The same behaviours against a real API server
are in tests/integration/test_operator.py; here each is one reconcile, in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app_operator.core import render, status
from app_operator.core.render import AppRef
from app_operator.runtime.cache import digest_payload, trim
from app_operator.runtime.kube import KubeError
from app_operator.runtime.reconcile import Outcome, Reconciler, owner_of, shrink_refusal

from .fake_api import FakeApi, Obj, app_body, reconciler

NS = "demo"
PORTS = [{"name": "http", "containerPort": 5000, "servicePort": 80}]
VOLUMES = [{"name": "data", "mountPath": "/data"}]
FILES = [{"mountPath": "/etc/app.conf", "content": "debug = false\n"}]
CLAIM = ("PersistentVolumeClaim", NS, "flask-data")


def conditions(api: FakeApi, name: str = "flask") -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in api.statuses[name]["conditions"]}


def run(api: FakeApi, body: Obj, by: Reconciler | None = None) -> Outcome:
    """One reconcile (by a new Reconciler unless one is given, as after a restart); the App
    then carries the status written (as its informer would)."""
    outcome = (by or reconciler(api)).reconcile(body)
    if body["metadata"]["name"] in api.statuses:
        body["status"] = api.statuses[body["metadata"]["name"]]
    return outcome


def rolled_out(api: FakeApi, name: str = "flask", replicas: int = 1) -> None:
    """The Deployment controller and the volume binder did their part."""
    api.set_status("Deployment", NS, name, {
        "observedGeneration": 1, "replicas": replicas, "readyReplicas": replicas,
        "updatedReplicas": replicas, "availableReplicas": replicas}, generation=1)
    for (kind, namespace, claim), _ in list(api.objects.items()):
        if kind == "PersistentVolumeClaim" and claim.startswith(f"{name}-"):
            api.set_status(kind, namespace, claim, {"phase": "Bound",
                                                    "capacity": {"storage": "1Gi"}})


def foreign(kind: str, name: str, **meta: Any) -> Obj:
    return {"apiVersion": "v1", "kind": kind,
            "metadata": {"name": name, "namespace": NS, **meta}, "spec": {}}


def claim(api: FakeApi, name: str = "flask-data") -> Obj:
    found = api.find("PersistentVolumeClaim", NS, name)
    assert found is not None, f"claim {name} is missing"
    return found


# Creating and reporting

def test_a_new_app_gets_its_children_mounted_things_first_and_one_created_event() -> None:
    api = FakeApi()
    outcome = run(api, app_body(ports=PORTS, volumes=VOLUMES, files=FILES))
    assert api.journal == [
        ("apply", "PersistentVolumeClaim", "flask-data"), ("apply", "ConfigMap", "flask-files"),
        ("apply", "Service", "flask"), ("apply", "Deployment", "flask"),
        ("status", "App", "flask"), ("event", "Created")]
    assert api.events == [("Normal", "Created", "Created PersistentVolumeClaim flask-data, "
                           "ConfigMap flask-files, Service flask, Deployment flask")]
    assert outcome.applied == ["PersistentVolumeClaim flask-data", "ConfigMap flask-files",
                               "Service flask", "Deployment flask"]
    assert outcome.problem is None


def test_a_new_app_costs_no_reads_its_children_are_created_only_if_their_names_are_free() -> None:
    """The names a new App's children take are not read first (three GETs an App, a third
    more requests when thousands of Apps are created): each is created by an apply that the
    API server refuses if the name is taken."""
    api = FakeApi()
    run(api, app_body(ports=PORTS, volumes=VOLUMES, files=FILES))
    assert api.gets == []
    assert len(api.objects) == 4


def test_a_child_of_the_app_the_stores_have_not_seen_is_read_and_applied_not_removed() -> None:
    """Its own Deployment, its labels taken off by someone: the stores do not hold it, the
    create-only apply is refused, the name is read, and it is the App's: applied again (the
    labels back), never deleted."""
    api = FakeApi()
    body = app_body(ports=PORTS)
    run(api, body)
    deployment = api.find("Deployment", NS, "flask")
    assert deployment is not None
    uid = deployment["metadata"]["uid"]
    deployment["metadata"]["labels"] = {}
    outcome = run(api, app_body(ports=PORTS, generation=2))
    assert outcome.problem is None
    assert ("Deployment", "flask") in api.gets
    again = api.find("Deployment", NS, "flask")
    assert again is not None and again["metadata"]["uid"] == uid
    assert again["metadata"]["labels"][render.INSTANCE_LABEL] == "flask"
    assert not [w for w in api.writes if w[0] == "delete"]


def test_every_child_is_labelled_and_those_that_go_with_the_app_are_owned_by_its_uid() -> None:
    api = FakeApi()
    run(api, app_body(ports=PORTS, volumes=VOLUMES, files=FILES))
    for kind, name in (("Deployment", "flask"), ("Service", "flask"),
                       ("ConfigMap", "flask-files"), ("PersistentVolumeClaim", "flask-data")):
        child = api.find(kind, NS, name)
        assert child is not None
        assert child["metadata"]["labels"].items() >= {
            "app.kubernetes.io/name": "flask", "app.kubernetes.io/instance": "flask",
            "app.kubernetes.io/managed-by": "app-operator"}.items()
        refs = child["metadata"].get("ownerReferences") or []
        if kind == "PersistentVolumeClaim":
            assert refs == []  # Retain: the claim outlives the App
            assert child["metadata"]["annotations"][render.APP_UID_ANNOTATION] == "app-uid-1"
        else:
            assert [(r["kind"], r["uid"], r["controller"]) for r in refs] == [
                ("App", "app-uid-1", True)]


def test_status_follows_the_rollout_and_ready_is_announced_once() -> None:
    api = FakeApi()
    body = app_body(ports=PORTS, volumes=VOLUMES)
    run(api, body)
    assert conditions(api)["Reconciling"]["status"] == "True"
    assert api.statuses["flask"]["observedGeneration"] == 1
    rolled_out(api)
    api.events.clear()
    outcome = run(api, body)
    ready = conditions(api)["Ready"]
    assert (ready["status"], ready["reason"]) == ("True", "Available")
    assert outcome.applied == [] and outcome.status_written
    assert api.events == [("Normal", "Ready",
                           "1 of 1 replicas available at http://flask.demo.svc")]
    assert api.statuses["flask"]["volumes"] == [{"name": "data", "claimName": "flask-data",
                                                 "phase": "Bound", "capacity": "1Gi"}]
    api.writes.clear()
    api.events.clear()
    run(api, body)
    assert api.writes == [] and api.events == []


def test_a_change_is_applied_and_announced_with_the_fields_that_changed() -> None:
    api = FakeApi()
    run(api, app_body(ports=PORTS))
    api.events.clear()
    api.writes.clear()
    run(api, app_body(generation=2, image="pylounge_flask_app:v2", ports=PORTS))
    assert api.writes[0] == ("apply", "Deployment", "flask")
    assert ("apply", "Service", "flask") not in api.writes
    # The README's example, word for word: the fields a person changed, nothing internal.
    assert ("Normal", "Updated", "Updated Deployment flask "
            "(spec.template.spec.containers[flask].image)") in api.events
    deployment = api.find("Deployment", NS, "flask")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "pylounge_flask_app:v2")


def test_an_edit_by_someone_else_is_put_back() -> None:
    api = FakeApi()
    body = app_body(ports=PORTS)
    run(api, body)
    service = api.find("Service", NS, "flask")
    assert service is not None
    service["spec"]["ports"][0]["port"] = 8080
    api.writes.clear()
    run(api, body)
    # The renumbered entry goes first: applied beside it, 80 would be a second port "http".
    # The patch is not the apply: under a manager of its own, which then gives the port up
    # (or it would keep the port were the App to drop it).
    assert api.writes == [("json-patch", "Service", "flask"), ("json-patch", "Service", "flask"),
                          ("apply", "Service", "flask")]
    assert [m[3] for m in api.managers] == ["app-operator-repair", "app-operator-repair"]
    fixed = api.find("Service", NS, "flask")
    assert fixed is not None and [p["port"] for p in fixed["spec"]["ports"]] == [80]
    assert fixed["metadata"]["managedFields"] == []
    api.writes.clear()
    run(api, body)
    assert api.writes == []


def test_a_deleted_child_is_made_again() -> None:
    api = FakeApi()
    body = app_body(volumes=VOLUMES)
    run(api, body)
    first = claim(api)["metadata"]["uid"]
    del api.objects[CLAIM]
    run(api, body)
    assert claim(api)["metadata"]["uid"] != first


# A field set back after every apply (a mutating webhook)

def mirror_images(obj: Obj) -> None:
    """A mutating webhook that pulls every image through a mirror."""
    if obj["kind"] == "Deployment":
        for c in obj["spec"]["template"]["spec"]["containers"]:
            if not c["image"].startswith("mirror.local/"):
                c["image"] = "mirror.local/" + c["image"]


IMAGE = "spec.template.spec.containers[flask].image"


def test_an_apply_a_webhook_undoes_is_said_once_and_not_sent_again() -> None:
    api = FakeApi()
    api.webhook = mirror_images
    operator = reconciler(api)
    body = app_body(ports=PORTS)
    run(api, body, operator)
    rolled_out(api)
    api.events.clear()
    api.writes.clear()
    # The next reconcile applies the image again, and the answer still has the mirror's.
    outcome = run(api, body, operator)
    assert api.writes[0] == ("apply", "Deployment", "flask")
    assert outcome.overridden == {("Deployment", "flask"): (IMAGE,)}
    warnings = [e for e in api.events if e[0] == "Warning"]
    assert warnings == [("Warning", "ApplyOverridden", (
        f"the API server keeps other values than the App's in Deployment flask ({IMAGE}) "
        "(a mutating webhook or another controller sets them back after each apply); not "
        "applied again until the App or that object changes"))]
    assert not [e for e in api.events if e[1] == "Updated"]  # nothing was updated
    ready = conditions(api)["Ready"]
    assert ready["status"] == "True" and ready["reason"] == "Available"
    assert ready["message"] == ("1 of 1 replicas available at http://flask.demo.svc; "
                                + warnings[0][2])
    # Then: no apply, no event, no status write, however often it is reconciled.
    api.events.clear()
    api.writes.clear()
    for _ in range(5):
        outcome = run(api, body, operator)
        assert outcome.applied == [] and outcome.overridden == {
            ("Deployment", "flask"): (IMAGE,)}
    assert api.writes == [] and api.events == []
    assert conditions(api)["Ready"]["message"] == ready["message"]


def test_an_apply_held_back_is_sent_again_when_the_app_or_the_child_changes() -> None:
    api = FakeApi()
    api.webhook = mirror_images
    operator = reconciler(api)
    body = app_body()
    run(api, body, operator)
    run(api, body, operator)
    assert ("Deployment", "flask") in run(api, body, operator).overridden
    # Another hand changes a field the operator sets: applied again (and found futile again,
    # the webhook still being there, but only that once).
    api.objects[("Deployment", NS, "flask")]["spec"]["replicas"] = 3
    api.writes.clear()
    api.events.clear()
    run(api, body, operator)
    assert api.writes == [("apply", "Deployment", "flask")]
    assert api.objects[("Deployment", NS, "flask")]["spec"]["replicas"] == 1
    assert api.events == [("Normal", "Updated", "Updated Deployment flask (spec.replicas)")]
    run(api, body, operator)
    assert api.writes == [("apply", "Deployment", "flask")]
    assert "keeps other values" in conditions(api)["Ready"]["message"]
    # A new generation is applied.
    api.writes.clear()
    body = {**app_body(generation=2, image="pylounge_flask_app:v2"), "status": body["status"]}
    api.events.clear()
    run(api, body, operator)
    assert ("apply", "Deployment", "flask") in api.writes
    # The new image reached the object (through the mirror); the Warning was said already.
    assert api.events == [("Normal", "Updated", f"Updated Deployment flask ({IMAGE})")]
    assert api.objects[("Deployment", NS, "flask")]["spec"]["template"]["spec"][
        "containers"][0]["image"] == "mirror.local/pylounge_flask_app:v2"
    api.writes.clear()
    run(api, body, operator)
    assert api.writes == []
    # The webhook gone, the next change goes through and the note goes with the hold.
    api.webhook = lambda _obj: None
    body = {**app_body(generation=3, image="pylounge_flask_app:v3"), "status": body["status"]}
    outcome = run(api, body, operator)
    assert outcome.overridden == {}
    assert "keeps other values" not in conditions(api)["Ready"]["message"]
    api.writes.clear()
    run(api, body, operator)
    assert api.writes == []


def test_a_forgotten_app_is_tried_afresh() -> None:
    api = FakeApi()
    api.webhook = mirror_images
    operator = reconciler(api)
    for _ in range(3):
        run(api, app_body(), operator)
    api.writes.clear()
    operator.forget(NS, "flask")
    run(api, app_body(), operator)
    assert ("apply", "Deployment", "flask") in api.writes
    # An App being deleted is forgotten too.
    for _ in range(2):
        run(api, app_body(), operator)
    deleting = app_body()
    deleting["metadata"]["deletionTimestamp"] = "2026-12-06T08:00:00Z"
    run(api, deleting, operator)
    api.writes.clear()
    run(api, app_body(), operator)
    assert ("apply", "Deployment", "flask") in api.writes


# Time-based verdicts

def test_a_crash_loop_that_ages_out_asks_to_be_reconciled_when_it_does() -> None:
    """A container that restarted a few times and is not ready is crash-looping for ten
    minutes after its last exit; no event comes when that time is over, so the outcome says
    when to look again."""
    api = FakeApi()
    run(api, app_body())
    rolled_out(api)
    assert run(api, app_body()).requeue_after is None
    finished = datetime.now(UTC) - timedelta(minutes=4)
    api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "flask-1", "namespace": NS, "labels": {render.INSTANCE_LABEL: "flask"}},
        "status": {"containerStatuses": [{
            "name": "flask", "ready": False, "restartCount": 3,
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1,
                                         "finishedAt": finished.strftime("%Y-%m-%dT%H:%M:%SZ")}},
        }]}})
    after = run(api, app_body()).requeue_after
    assert after is not None and 5 * 60 < after <= 6 * 60 + 1


# Ownership: never take over what is not the App's own

LABELS = {render.MANAGED_BY_LABEL: render.MANAGED_BY, render.NAME_LABEL: "flask",
          render.INSTANCE_LABEL: "flask"}
NOBODY = "nobody (it was not made by app-operator for this App)"


@pytest.mark.parametrize(("existing", "owner"), [
    (foreign("Deployment", "flask"), NOBODY),
    # Controlled by an earlier App of the same name (another uid), e.g. orphaned from it.
    (foreign("Deployment", "flask", ownerReferences=[
        {"apiVersion": "appoperator.dev/v1alpha1", "kind": "App", "name": "flask",
         "uid": "an-earlier-app", "controller": True}]),
     "another App (an earlier one of this name, or another)"),
    (foreign("Deployment", "flask", ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "rs",
         "controller": True}]), "another object"),
    (foreign("Service", "flask", labels={"app.kubernetes.io/managed-by": "app-operator",
                                         "app.kubernetes.io/instance": "web"}), NOBODY),
    (foreign("PersistentVolumeClaim", "flask-data"), NOBODY),
    (foreign("ConfigMap", "flask-files"), NOBODY),
    # Our labels, set by anyone who may write in the namespace, make nothing the App's.
    (foreign("Deployment", "flask", labels=LABELS), NOBODY),
    (foreign("Service", "flask", labels=LABELS), NOBODY),
    (foreign("ConfigMap", "flask-files", labels=LABELS), NOBODY),
    (foreign("PersistentVolumeClaim", "flask-data", labels=LABELS), NOBODY),
])
def test_an_object_of_a_childs_name_that_is_not_the_apps_is_a_conflict_left_alone(
        existing: Obj, owner: str) -> None:
    api = FakeApi()
    stored = api.create(existing)
    outcome = run(api, app_body(ports=PORTS, volumes=VOLUMES, files=FILES))
    assert outcome.problem is not None and outcome.problem.reason == status.NAME_CONFLICT
    name = existing["metadata"]["name"]
    assert f"{existing['kind']} {name} (owned by {owner})" in outcome.problem.message
    # The foreign object is never written, and nothing of the App's is left while in
    # conflict: what a create-only apply made before it reached the taken name goes again.
    assert [w for w in api.writes if w[1:] == (existing["kind"], name)] == []
    assert api.find(existing["kind"], NS, name) == stored
    assert list(api.objects) == [(existing["kind"], NS, name)]
    assert not [e for e in api.events if e[1] == "Created"]
    # Reconciled again while stalled (an event of the removed children): nothing is made and
    # removed again at every turn.
    writes = len(api.writes)
    body = app_body(ports=PORTS, volumes=VOLUMES, files=FILES)
    body["status"] = api.statuses["flask"]
    assert run(api, body).problem == outcome.problem
    assert [w for w in api.writes[writes:] if w[0] != "status"] == []
    stalled = conditions(api)["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "NameConflict")
    assert ("Warning", "NameConflict", outcome.problem.message) in api.events


def test_a_conflict_message_names_no_object_the_author_did_not_name() -> None:
    """An App's author who may not list ReplicaSets, ConfigMaps or other Apps' children
    learns from the message that a name is taken, not by what (issue 23 item 5)."""
    api = FakeApi()
    api.create(foreign("Deployment", "flask", ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "secret-rs", "uid": "rs",
         "controller": True}]))
    api.create(foreign("Service", "flask", labels={**LABELS, render.INSTANCE_LABEL: "hidden"}))
    outcome = run(api, app_body(ports=PORTS))
    assert outcome.problem is not None
    for hidden in ("secret-rs", "ReplicaSet", "hidden"):
        assert hidden not in outcome.problem.message


def test_a_controller_reference_is_the_apps_only_by_uid() -> None:
    app = AppRef(name="flask", namespace=NS, uid="u-1")
    ref = {"apiVersion": "appoperator.dev/v1alpha1", "kind": "App", "name": "flask",
           "controller": True}
    assert owner_of({"metadata": {"ownerReferences": [{**ref, "uid": "u-1"}]}}, app) is None
    assert owner_of({"metadata": {"ownerReferences": [{**ref, "uid": "u-2"}]}}, app) == (
        "another App (an earlier one of this name, or another)")
    # A reference that is not the controller does not make an object the App's.
    loose = {"metadata": {"ownerReferences": [{**ref, "uid": "u-1", "controller": False}]}}
    assert owner_of(loose, app) == NOBODY
    # Nor do labels alone, on any kind.
    for kind in ("Deployment", "Service", "ConfigMap", "PersistentVolumeClaim"):
        assert owner_of({"kind": kind, "metadata": {"labels": LABELS}}, app) == NOBODY


def test_a_claim_is_the_operators_by_the_annotations_it_writes_on_claims() -> None:
    """Under Retain a claim has no owner by design: the uid annotation the operator writes
    on each claim, or the mark of a kept claim, is what makes it one of the operator's
    (for this App to own, or only to mount again: render.is_kept_claim)."""
    app = AppRef(name="flask", namespace=NS, uid="u-1")

    def pvc(labels: dict[str, str], **annotations: str) -> Obj:
        return {"kind": "PersistentVolumeClaim",
                "metadata": {"labels": labels, "annotations": annotations}}

    assert owner_of(pvc(LABELS, **{render.APP_UID_ANNOTATION: "u-1"}), app) is None
    assert owner_of(pvc(LABELS, **{render.APP_UID_ANNOTATION: "an-earlier-app"}), app) is None
    assert owner_of(pvc(LABELS, **{render.KEPT_ANNOTATION: "true"}), app) is None
    # Labelled for another App, or not labelled at all: not a claim of this name's.
    other = {**LABELS, render.INSTANCE_LABEL: "web"}
    assert owner_of(pvc(other, **{render.APP_UID_ANNOTATION: "u-1"}), app) == NOBODY
    assert owner_of(pvc({}, **{render.APP_UID_ANNOTATION: "u-1"}), app) == NOBODY
    # The annotations make only a claim the operator's, no other kind.
    deployment = {**pvc(LABELS, **{render.APP_UID_ANNOTATION: "u-1"}), "kind": "Deployment"}
    assert owner_of(deployment, app) == NOBODY


def test_a_planted_deployment_with_our_labels_is_never_adopted() -> None:
    """Made before the App by someone who may write in the namespace, with an extra
    container: the App stalls, the Deployment keeps only what its maker gave it."""
    api = FakeApi()
    planted = api.create({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "flask", "namespace": NS, "labels": LABELS},
        "spec": {"template": {"spec": {"containers": [
            {"name": "flask", "image": "flask:1"}, {"name": "miner", "image": "miner:1"}]}}}})
    outcome = run(api, app_body())
    assert outcome.problem is not None and outcome.problem.reason == status.NAME_CONFLICT
    assert api.find("Deployment", NS, "flask") == planted
    assert conditions(api)["Ready"]["status"] == "False"


def test_a_labelled_files_config_map_the_app_did_not_make_is_never_deleted() -> None:
    """An App without inline files prunes its `<app>-files` ConfigMap only when it owns it."""
    api = FakeApi()
    planted = api.create(foreign("ConfigMap", "flask-files", labels=LABELS))
    outcome = run(api, app_body())
    assert api.find("ConfigMap", NS, "flask-files") == planted
    assert outcome.deleted == []


def test_an_orphaned_child_of_an_earlier_app_of_the_same_name_is_a_conflict() -> None:
    """`kubectl delete app --cascade=orphan` keeps the children; an App made again under
    that name does not take them over (nothing tells them from objects planted with the
    same labels): it stalls, naming them, until they are deleted. Claims, which carry the
    uid annotation the operator wrote, are mounted again as kept claims."""
    api = FakeApi()
    run(api, app_body(uid="old", ports=PORTS, volumes=VOLUMES))
    for kind, name in (("Deployment", "flask"), ("Service", "flask")):
        api.objects[(kind, NS, name)]["metadata"].pop("ownerReferences")
    outcome = run(api, app_body(uid="new", ports=PORTS, volumes=VOLUMES))
    assert outcome.problem is not None and outcome.problem.reason == status.NAME_CONFLICT
    assert "Deployment flask (owned by nobody" in outcome.problem.message
    assert "Service flask (owned by nobody" in outcome.problem.message
    assert "PersistentVolumeClaim" not in outcome.problem.message
    for kind in ("Deployment", "Service"):
        del api.objects[(kind, NS, "flask")]
    outcome = run(api, app_body(uid="new", ports=PORTS, volumes=VOLUMES))
    assert outcome.problem is None
    kept = claim(api)
    assert kept["metadata"]["annotations"][render.KEPT_ANNOTATION] == "true"
    assert not kept["metadata"].get("ownerReferences")


# Pruning what the spec no longer asks for

def test_removing_the_ports_deletes_the_service_but_never_a_foreign_one() -> None:
    api = FakeApi()
    run(api, app_body(ports=PORTS))
    outcome = run(api, app_body(generation=2))
    assert api.find("Service", NS, "flask") is None
    assert outcome.deleted == ["Service flask"]
    assert ("Normal", "Deleted", "Deleted Service flask") in api.events
    other = FakeApi()
    stored = other.create(foreign("Service", "flask"))
    outcome = run(other, app_body())
    assert other.find("Service", NS, "flask") == stored
    assert outcome.problem is None and outcome.deleted == []


# Volumes: kept, released and deleted

def test_a_volume_removed_under_retain_is_kept_marked_and_listed() -> None:
    api = FakeApi()
    run(api, app_body(volumes=[*VOLUMES, {"name": "cache", "mountPath": "/cache"}]))
    outcome = run(api, app_body(generation=2, volumes=VOLUMES))
    kept = claim(api, "flask-cache")
    assert kept["metadata"]["annotations"][render.KEPT_ANNOTATION] == "true"
    assert not kept["metadata"].get("ownerReferences")
    assert outcome.deleted == []
    assert api.statuses["flask"]["retainedClaims"] == ["flask-cache"]
    assert [v["name"] for v in api.statuses["flask"]["volumes"]] == ["data"]


def test_a_claim_created_under_delete_is_released_when_the_policy_becomes_retain() -> None:
    api = FakeApi()
    run(api, app_body(volumeDeletionPolicy="Delete", volumes=VOLUMES))
    assert [r["uid"] for r in claim(api)["metadata"]["ownerReferences"]] == ["app-uid-1"]
    # The volume stays in the spec; only the policy changes.
    run(api, app_body(generation=2, volumes=VOLUMES))
    assert not claim(api)["metadata"].get("ownerReferences")
    # So deleting the App leaves the data.
    api.collect_garbage("app-uid-1")
    assert api.find(*CLAIM) is not None


def test_a_volume_removed_under_delete_loses_its_claim_and_says_so() -> None:
    api = FakeApi()
    run(api, app_body(volumeDeletionPolicy="Delete", volumes=VOLUMES))
    outcome = run(api, app_body(generation=2, volumeDeletionPolicy="Delete"))
    assert api.find(*CLAIM) is None
    assert outcome.deleted == ["PersistentVolumeClaim flask-data"]
    assert ("Normal", "Deleted", "Deleted PersistentVolumeClaim flask-data") in api.events
    assert "retainedClaims" not in api.statuses["flask"]


def test_a_claim_marked_kept_is_never_deleted_even_while_the_app_owns_it() -> None:
    """A claim marked kept and still owned by the App (marked by an older version, or the
    reference left by hand) holds data someone chose to keep: removing its volume under
    volumeDeletionPolicy Delete releases it, never deletes it."""
    api = FakeApi()
    run(api, app_body(volumeDeletionPolicy="Delete", volumes=VOLUMES))
    stored = api.objects[CLAIM]
    assert [r["uid"] for r in stored["metadata"]["ownerReferences"]] == ["app-uid-1"]
    stored["metadata"].setdefault("annotations", {})[render.KEPT_ANNOTATION] = "true"
    outcome = run(api, app_body(generation=2, volumeDeletionPolicy="Delete"))
    assert ("delete", "PersistentVolumeClaim", "flask-data") not in api.writes
    assert outcome.deleted == []
    kept = claim(api)
    assert not kept["metadata"].get("ownerReferences")  # released: deleting the App keeps it
    assert kept["metadata"]["annotations"][render.KEPT_ANNOTATION] == "true"
    assert api.statuses["flask"]["retainedClaims"] == ["flask-data"]


def test_a_claim_being_deleted_is_neither_touched_nor_listed_as_retained() -> None:
    api = FakeApi()
    run(api, app_body(volumes=VOLUMES))
    api.objects[CLAIM]["metadata"]["deletionTimestamp"] = "2026-11-29T10:00:00Z"
    api.writes.clear()
    run(api, app_body(generation=2))
    assert [w for w in api.writes if w[1] == "PersistentVolumeClaim"] == []
    assert "retainedClaims" not in api.statuses["flask"]


def test_a_claim_of_another_app_is_never_pruned() -> None:
    api = FakeApi()
    run(api, app_body(name="flask-db", uid="db", volumeDeletionPolicy="Delete",
                      volumes=VOLUMES))  # claim flask-db-data, instance flask-db
    run(api, app_body(volumeDeletionPolicy="Delete"))
    assert api.find("PersistentVolumeClaim", NS, "flask-db-data") is not None


# What cannot proceed

def test_an_invalid_spec_touches_nothing_and_reports_what_runs() -> None:
    api = FakeApi()
    run(api, app_body(ports=PORTS))
    rolled_out(api)
    api.writes.clear()
    body = app_body(generation=2)
    body["spec"]["ports"] = [{"containerPort": 5000}, {"containerPort": 5000}]
    outcome = run(api, body)
    assert outcome.problem is not None and outcome.problem.reason == status.INVALID_SPEC
    assert "two ports use the same containerPort" in outcome.problem.message
    assert api.writes == [("status", "App", "flask")]
    assert api.statuses["flask"]["readyReplicas"] == 1  # the Deployment still runs
    assert api.statuses["flask"]["observedGeneration"] == 2
    # A foreign Deployment of that name is not reported as the App's.
    other = FakeApi()
    other.create({**foreign("Deployment", "flask"), "status": {"readyReplicas": 3}})
    run(other, body)
    assert other.statuses["flask"]["readyReplicas"] == 0


def test_a_refused_child_stalls_the_app_with_the_servers_reason() -> None:
    api = FakeApi()
    api.refuse["Service"] = KubeError(422, "Invalid", 'Service "flask" is invalid: x')
    outcome = run(api, app_body(ports=PORTS, volumes=VOLUMES))
    assert outcome.problem is not None and outcome.problem.reason == status.API_REFUSED
    assert outcome.problem.message == (
        'the API server refused Service flask: Service "flask" is invalid: x')
    # What could be applied was (and announced): the refused Service holds nothing back.
    assert outcome.applied == ["PersistentVolumeClaim flask-data", "Deployment flask"]
    assert api.find("Deployment", NS, "flask") is not None
    assert ("Normal", "Created",
            "Created PersistentVolumeClaim flask-data, Deployment flask") in api.events
    assert conditions(api)["Stalled"]["reason"] == "ApiRefused"


RESIZE_FORBIDDEN = KubeError(
    403, "Forbidden", 'persistentvolumeclaims "flask-data" is forbidden: only dynamically '
    "provisioned pvc can be resized and the storageclass that provisions the pvc must "
    "support resize")


def test_a_refused_claim_does_not_keep_an_image_update_from_the_deployment() -> None:
    """A volume grown on a StorageClass without expansion and a new image, in one change:
    the image is rolled out, the App is Stalled naming the claim, and setting the size back
    to what the claim has makes it Ready again."""
    api = FakeApi()
    run(api, app_body(volumes=VOLUMES))
    rolled_out(api)
    run(api, app_body(volumes=VOLUMES))
    assert conditions(api)["Ready"]["status"] == "True"
    api.refuse["PersistentVolumeClaim"] = RESIZE_FORBIDDEN
    grown = [{**VOLUMES[0], "size": "2Gi"}]
    outcome = run(api, app_body(generation=2, image="pylounge_flask_app:v2", volumes=grown))
    deployment = api.find("Deployment", NS, "flask")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "pylounge_flask_app:v2")
    assert outcome.applied == ["Deployment flask"]
    assert outcome.problem is not None and outcome.problem.reason == status.API_REFUSED
    stalled = conditions(api)["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "ApiRefused")
    assert stalled["message"] == f"the API server refused PersistentVolumeClaim flask-data: " \
        f"{RESIZE_FORBIDDEN.message}"
    assert claim(api)["spec"]["resources"]["requests"]["storage"] == "1Gi"
    # Undone: the claim already is what the App asks, so nothing is sent to it.
    api.writes.clear()
    body = app_body(generation=3, image="pylounge_flask_app:v2", volumes=VOLUMES)
    run(api, body)
    rolled_out(api)
    outcome = run(api, body)
    assert outcome.problem is None
    assert [w for w in api.writes if w[1] == "PersistentVolumeClaim"] == []
    ready = conditions(api)["Ready"]
    assert (ready["status"], conditions(api)["Stalled"]["status"]) == ("True", "False")


def test_each_refused_child_is_named_with_its_reason() -> None:
    api = FakeApi()
    api.refuse["Service"] = KubeError(422, "Invalid", "bad port")
    api.refuse["ConfigMap"] = KubeError(403, "Forbidden", "exceeded quota: configmaps")
    outcome = run(api, app_body(ports=PORTS, files=FILES))
    assert outcome.problem is not None
    assert outcome.problem.message == (
        "the API server refused ConfigMap flask-files: exceeded quota: configmaps; "
        "the API server refused Service flask: bad port")
    assert outcome.applied == ["Deployment flask"]


def test_a_volume_below_its_claims_size_is_refused_and_never_sent() -> None:
    api = FakeApi()
    run(api, app_body(volumes=[{**VOLUMES[0], "size": "2Gi"}], ports=PORTS))
    api.writes.clear()
    outcome = run(api, app_body(generation=2, image="pylounge_flask_app:v2", ports=PORTS,
                                volumes=[{**VOLUMES[0], "size": "1Gi"}]))
    assert api.writes[0] == ("apply", "Deployment", "flask")
    assert [w for w in api.writes if w[1] == "PersistentVolumeClaim"] == []
    assert outcome.problem is not None and outcome.problem.reason == status.API_REFUSED
    assert outcome.problem.message == (
        "PersistentVolumeClaim flask-data cannot shrink to 1Gi: it requests 2Gi, and a volume "
        "never shrinks; set the volume's size back to 2Gi or more, or use a new volume to "
        "hold less")
    assert claim(api)["spec"]["resources"]["requests"]["storage"] == "2Gi"


def _claim_of(requests: str, capacity: str | None = None) -> Obj:
    obj: Obj = {"kind": "PersistentVolumeClaim", "metadata": {"name": "flask-data"},
                "spec": {"resources": {"requests": {"storage": requests}}}}
    if capacity is not None:
        obj["status"] = {"phase": "Bound", "capacity": {"storage": capacity}}
    return obj


@pytest.mark.parametrize(("wanted", "live", "refused"), [
    ("1Gi", _claim_of("1Gi", "1Gi"), None),  # the same size
    ("1024Mi", _claim_of("1Gi", "1Gi"), None),  # the same size, written otherwise
    ("2Gi", _claim_of("1Gi", "1Gi"), None),  # growth: the API server judges it
    ("10Gi", _claim_of("2Gi", "10Gi"), None),  # more was given than asked: no shrink
    ("1Gi", _claim_of("2Gi", "2Gi"), "it requests 2Gi, and a volume never shrinks"),
    ("1Gi", _claim_of("2Gi", "10Gi"), "it requests 2Gi, and a volume never shrinks"),
    ("1Gi", _claim_of("2Gi"), "set the volume's size back to 2Gi or more"),  # not bound yet
    # An expansion asked for and not done can be undone, down to just above what it holds.
    ("1536Mi", _claim_of("2Gi", "1Gi"), None),
    ("1Gi", _claim_of("2Gi", "1Gi"), "it requests 2Gi and holds 1Gi"),
    ("512Mi", _claim_of("2Gi", "1Gi"), "set the volume's size to more than 1Gi"),
])
def test_a_claim_may_go_back_to_the_size_it_has_but_never_below(
        wanted: str, live: Obj, refused: str | None) -> None:
    desired = _claim_of(wanted)
    found = shrink_refusal(desired, live)
    if refused is None:
        assert found is None
    else:
        assert found is not None and refused in found and f"shrink to {wanted}" in found
    assert shrink_refusal(desired, None) is None  # a new claim


def test_a_transient_error_is_raised_for_the_controller_to_retry() -> None:
    api = FakeApi()
    api.refuse["Deployment"] = KubeError(503, "ServiceUnavailable", "busy")
    with pytest.raises(KubeError):
        reconciler(api).reconcile(app_body())
    assert api.statuses == {}


def test_a_namespace_being_deleted_is_left_to_go() -> None:
    api = FakeApi()
    api.refuse["Deployment"] = KubeError(
        403, "Forbidden", "namespace demo is being terminated")
    outcome = reconciler(api).reconcile(app_body())
    assert outcome.namespace_terminating
    assert api.statuses == {} and outcome.problem is None


def test_a_files_config_map_held_as_digests_is_compared_by_them() -> None:
    """The informer's store keeps a digest of each value of a ConfigMap (cache.trim): a
    converged App writes nothing, new content and content changed by another hand are
    applied (issue 23 item 1)."""
    api = FakeApi()
    key = ("ConfigMap", NS, "flask-files")
    body = app_body(files=FILES)
    run(api, body)
    api.objects[key] = trim(api.objects[key])
    api.writes.clear()
    run(api, body)
    assert api.writes == []
    # Another hand changes the content: put back.
    (name,) = api.objects[key]["data"]
    api.objects[key]["data"][name] = digest_payload(
        {"kind": "ConfigMap", "data": {name: "debug = true\n"}})["data"][name]
    outcome = run(api, body)
    assert outcome.applied == ["ConfigMap flask-files"]
    assert api.objects[key]["data"] == {name: "debug = false\n"}
    # New content from the App: applied.
    api.objects[key] = trim(api.objects[key])
    outcome = run(api, app_body(generation=2, files=[{**FILES[0], "content": "x = 1\n"}]))
    assert "ConfigMap flask-files" in outcome.applied
