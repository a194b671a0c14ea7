"""The operator's own view of the Apps and their children, kept up to date by list + watch
(informers).

A reconcile reads an App and its Deployment, Service, claims and ConfigMap from here instead
of asking the API server each time: a reconcile of a converged App sends no request at all.
Each kind has one informer: it lists the objects (the children: those labelled
`app.kubernetes.io/managed-by=app-operator`), then watches them from the list's
resourceVersion, and lists again when the watch expires. A list that no longer holds an
object reports it deleted, so deletions missed while a watch was down still arrive.

Objects the operator writes are remembered at once (`remember`), so that the next reconcile
does not see the version from before its own write while the watch event is on its way. Two
rules keep that from ever showing something that is not there: a newer version is never
replaced by an older one (resourceVersions), and an object whose deletion was seen is never
brought back by the answer of a write sent before it (tombstones).

This module talks to the API server only through the `Source` it is given (kube.Kube in
the operator, a fake in the unit tests), so it imports neither kopf nor the client.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.cache")
Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)


class Expired(Exception):
    """The watch's resourceVersion is too old (410 Gone): list again."""


class Source(Protocol):
    def list_all(self, kind: str, namespace: str | None, label_selector: str,
                 keep: Callable[[Obj], Obj]) -> tuple[list[Obj], str]: ...

    def watch(self, kind: str, namespace: str | None, label_selector: str,
              resource_version: str) -> Iterator[Obj]: ...


def trim(obj: Obj) -> Obj:
    """The object without what a reconcile never reads (managedFields is most of its size),
    its keys shared with every other object's: a JSON parser makes a new string for each key
    of each object, and the keys are a third of a stored Deployment's memory."""
    meta = obj.get("metadata") or {}
    if obj.get("kind") == "Pod":
        # A pod is read for why it does not run (status.pod_problem) and found by its labels:
        # its spec, annotations and the rest of its status are most of its size.
        status = obj.get("status") or {}
        pod: Obj = _shared_keys({
            "apiVersion": obj.get("apiVersion", "v1"), "kind": "Pod",
            "metadata": {k: meta[k] for k in _POD_METADATA if k in meta},
            "status": {k: status[k] for k in _POD_STATUS if k in status}})
        return pod
    body: Obj = _shared_keys(
        {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}})
    return body


_POD_METADATA = ("name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp")
_POD_STATUS = ("phase", "conditions", "containerStatuses")


def _shared_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {sys.intern(k): _shared_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shared_keys(v) for v in value]
    return value


def _version(obj: Obj) -> int | None:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None


def newer_or_same(candidate: Obj, stored: Obj) -> bool:
    """Whether `candidate` may replace `stored`. resourceVersions are etcd revisions: compared
    as numbers when both are numbers, and otherwise the candidate (the later news) wins."""
    if candidate["metadata"].get("uid") != stored["metadata"].get("uid"):
        return True  # deleted and made again
    new, old = _version(candidate), _version(stored)
    return new is None or old is None or new >= old


def _same_version(one: Obj, other: Obj) -> bool:
    a, b = one["metadata"], other["metadata"]
    return a.get("uid") == b.get("uid") and bool(a.get("resourceVersion")) and (
        a.get("resourceVersion") == b.get("resourceVersion"))


def is_news(candidate: Obj, stored: Obj | None) -> bool:
    """Whether `candidate` should replace `stored`: neither older nor the same version."""
    return stored is None or (newer_or_same(candidate, stored)
                              and not _same_version(candidate, stored))


