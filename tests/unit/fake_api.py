"""A small in-memory API server for testing the Reconciler without a cluster.

It keeps objects by (kind, namespace, name), gives them uids and resourceVersions, and
answers the calls the Reconciler makes through kube.Kube (apply, apply_status, merge_patch,
json_patch, release, delete, post_event) and through cache.Children (get, of_instance,
remember, forget).

Apply is server-side apply with one field manager, simplified: the applied fields are merged
into the stored object, and fields the previous apply set that this one leaves out are
removed (so an ownerReference the operator stops applying goes, as on a real API server),
while fields others set (`create`, `merge_patch`) stay; lists are replaced whole. `status`
and the uid are kept. Every write is recorded, so a test can assert that a second reconcile
writes nothing, and `journal` holds every write and event in order.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any, cast

from app_operator.core import render
from app_operator.runtime.cache import Children
from app_operator.runtime.kube import REPAIR_FIELD_MANAGER, Kube, KubeError, release_patch
from app_operator.runtime.reconcile import Reconciler

Obj = dict[str, Any]
_uids = itertools.count(1)


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.writes: list[tuple[str, str, str]] = []  # (verb, kind, name)
        self.events: list[tuple[str, str, str]] = []  # (type, reason, message)
        self.statuses: dict[str, Obj] = {}  # App name -> status written
        self.refuse: dict[str, KubeError] = {}  # kind -> error its applies get
        self.journal: list[tuple[str, ...]] = []  # every write and event, in order
        self.gets: list[tuple[str, str]] = []  # (kind, name) of each GET (a store miss read)
        self.managers: list[tuple[str, str, str, str]] = []  # (verb, kind, name, manager)
        # A mutating webhook: called on each object an apply stores, before it is stored.
        self.webhook: Callable[[Obj], None] = lambda _obj: None
        self._applied: dict[tuple[str, str, str], Obj] = {}  # what the last apply sent
        self._version = itertools.count(100)

    # What a test sets up.
    def create(self, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj["metadata"]
        meta.setdefault("uid", f"uid-{next(_uids)}")
        meta["resourceVersion"] = str(next(self._version))
        self.objects[(obj["kind"], meta["namespace"], meta["name"])] = obj
        return obj

    def set_status(self, kind: str, namespace: str, name: str, status: Obj,
                   generation: int | None = None) -> None:
        """What a controller of the cluster writes (the Deployment's rollout, a claim bound)."""
        stored = self.objects[(kind, namespace, name)]
        stored["status"] = copy.deepcopy(status)
        if generation is not None:
            stored["metadata"]["generation"] = generation
        stored["metadata"]["resourceVersion"] = str(next(self._version))

    def collect_garbage(self, owner_uid: str) -> None:
        """What the garbage collector does once the App with this uid is gone."""
        for key, obj in list(self.objects.items()):
            if any(r.get("uid") == owner_uid for r in obj["metadata"].get("ownerReferences")
                   or []):
                del self.objects[key]

    def find(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((kind, namespace, name))

    # kube.Kube
    def apply(self, obj: Obj, subresource: str = "") -> Obj:
        meta = obj["metadata"]
        key = (obj["kind"], meta["namespace"], meta["name"])
        if obj["kind"] in self.refuse:
            raise self.refuse[obj["kind"]]
        stored = self.objects.get(key)
        wanted_version = meta.get("resourceVersion")
        if wanted_version and stored is not None and (
                stored["metadata"]["resourceVersion"] != wanted_version):
            # As the API server: a resourceVersion in an apply is a precondition on an object
            # that exists, and ignored when the apply creates it.
            raise KubeError(409, "Conflict", f'Operation cannot be fulfilled on {obj["kind"]} '
                            f'"{meta["name"]}": the object has been modified')
        self.writes.append(("apply", obj["kind"], meta["name"]))
        self.journal.append(("apply", obj["kind"], meta["name"]))
        applied = _omit_empty(copy.deepcopy(obj))
        applied["metadata"].pop("resourceVersion", None)
        if stored is not None:
            new = copy.deepcopy(stored)
            _remove_dropped(new, self._applied.get(key, {}), applied)
            _merge(new, applied)
        else:
            new = copy.deepcopy(applied)
            new["metadata"]["uid"] = f"uid-{next(_uids)}"
        self._applied[key] = applied
        self.webhook(new)
        new["metadata"]["resourceVersion"] = str(next(self._version))
        self.objects[key] = new
        return copy.deepcopy(new)

    def apply_status(self, app: Obj, status: Obj) -> Obj:
        self.writes.append(("status", "App", app["metadata"]["name"]))
        self.journal.append(("status", "App", app["metadata"]["name"]))
        self.statuses[app["metadata"]["name"]] = copy.deepcopy(status)
        meta = {**app["metadata"], "resourceVersion": str(next(self._version))}
        return {**app, "metadata": meta, "status": copy.deepcopy(status)}

    def merge_patch(self, kind: str, namespace: str, name: str, patch: Obj,
                    field_manager: str = REPAIR_FIELD_MANAGER) -> Obj:
        self.writes.append(("patch", kind, name))
        self.journal.append(("patch", kind, name))
        self.managers.append(("patch", kind, name, field_manager))
        stored = self.objects[(kind, namespace, name)]
        _merge(stored, patch)
        stored["metadata"]["resourceVersion"] = str(next(self._version))
        return copy.deepcopy(stored)

    def json_patch(self, kind: str, namespace: str, name: str, patch: list[Obj],
                   field_manager: str = REPAIR_FIELD_MANAGER) -> Obj:
        """The `test`, `replace` and `remove` operations of RFC 6902, all or nothing. A
        patch that changes more than managedFields gives its manager an Update entry there
        (without the fields, which no test here reads)."""
        self.writes.append(("json-patch", kind, name))
        self.journal.append(("json-patch", kind, name))
        self.managers.append(("json-patch", kind, name, field_manager))
        new = copy.deepcopy(self.objects[(kind, namespace, name)])
        for operation in patch:
            *parents, last = operation["path"].strip("/").split("/")
            target: Any = new
            for part in parents:
                target = target[int(part)] if isinstance(target, list) else target[part]
            index: Any = int(last) if isinstance(target, list) else last
            if operation["op"] == "test":
                if target[index] != operation["value"]:
                    raise KubeError(422, "Invalid", f"test failed at {operation['path']}")
            elif operation["op"] == "replace":
                target[index] = copy.deepcopy(operation["value"])
            elif operation["op"] == "remove":
                del target[index]
            else:
                raise AssertionError(f"the operator sends no {operation['op']}")
        entries = new["metadata"].setdefault("managedFields", [])
        if not all(o["path"].startswith("/metadata/managedFields") for o in patch
                   if o["op"] != "test") and {"manager": field_manager,
                                              "operation": "Update"} not in entries:
            entries.append({"manager": field_manager, "operation": "Update"})
        new["metadata"]["resourceVersion"] = str(next(self._version))
        self.objects[(kind, namespace, name)] = new
        return copy.deepcopy(new)

    def release(self, obj: Obj, manager: str = REPAIR_FIELD_MANAGER) -> Obj | None:
        patch = release_patch(obj, manager)
        if not patch:
            return None
        meta = obj["metadata"]
        return self.json_patch(obj["kind"], meta["namespace"], meta["name"], patch, manager)

    def delete(self, kind: str, namespace: str, name: str, uid: str) -> bool:
        stored = self.objects.get((kind, namespace, name))
        if stored is None or stored["metadata"]["uid"] != uid:
            return False
        self.writes.append(("delete", kind, name))
        self.journal.append(("delete", kind, name))
        del self.objects[(kind, namespace, name)]
        self._applied.pop((kind, namespace, name), None)
        return True

    def post_event(self, body: Obj, event_type: str, reason: str, message: str) -> None:
        self.events.append((event_type, reason, message))
        self.journal.append(("event", reason))

    # cache.Children
    def get(self, kind: str, namespace: str, name: str, fetch: bool = True,
            cached: bool = False) -> Obj | None:
        """With `fetch`, a GET: any object. Without, what the label-selected informers would
        hold: objects with the operator's managed-by label."""
        found = self.find(kind, namespace, name)
        if fetch:
            self.gets.append((kind, name))
        if found is None or (not fetch and (found["metadata"].get("labels") or {}).get(
                render.MANAGED_BY_LABEL) != render.MANAGED_BY):
            return None
        return copy.deepcopy(found)

    def of_instance(self, kind: str, namespace: str, instance: str) -> list[Obj]:
        return [copy.deepcopy(o) for (k, ns, _), o in sorted(self.objects.items())
                if k == kind and ns == namespace and
                (o["metadata"].get("labels") or {}).get(render.INSTANCE_LABEL) == instance]

    def with_hosts(self, kind: str, hosts: Any) -> list[Obj]:
        wanted = set(hosts)
        return [copy.deepcopy(o) for (k, _, _), o in sorted(self.objects.items()) if k == kind
                and wanted & {host for host, _ in render.route_hosts(o)}]

    def remember(self, obj: Obj) -> None:
        pass  # the store is the API itself

    def forget(self, obj: Obj) -> None:
        pass


def _omit_empty(value: Any) -> Any:
    """As the API server stores an object: fields with empty values (omitempty) are gone."""
    if isinstance(value, dict):
        return {k: _omit_empty(v) for k, v in value.items() if v not in ("", {}, [], None)}
    if isinstance(value, list):
        return [_omit_empty(v) for v in value]
    return value


def _remove_dropped(stored: Obj, before: Obj, now: Obj) -> None:
    """Remove from `stored` the fields `before` (the last apply) set and `now` leaves out."""
    for key, value in before.items():
        if key not in now:
            stored.pop(key, None)
        elif isinstance(value, dict) and isinstance(now[key], dict) and isinstance(
                stored.get(key), dict):
            _remove_dropped(stored[key], value, now[key])


def _merge(target: Obj, patch: Obj) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def reconciler(api: FakeApi) -> Reconciler:
    return Reconciler(cast(Kube, api), cast(Children, api))


def app_body(name: str = "flask", uid: str = "app-uid-1", generation: int = 1,
             namespace: str = "demo", **spec: Any) -> Obj:
    return {"apiVersion": "appoperator.dev/v1alpha1", "kind": "App",
            "metadata": {"name": name, "namespace": namespace, "uid": uid,
                         "generation": generation, "resourceVersion": "1"},
            "spec": {"image": "pylounge_flask_app:v1", **spec}}
