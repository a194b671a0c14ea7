"""Kube's writes as the API server receives them: which field manager each is sent under,
and the patch that gives up the fields a repair took."""

from __future__ import annotations

from typing import Any

from app_operator.runtime.kube import (
    FIELD_MANAGER,
    REPAIR_FIELD_MANAGER,
    Kube,
    RateLimiter,
    release_patch,
)

Obj = dict[str, Any]


class Recorder(Kube):
    """A Kube whose requests are recorded and answered with the object they name."""

    def __init__(self) -> None:
        super().__init__(api_client=None)  # type: ignore[arg-type]
        self.sent: list[tuple[str, str, dict[str, Any], Any, str]] = []

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                limiter: RateLimiter | None = None) -> Any:
        self.sent.append((method, path, dict(query or {}), body, content_type))
        return {"metadata": {"name": path.rsplit("/", 1)[-1]}}


def service(managed_fields: list[Obj]) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "flask", "namespace": "demo", "resourceVersion": "42",
                         "managedFields": managed_fields}}


def test_the_apply_and_the_status_go_under_app_operator_and_repairs_under_their_own() -> None:
    kube = Recorder()
    kube.apply({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "flask", "namespace": "demo"}})
    kube.apply_status({"metadata": {"name": "flask", "namespace": "demo",
                                    "resourceVersion": "7"}}, {"conditions": []})
    kube.json_patch("Service", "demo", "flask", [{"op": "test", "path": "/x", "value": 1}])
    kube.merge_patch("PersistentVolumeClaim", "demo", "flask-data",
                     {"metadata": {"annotations": {"a": "b"}}})
    managers = [(method, content_type.split("/")[1], query.get("fieldManager"))
                for method, _, query, _, content_type in kube.sent]
    assert managers == [
        ("PATCH", "apply-patch+yaml", "app-operator"),
        ("PATCH", "apply-patch+yaml", "app-operator"),
        ("PATCH", "json-patch+json", "app-operator-repair"),
        ("PATCH", "merge-patch+json", "app-operator-repair"),
    ]
    assert FIELD_MANAGER != REPAIR_FIELD_MANAGER


def test_a_repair_gives_up_exactly_its_own_update_entries_guarded() -> None:
    obj = service([
        {"manager": "app-operator", "operation": "Apply"},
        {"manager": "app-operator-repair", "operation": "Update"},
        {"manager": "kubectl-patch", "operation": "Update"},
        {"manager": "app-operator-repair", "operation": "Update", "subresource": "x"},
    ])
    patch = release_patch(obj, REPAIR_FIELD_MANAGER)
    assert patch == [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
        {"op": "test", "path": "/metadata/managedFields/3/manager",
         "value": "app-operator-repair"},
        {"op": "test", "path": "/metadata/managedFields/3/operation", "value": "Update"},
        {"op": "remove", "path": "/metadata/managedFields/3"},
        {"op": "test", "path": "/metadata/managedFields/1/manager",
         "value": "app-operator-repair"},
        {"op": "test", "path": "/metadata/managedFields/1/operation", "value": "Update"},
        {"op": "remove", "path": "/metadata/managedFields/1"},
    ]
    kube = Recorder()
    kube.release(obj)
    ((method, path, query, body, content_type),) = kube.sent
    assert (method, path, content_type) == ("PATCH", "/api/v1/namespaces/demo/services/flask",
                                            "application/json-patch+json")
    assert query == {"fieldManager": REPAIR_FIELD_MANAGER} and body == patch


def test_nothing_is_sent_when_the_repair_holds_nothing() -> None:
    kube = Recorder()
    for obj in (service([{"manager": "app-operator", "operation": "Apply"}]), service([]),
                {"kind": "Service", "metadata": {"name": "flask", "namespace": "demo"}}):
        assert release_patch(obj, REPAIR_FIELD_MANAGER) == []
        assert kube.release(obj) is None
    assert kube.sent == []