class Store:
    """Objects of one kind by (namespace, name), and their names by (namespace, instance)
    when an index label is given."""

    def __init__(self, index_label: str | None = None) -> None:
        self._label = index_label
        self._objects: dict[Key, Obj] = {}
        self._index: dict[Key, set[str]] = {}
        # The uid last seen deleted under each name, until another object takes the name.
        self._tombstones: dict[Key, str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(obj: Obj) -> Key:
        meta = obj["metadata"]
        return meta.get("namespace", ""), meta["name"]

    def _instance(self, obj: Obj) -> Key | None:
        if self._label is None:
            return None
        meta = obj["metadata"]
        instance = (meta.get("labels") or {}).get(self._label)
        return (meta.get("namespace", ""), instance) if instance else None

    def _put(self, key: Key, obj: Obj) -> None:
        self._tombstones.pop(key, None)
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key, old)
        self._objects[key] = obj
        instance = self._instance(obj)
        if instance is not None:
            self._index.setdefault(instance, set()).add(key[1])

    def _unindex(self, key: Key, obj: Obj) -> None:
        instance = self._instance(obj)
        if instance is not None:
            names = self._index.get(instance)
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._index[instance]

    def upsert(self, obj: Obj) -> bool:
        """Store the object unless the same or a newer version of it is stored; True when
        this is news (the watch event of a write of ours, remembered already, is not)."""
        obj = trim(obj)
        key = self.key(obj)
        with self._lock:
            uid = obj["metadata"].get("uid")
            if uid and self._tombstones.get(key) == uid:
                return False  # deleted already: this is an answer or event from before
            if not is_news(obj, self._objects.get(key)):
                return False
            self._put(key, obj)
            return True

    def remove(self, obj: Obj) -> bool:
        """Forget the object (the same uid only, not a newer one made under its name)."""
        key = self.key(obj)
        with self._lock:
            old = self._objects.get(key)
            uid = obj["metadata"].get("uid")
            if uid:
                self._tombstones[key] = uid
            if old is None or (uid and old["metadata"].get("uid") != uid):
                return False
            self._unindex(key, old)
            del self._objects[key]
            return True

    def deleted(self, namespace: str, name: str, uid: str) -> bool:
        """Whether the object of this uid was seen deleted."""
        with self._lock:
            return self._tombstones.get((namespace, name)) == uid

    def replace(self, objects: Iterable[Obj], list_version: str) -> list[tuple[Obj, bool]]:
        """Make the store what a fresh list says, keeping objects written after the list.
        The objects come trimmed (`list_all(..., keep=trim)` trims each page as it arrives).
        Returns what changed, each with whether it is gone: objects deleted while nobody
        watched are reported here."""
        listed = {self.key(o): o for o in objects}
        try:
            at = int(list_version)
        except ValueError:
            at = None
        changed: list[tuple[Obj, bool]] = []
        with self._lock:
            for key, stored in list(self._objects.items()):
                if key in listed:
                    continue
                version = _version(stored)
                if at is not None and version is not None and version > at:
                    continue  # remembered after the list was taken
                self._unindex(key, stored)
                del self._objects[key]
                uid = stored["metadata"].get("uid")
                if uid:
                    self._tombstones[key] = uid
                changed.append((stored, True))
            for key, obj in listed.items():
                if is_news(obj, self._objects.get(key)):
                    changed.append((obj, False))
                    self._put(key, obj)
        return changed

    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def of_instance(self, namespace: str, instance: str) -> list[Obj]:
        with self._lock:
            names = sorted(self._index.get((namespace, instance), ()))
            return [self._objects[(namespace, name)] for name in names]

    def objects(self) -> list[Obj]:
        with self._lock:
            return list(self._objects.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)


class Informer:
    """One kind, one label selector, all namespaces (None) or one: list, then watch, again."""

    def __init__(self, source: Source, kind: str, label_selector: str,
                 index_label: str | None = None, namespace: str | None = None,
                 on_change: Callable[[Obj, bool], None] | None = None,
                 retry_seconds: float = 1.0) -> None:
        self.source = source
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.store = Store(index_label)
        # Set while the store follows the API server: cleared when a watch fails, set again
        # once a list has brought the store up to date (reconciles wait for it).
        self.synced = threading.Event()
        self._listed = False
        # Called with each object that changed and whether it is gone.
        self.on_change = on_change or (lambda _obj, _gone: None)
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        where = self.namespace or "all"
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name=f"informer-{self.kind}-{where}")
        self._thread.start()

    def stop(self) -> None:
        """Stops at the next event or watch timeout (the thread is a daemon)."""
        self._stop.set()

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                version = self.list_once()
                failures = 0
                while not self._stop.is_set():
                    version = self.watch_once(version)
            except Expired:
                # Until the list is taken again, the store may lack deletions: not synced.
                self.synced.clear()
                log.debug("%s watch expired; listing again", self.kind)
            except Exception as error:  # an informer must outlive any error
                self.synced.clear()
                failures += 1
                delay = min(self._retry * 2 ** min(failures - 1, 4), 15.0)
                log.warning("watching %s failed (%s); again in %.0fs", self.kind, error, delay)
                self._stop.wait(delay)

    def list_once(self) -> str:
        items, version = self.source.list_all(self.kind, self.namespace, self.label_selector,
                                              keep=trim)
        changed = self.store.replace(items, version)
        first = not self._listed
        self._listed = True
        self.synced.set()
        if first:
            log.debug("%s: %d objects listed", self.kind, len(items))
            for obj in items:
                self.on_change(obj, False)
        else:
            for obj, gone in changed:
                self.on_change(obj, gone)
        return version

    def watch_once(self, version: str) -> str:
        """Follow one watch request to its end; returns the resourceVersion to go on from."""
        for event in self.source.watch(self.kind, self.namespace, self.label_selector,
                                       version):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Expired(obj.get("message", ""))
                raise RuntimeError(f"watch error: {obj.get('message', obj)}")
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if kind == "BOOKMARK":
                continue
            obj.setdefault("kind", self.kind)
            if kind == "DELETED":
                self.store.remove(obj)
            elif not self.store.upsert(obj):
                continue  # a write of ours, already remembered, or older than one
            self.on_change(obj, kind == "DELETED")
            if self._stop.is_set():
                break
        return version


