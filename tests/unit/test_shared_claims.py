"""Shared claims (`volumes[].claimName`): an App mounts an existing claim it does not own,
as several compose services mount one named volume. The operator never creates, resizes,
adopts or deletes such a claim; the App's status says whether it exists and is bound.
The same against a real API server (CEL rules, two Apps, deleting both) is in
tests/integration/test_shared_claims.py."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app_operator.core import crd, render, status
from app_operator.core.model import AppSpec
from app_operator.core.render import AppRef
from app_operator.core.status import Observed

from .conftest import make_spec
from .fake_api import FakeApi, Obj, app_body
from .test_reconcile import NS, conditions, rolled_out, run

SHARED = [{"name": "media", "mountPath": "/media", "claimName": "shared-media"}]


def shared_claim(api: FakeApi, name: str = "shared-media", phase: str | None = "Bound") -> Obj:
    """A claim someone else made (a person, the converter's output): no label, no owner."""
    claim = api.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": name, "namespace": NS},
                        "spec": {"accessModes": ["ReadWriteMany"],
                                 "resources": {"requests": {"storage": "5Gi"}}}})
    if phase is not None:
        api.set_status("PersistentVolumeClaim", NS, name,
                       {"phase": phase, "capacity": {"storage": "5Gi"}})
    return claim


# The model

@pytest.mark.parametrize("field", [{"size": "2Gi"}, {"storageClassName": "fast"},
                                   {"accessMode": "ReadWriteMany"}])
def test_a_shared_claim_takes_no_size_class_or_access_mode(field: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="claimName shared-media: a volume with "
                                              "claimName mounts an existing claim"):
        AppSpec.model_validate({"image": "nginx", "volumes": [{**SHARED[0], **field}]})


def test_several_replicas_may_mount_a_shared_claim() -> None:
    """Its access mode is the claim's, unknown to the App: the ReadWriteOnce rule for the
    App's own claims does not apply (nor does a default access mode)."""
    spec = make_spec(replicas=3, volumes=SHARED)
    assert spec.volumes is not None and spec.volumes[0].mode is None
    with pytest.raises(ValidationError, match="replicas > 1"):
        make_spec(replicas=3, volumes=[{"name": "data", "mountPath": "/data"}])


def test_the_crd_refuses_size_class_and_mode_beside_claim_name() -> None:
    schema = crd.app_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    volume = schema["properties"]["spec"]["properties"]["volumes"]["items"]
    rules = {r["rule"]: r["message"] for r in volume["x-kubernetes-validations"]}
    assert rules["!has(self.claimName) || !(has(self.size) || has(self.storageClassName) || "
                 "has(self.accessMode))"].startswith("a volume with claimName mounts")
    # No schema default could give a shared volume a size or mode behind the author's back.
    assert "default" not in volume["properties"]["size"]
    assert "default" not in volume["properties"]["accessMode"]


# Rendering

def test_a_shared_claim_is_mounted_and_never_rendered_as_a_child(app: AppRef) -> None:
    spec = make_spec(volumes=[*SHARED, {"name": "data", "mountPath": "/data"}])
    desired = render.render_all(app, spec)
    assert [c["metadata"]["name"] for c in desired.claims] == ["flask-data"]
    pod = desired.deployment["spec"]["template"]["spec"]
    assert pod["volumes"] == [
        {"name": "media", "persistentVolumeClaim": {"claimName": "shared-media"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "flask-data"}}]
    assert pod["containers"][0]["volumeMounts"][0] == {"name": "media", "mountPath": "/media"}


def test_strategy_auto_recreates_with_a_shared_claim(app: AppRef) -> None:
    """Its access mode may be ReadWriteOnce: a new pod on another node would wait forever."""
    assert render.render_strategy(make_spec(volumes=SHARED)) == {"type": "Recreate"}


# Status