class Children:
    """What the reconciler reads and writes through: one informer per kind and namespace
    (None: all namespaces).

    The informers see only objects labelled as this operator's. An object of the same name
    that someone else made is not among them, and must not be taken over by an apply, so a
    name missing from the store is looked up once with `fetch` (the operator gives a GET
    served from the API server's watch cache) before the reconciler creates it.
    """

    def __init__(self, source: Source, kinds: Iterable[str], label_selector: str,
                 index_label: str, namespaces: Iterable[str | None],
                 fetch: Callable[[str, str, str], Obj | None],
                 optional: Iterable[str] = ()) -> None:
        self._fetch = fetch
        # Kinds only looked at for diagnostics (pods): reconciles do not wait for them.
        self.optional = set(optional)
        self.namespaces = list(namespaces)
        self._selector = dict(part.split("=", 1) for part in label_selector.split(","))
        self._on_change: Callable[[Obj, bool], None] = lambda _obj, _gone: None
        self.informers = {
            (kind, namespace): Informer(source, kind, label_selector, index_label, namespace,
                                        on_change=self._changed)
            for kind in kinds for namespace in self.namespaces}

    def _changed(self, obj: Obj, gone: bool) -> None:
        self._on_change(obj, gone)

    def start(self, on_change: Callable[[Obj, bool], None]) -> None:
        self._on_change = on_change
        for informer in self.informers.values():
            informer.start()

    def stop(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    def wait_synced(self, timeout: float | None = None) -> bool:
        return all(informer.synced.wait(timeout) for (kind, _), informer in
                   self.informers.items() if kind not in self.optional)

    def _store(self, kind: str, namespace: str) -> Store | None:
        informer = self.informers.get((kind, namespace)) or self.informers.get((kind, None))
        return informer.store if informer is not None else None

    def _selected(self, obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(labels.get(k) == v for k, v in self._selector.items())

    def get(self, kind: str, namespace: str, name: str, fetch: bool = True) -> Obj | None:
        """The object from the store; on a miss, from the API server (`fetch`), unless the
        object we would get is one already seen deleted. Without `fetch`, only what the
        store holds: enough where only our own objects matter."""
        store = self._store(kind, namespace)
        obj = store.get(namespace, name) if store is not None else None
        if obj is not None or not fetch:
            return obj
        obj = self._fetch(kind, namespace, name)
        if obj is not None:
            obj.setdefault("kind", kind)
            uid = obj["metadata"].get("uid", "")
            if store is not None and store.deleted(namespace, name, uid):
                return None  # a cached read from before its deletion
            if store is not None and self._selected(obj):
                store.upsert(obj)  # ours, and its watch event is still on the way
        return obj

    def of_instance(self, kind: str, namespace: str, instance: str) -> list[Obj]:
        store = self._store(kind, namespace)
        return store.of_instance(namespace, instance) if store is not None else []

    def remember(self, obj: Obj) -> None:
        """An object as a write of ours returned it."""
        store = self._store(obj["kind"], obj["metadata"].get("namespace", ""))
        if store is not None and self._selected(obj):
            store.upsert(obj)

    def forget(self, obj: Obj) -> None:
        """An object we deleted."""
        store = self._store(obj["kind"], obj["metadata"].get("namespace", ""))
        if store is not None:
            store.remove(obj)