def test_a_missing_shared_claim_keeps_the_app_from_ready_and_is_named(app: AppRef) -> None:
    observed = Observed(deployment={"metadata": {"generation": 1}, "status": {
        "observedGeneration": 1}}, claims={"media": None}, shared={"media": "shared-media"})
    result = status.compute_status(app, 1, make_spec(volumes=SHARED), observed, None, None,
                                   "2026-01-01T00:00:00Z")
    ready = {c["type"]: c for c in result["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", status.CLAIM_MISSING)
    assert "PersistentVolumeClaim shared-media (volume media) in namespace demo" in (
        ready["message"])
    assert result["volumes"] == [{"name": "media", "claimName": "shared-media",
                                  "phase": "Missing", "shared": True}]
    # Not a child: no watch says when it comes, so the App looks again soon.
    assert status.recheck_after(observed, "2026-01-01T00:00:00Z") == (
        status.SHARED_CLAIM_RECHECK_SECONDS)


def test_a_bound_shared_claim_needs_no_recheck() -> None:
    observed = Observed(claims={"media": {"status": {"phase": "Bound"}}},
                        shared={"media": "shared-media"})
    assert status.recheck_after(observed, "2026-01-01T00:00:00Z") is None


# Reconciling

def test_a_shared_claim_is_never_written_and_its_state_is_reported() -> None:
    api = FakeApi()
    before = shared_claim(api, phase="Pending")
    outcome = run(api, app_body(volumes=SHARED, volumeDeletionPolicy="Delete"))
    assert [w for w in api.writes if w[1] == "PersistentVolumeClaim"] == []
    assert outcome.requeue_after == status.SHARED_CLAIM_RECHECK_SECONDS
    assert api.statuses["flask"]["volumes"] == [
        {"name": "media", "claimName": "shared-media", "phase": "Pending", "capacity": "5Gi",
         "shared": True}]
    api.set_status("PersistentVolumeClaim", NS, "shared-media", {"phase": "Bound"})
    rolled_out(api)
    run(api, app_body(volumes=SHARED, volumeDeletionPolicy="Delete"))
    assert conditions(api)["Ready"]["status"] == "True"
    after = api.find("PersistentVolumeClaim", NS, "shared-media")
    assert after is not None and after["metadata"] == {**before["metadata"],
                                                       "resourceVersion": after["metadata"][
                                                           "resourceVersion"]}


def test_a_missing_shared_claim_is_not_created() -> None:
    api = FakeApi()
    run(api, app_body(volumes=SHARED))
    assert api.find("PersistentVolumeClaim", NS, "shared-media") is None
    assert conditions(api)["Ready"]["reason"] == status.CLAIM_MISSING
    assert conditions(api)["Stalled"]["status"] == "False"  # it may come any moment
    shared_claim(api)
    rolled_out(api)
    run(api, app_body(volumes=SHARED))
    assert conditions(api)["Ready"]["status"] == "True"


def test_two_apps_share_one_claim_and_removing_it_from_both_deletes_nothing() -> None:
    api = FakeApi()
    shared_claim(api)
    for name, uid in (("web", "uid-web"), ("cron", "uid-cron")):
        run(api, app_body(name=name, uid=uid, volumes=SHARED, volumeDeletionPolicy="Delete"))
        mounts = api.objects[("Deployment", NS, name)]["spec"]["template"]["spec"]["volumes"]
        assert mounts == [{"name": "media",
                           "persistentVolumeClaim": {"claimName": "shared-media"}}]
    api.writes.clear()
    for name, uid in (("web", "uid-web"), ("cron", "uid-cron")):
        run(api, app_body(name=name, uid=uid, generation=2, volumeDeletionPolicy="Delete"))
        api.collect_garbage(uid)
    assert [w for w in api.writes if w[1] == "PersistentVolumeClaim"] == []
    assert api.find("PersistentVolumeClaim", NS, "shared-media") is not None


def test_an_own_claim_named_by_claim_name_is_never_pruned() -> None:
    """A volume replaced by one whose claimName names the App's own claim of before (under
    Delete): the claim is still mounted, so it is neither deleted nor released as kept."""
    api = FakeApi()
    run(api, app_body(volumeDeletionPolicy="Delete",
                      volumes=[{"name": "data", "mountPath": "/data"}]))
    assert api.find("PersistentVolumeClaim", NS, "flask-data") is not None
    outcome = run(api, app_body(generation=2, volumeDeletionPolicy="Delete", volumes=[
        {"name": "files", "mountPath": "/data", "claimName": "flask-data"}]))
    assert outcome.deleted == []
    assert api.find("PersistentVolumeClaim", NS, "flask-data") is not None
    assert "retainedClaims" not in api.statuses["flask"]


def test_a_shared_claim_the_store_holds_by_name_only_is_read_from_the_api() -> None:
    """Someone labelled the shared claim as the operator's: the claims' store keeps only its
    name (cache.trim), with no phase; the status must not say Pending for ever."""
    api = FakeApi()
    shared_claim(api)
    stub: dict[str, Any] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": {"name": "shared-media", "namespace": NS}}
    reads: list[tuple[str, bool]] = []

    def get(kind: str, namespace: str, name: str, fetch: bool = True,
            cached: bool = False) -> Obj | None:
        if kind == "PersistentVolumeClaim" and name == "shared-media":
            reads.append((name, cached))
            if not cached:
                return stub
        return FakeApi.get(api, kind, namespace, name, fetch, cached)

    api.get = get  # type: ignore[method-assign]
    run(api, app_body(volumes=SHARED))
    assert reads == [("shared-media", False), ("shared-media", True)]
    assert api.statuses["flask"]["volumes"][0]["phase"] == "Bound"
