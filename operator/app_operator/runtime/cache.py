"""The operator's own view of the Apps and their children, kept up to date by list + watch
(informers).

A reconcile reads an App and its Deployment, Service, claims and ConfigMap from here instead
of asking the API server each time: a reconcile of a converged App sends no request at all.
Each kind has one informer: it lists the objects (the children: those labelled
`app.kubernetes.io/managed-by=app-operator`), then watches them from the list's
resourceVersion, and lists again when the watch expires or fails. A list that no longer
holds an object reports it deleted, so deletions missed while a watch was down still arrive.

The store is not the informer's alone: the answer of each write the operator makes goes in
too (`Children.remember`), so that the next reconcile does not see the version from before
its own write while the watch event is on its way, and so does an object a reconcile looked
up because the store lacked it. The list and watch stay the source of truth: the store
knows how far they have brought it (`Store.position`, the resourceVersion of the last list,
event or bookmark), and takes an object from anyone else only when it is newer than that,
since the watch has already said what became of every older version. So a late answer of a
write sent before a deletion, or a cached read from before it, cannot bring an object back;
and an object that left the label selector and came back (a relabelled child) is seen again,
because its new version is newer than the one it left with. A deletion the operator made
itself leaves a tombstone until the watch has passed the deleted version (at most
`Store.MAX_TOMBSTONES` of them).

This module talks to the API server only through the `Source` it is given (kube.Kube in
the operator, a fake in the unit tests), so it imports neither kopf nor the client.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import heapq
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from app_operator.core import model, render
from app_operator.runtime import metrics

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
              resource_version: str, timeout_seconds: int) -> Iterator[Obj]:
        """The events of one watch request (bookmarks asked for), which the server ends
        after `timeout_seconds`; a watch silent well past that raises (a read timeout)."""
        ...


def trim(obj: Obj) -> Obj:
    """The object without what a reconcile never reads, its keys shared with every other
    object's: a JSON parser makes a new string for each key of each object, and the keys are
    a third of a stored Deployment's memory.

    The informers select on a label anyone may set, so what the store holds must not grow
    with what others put in objects: an object that is no App's child (`is_child`) keeps only
    what tells a reconcile that its name is taken (`_name_only`), and a ConfigMap's payload
    becomes a digest per key (`digest_payload`), which is all drift compares. Without this,
    200 labelled ConfigMaps of 900 KiB, made by a user with `edit` in one namespace, took the
    operator from 75 MB to 259 MB (issue 23)."""
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
    if obj.get("kind") in render.CHILD_KINDS and not is_child(obj):
        stub: Obj = _shared_keys(_name_only(obj))
        return stub
    annotations = meta.get("annotations")
    kept_meta = {k: v for k, v in meta.items() if k not in _DROPPED_METADATA}
    if annotations and _LAST_APPLIED in annotations:
        kept_meta["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
    if obj.get("kind") == "PersistentVolumeClaim":
        # A claim is a child by annotations anyone may write (a kept claim has no owner):
        # only what the reconciler and the status read of it is kept, so that it stays
        # small whatever else its maker put in it.
        claim: Obj = _shared_keys(_claim_read(obj, kept_meta))
        return claim
    body: Obj = _shared_keys(digest_payload({**obj, "metadata": kept_meta}))
    return body


def _claim_read(obj: Obj, meta: Obj) -> Obj:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kept_meta = {k: v for k, v in meta.items() if k not in ("labels", "annotations")}
    kept_meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items()
                           if k in _NAME_ONLY_LABELS}
    kept_meta["annotations"] = {k: v for k, v in (meta.get("annotations") or {}).items()
                                if k in _NAME_ONLY_ANNOTATIONS}
    claim: Obj = {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj["kind"],
                  "metadata": kept_meta,
                  "spec": {k: spec[k] for k in _CLAIM_SPEC if k in spec},
                  "status": {k: status[k] for k in _CLAIM_STATUS if k in status}}
    return claim


# What render.render_claims sets (drift compares it) and what status.py and
# reconcile.shrink_refusal read.
_CLAIM_SPEC = ("accessModes", "resources", "storageClassName", "volumeName")
_CLAIM_STATUS = ("phase", "capacity", "conditions")


_POD_METADATA = ("name", "namespace", "uid", "resourceVersion", "labels", "deletionTimestamp")
_POD_STATUS = ("phase", "conditions", "containerStatuses", "initContainerStatuses")
_DROPPED_METADATA = ("managedFields",)
# kubectl's client-side apply keeps the whole object in it: never read, as large as the rest.
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# ConfigMap fields whose values are user data, of up to 1 MiB in all.
_PAYLOAD_FIELDS = ("data", "binaryData")
DIGEST_PREFIX = "sha256:"
# What a name-only copy keeps of labels and annotations: those the reconciler and the
# stores read (the index label, the claim's marks), values no longer than a uid or a hash.
_NAME_ONLY_LABELS = (render.MANAGED_BY_LABEL, render.NAME_LABEL, render.INSTANCE_LABEL,
                     render.VOLUME_LABEL)
_NAME_ONLY_ANNOTATIONS = (render.APP_UID_ANNOTATION, render.KEPT_ANNOTATION,
                          render.HASH_ANNOTATION)
_NAME_ONLY_VALUE_MAX = 63
_NAME_ONLY_METADATA = ("name", "namespace", "uid", "resourceVersion", "generation",
                       "deletionTimestamp")


def digest_payload(obj: Obj) -> Obj:
    """A ConfigMap with each value of `data` and `binaryData` replaced by its digest: what
    the store keeps, and what the reconciler compares a desired ConfigMap in (drift then sees
    a changed or missing key as before, by its path)."""
    if obj.get("kind") != "ConfigMap" or not any(obj.get(f) for f in _PAYLOAD_FIELDS):
        return obj
    digested = dict(obj)
    for field in _PAYLOAD_FIELDS:
        values = obj.get(field)
        if isinstance(values, dict):
            digested[field] = {key: _digest(value) for key, value in values.items()}
    return digested


def _digest(value: Any) -> str:
    if isinstance(value, str) and value.startswith(DIGEST_PREFIX) and len(value) == 71:
        return value  # digested already (an object trimmed twice)
    text = value if isinstance(value, str) else json.dumps(value)
    return DIGEST_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_child(obj: Obj) -> bool:
    """Whether the object may be an App's child, as far as the object itself can tell: its
    controller ownerReference names an App, under the name the operator gives that App's
    child of its kind; or it is a claim with the annotations the operator writes on claims
    (a kept claim has no owner). Which App's it is, by uid, is the reconciler's to say
    (reconcile.owner_of). A planted object cannot pass for a child of an App that does not
    exist yet (it cannot know the uid), and one App has one child of each name, so what a
    namespace can make the store hold in full is bounded by its Apps."""
    meta = obj.get("metadata") or {}
    kind, name = obj.get("kind"), str(meta.get("name", ""))
    controllers = [r for r in meta.get("ownerReferences") or []
                   if isinstance(r, dict) and r.get("controller")]
    if controllers:
        ref = controllers[0]
        if ref.get("kind") != model.KIND or not str(ref.get("apiVersion", "")).startswith(
                f"{model.GROUP}/"):
            return False
        owner = str(ref.get("name", ""))
        return {"Deployment": name == owner, "Job": name == owner, "Service": name == owner,
                "Ingress": name == owner, "HTTPRoute": name == owner,
                "ConfigMap": name == f"{owner}-files",
                "PersistentVolumeClaim": name.startswith(f"{owner}-")}.get(str(kind), False)
    if kind == "PersistentVolumeClaim":
        annotations = meta.get("annotations") or {}
        uid = annotations.get(render.APP_UID_ANNOTATION)
        return (isinstance(uid, str) and 0 < len(uid) <= _NAME_ONLY_VALUE_MAX) or (
            annotations.get(render.KEPT_ANNOTATION) == "true")
    return False


def _hosts_of(obj: Obj) -> set[str]:
    """The hosts a route that is an App's child serves (none for any other object)."""
    if obj.get("kind") not in render.ROUTE_KINDS or not is_child(obj):
        return set()
    return {host for host, _path in render.route_hosts(obj)}


def _name_only(obj: Obj) -> Obj:
    """What the store keeps of an object that is no App's child: enough for a reconcile to
    see the name taken (a NameConflict, never an apply over it) and for the index, no more
    than a kilobyte whatever the object holds."""
    meta = obj.get("metadata") or {}

    def short(values: Any, keys: tuple[str, ...]) -> dict[str, str]:
        values = values if isinstance(values, dict) else {}
        return {k: values[k] for k in keys
                if isinstance(values.get(k), str) and len(values[k]) <= _NAME_ONLY_VALUE_MAX}

    kept: Obj = {k: meta[k] for k in _NAME_ONLY_METADATA if k in meta}
    kept["labels"] = short(meta.get("labels"), _NAME_ONLY_LABELS)
    kept["annotations"] = short(meta.get("annotations"), _NAME_ONLY_ANNOTATIONS)
    controllers = [r for r in meta.get("ownerReferences") or []
                   if isinstance(r, dict) and r.get("controller")]
    if controllers:
        kept["ownerReferences"] = [
            {k: controllers[0][k] for k in ("apiVersion", "kind", "name", "uid", "controller")
             if k in controllers[0]}]
    return {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind"),
            "metadata": kept}


# Namespaces already named in the log for holding objects that are no App's child.
_said_ignored: set[str] = set()
_said_lock = threading.Lock()


def _say_ignored(namespace: str, kind: str, name: str) -> None:
    """One warning per namespace, not one per object: whoever makes such objects could
    otherwise fill the log as well."""
    with _said_lock:
        if namespace in _said_ignored:
            return
        _said_ignored.add(namespace)
    log.warning("namespace %s holds objects labelled %s that are no App's child (the first "
                "seen: %s %s): the operator keeps only their names, never adopts, changes "
                "or deletes them, and counts them in app_operator_ignored_objects; said "
                "once per namespace", namespace or "(cluster)", render.CHILDREN_SELECTOR,
                kind, name)


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim_heap: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to give back this way
    return trim_heap


_malloc_trim = _load_malloc_trim()


def _give_back_memory() -> None:
    """Return the heap freed after a list to the system (glibc's malloc_trim). A list page is
    parsed whole, up to 10 MiB of ConfigMaps, then trimmed to a few kilobytes; glibc keeps
    the freed pages, and a restart over 200 labelled ConfigMaps of 900 KiB (in pages of 20)
    left the operator 34 MiB above its usual size for good. Lists are rare (a start, a 410,
    a failure), so the call costs nothing that matters."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _shared_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {sys.intern(k): _shared_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shared_keys(v) for v in value]
    return value


def _number(version: Any) -> int | None:
    try:
        return int(version)
    except (TypeError, ValueError):
        return None


def _version(obj: Obj) -> int | None:
    return _number((obj.get("metadata") or {}).get("resourceVersion"))


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
    when an index label is given.

    Written by its informer's list and watch (`replace`, `observe`, `advance`), which move
    `position`, and by the operator's own writes and reads (`upsert`, `remove`), which only
    get ahead of the watch: see the module's docstring.
    """

    # Tombstones wait for the watch to pass them; while it is down, the oldest go first.
    MAX_TOMBSTONES = 10_000

    def __init__(self, index_label: str | None = None) -> None:
        self._label = index_label
        self._objects: dict[Key, Obj] = {}
        self._index: dict[Key, set[str]] = {}
        # Routes (HTTPRoutes, Ingresses) by the hosts they serve: the host conflict check
        # looks up the few routes of its hosts, not every route of the cluster.
        self._hosts: dict[str, set[Key]] = {}
        # The resourceVersion up to which the list and watch have brought the store.
        self._position: int | None = None
        # uid -> the version the operator deleted: versions up to it are not brought back.
        self._tombstones: dict[str, int] = {}
        self._tombstone_heap: list[tuple[int, str]] = []  # (version, uid), oldest first
        # Objects with our labels that are no App's child, held by name only (trim).
        self._ignored: set[Key] = set()
        self.ignored_by_namespace: dict[str, int] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(obj: Obj) -> Key:
        meta = obj["metadata"]
        return meta.get("namespace", ""), meta["name"]

    @property
    def position(self) -> int | None:
        with self._lock:
            return self._position

    def tombstones(self) -> int:
        with self._lock:
            return len(self._tombstones)

    def _instance(self, obj: Obj) -> Key | None:
        if self._label is None:
            return None
        meta = obj["metadata"]
        instance = (meta.get("labels") or {}).get(self._label)
        return (meta.get("namespace", ""), instance) if instance else None

    def _put(self, key: Key, obj: Obj) -> None:
        old = self._objects.get(key)
        if old is not None:
            self._unindex(key, old)
        self._objects[key] = obj
        instance = self._instance(obj)
        if instance is not None:
            self._index.setdefault(instance, set()).add(key[1])
        for host in _hosts_of(obj):
            self._hosts.setdefault(host, set()).add(key)
        self._count_ignored(key, obj, ignored=obj.get("kind") in render.CHILD_KINDS
                            and not is_child(obj))

    def _drop(self, key: Key) -> Obj:
        old = self._objects.pop(key)
        self._unindex(key, old)
        self._count_ignored(key, old, ignored=False)
        return old

    def _count_ignored(self, key: Key, obj: Obj, ignored: bool) -> None:
        """Count the objects held by name only (`is_child`), in the metric and per
        namespace, and say once per namespace that there are such objects."""
        kind = str(obj.get("kind"))
        if ignored and key not in self._ignored:
            self._ignored.add(key)
            self.ignored_by_namespace[key[0]] = self.ignored_by_namespace.get(key[0], 0) + 1
            metrics.ignored_objects.labels(kind).inc()
            _say_ignored(key[0], kind, key[1])
        elif not ignored and key in self._ignored:
            self._ignored.discard(key)
            left = self.ignored_by_namespace[key[0]] - 1
            if left:
                self.ignored_by_namespace[key[0]] = left
            else:
                del self.ignored_by_namespace[key[0]]
            metrics.ignored_objects.labels(kind).dec()

    def ignored(self) -> int:
        """How many objects the store holds by name only."""
        with self._lock:
            return len(self._ignored)

    def _unindex(self, key: Key, obj: Obj) -> None:
        for host in _hosts_of(obj):
            keys = self._hosts.get(host)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._hosts[host]
        instance = self._instance(obj)
        if instance is not None:
            names = self._index.get(instance)
            if names is not None:
                names.discard(key[1])
                if not names:
                    del self._index[instance]

    def _buried(self, obj: Obj) -> bool:
        """A version the operator has deleted, or an older one of the same object."""
        buried = self._tombstones.get(obj["metadata"].get("uid") or "")
        if buried is None:
            return False
        version = _version(obj)
        return version is None or version <= buried

    def _passed(self, obj: Obj) -> bool:
        """A version the list and watch have gone past: they said what became of it."""
        version = _version(obj)
        return version is not None and self._position is not None and (
            version <= self._position)

    def _advance(self, version: int | None) -> None:
        if version is None or (self._position is not None and version <= self._position):
            return
        self._position = version
        heap = self._tombstone_heap
        while heap and heap[0][0] <= version:
            self._unbury(*heapq.heappop(heap))

    def _unbury(self, version: int, uid: str) -> None:
        if self._tombstones.get(uid) == version:
            del self._tombstones[uid]

    def _bury(self, obj: Obj) -> None:
        uid = obj["metadata"].get("uid")
        if not uid or self._passed(obj):
            return  # the position already keeps every version up to this one out
        version = _version(obj)
        # Without a number to compare, every version of the object stays out (until the
        # tombstone is among the oldest when the store holds too many).
        version = sys.maxsize if version is None else version
        if self._tombstones.get(uid, -1) >= version:
            return
        self._tombstones[uid] = version
        heap = self._tombstone_heap
        heapq.heappush(heap, (version, uid))
        while len(self._tombstones) > self.MAX_TOMBSTONES:
            self._unbury(*heapq.heappop(heap))
        if len(heap) > 2 * self.MAX_TOMBSTONES:  # entries replaced by a newer version
            self._tombstone_heap = [(v, u) for u, v in self._tombstones.items()]
            heapq.heapify(self._tombstone_heap)

    # Written by the operator's own writes and reads.

    def upsert(self, obj: Obj) -> bool:
        """Store an object a write of ours answered, or a read found, unless the list and
        watch have gone past its version, it is a version we deleted, or the same or a
        newer version is stored. True when it is stored."""
        obj = trim(obj)
        key = self.key(obj)
        with self._lock:
            if self._passed(obj) or self._buried(obj):
                return False
            if not is_news(obj, self._objects.get(key)):
                return False
            self._put(key, obj)
            return True

    def remove(self, obj: Obj) -> bool:
        """Forget an object we deleted (the same uid only, not a newer one made under its
        name); no answer or read from before the deletion brings it back."""
        key = self.key(obj)
        with self._lock:
            self._bury(obj)
            old = self._objects.get(key)
            uid = obj["metadata"].get("uid")
            if old is None or (uid and old["metadata"].get("uid") != uid):
                return False
            self._drop(key)
            return True

    # Written by the informer's list and watch.

    def observe(self, obj: Obj, gone: bool) -> bool:
        """Apply a watch event (`gone`: DELETED, also when the object stopped matching the
        label selector) and move the position to its version. True when the store changed;
        an event of a write of ours, remembered already, is no news."""
        key = self.key(obj)
        with self._lock:
            changed = False
            old = self._objects.get(key)
            if gone:
                if old is not None and old["metadata"].get("uid") == obj["metadata"].get(
                        "uid") and newer_or_same(obj, old):
                    self._drop(key)
                    changed = True
            elif not self._buried(obj) and is_news(obj, old):
                self._put(key, trim(obj))
                changed = True
            self._advance(_version(obj))
            return changed

    def advance(self, version: str) -> None:
        """A bookmark: the watch has sent every event up to `version`."""
        with self._lock:
            self._advance(_number(version))

    def replace(self, objects: Iterable[Obj], list_version: str) -> list[tuple[Obj, bool]]:
        """Make the store what a fresh list says, keeping objects written after the list.
        The objects come trimmed (`list_all(..., keep=trim)` trims each page as it arrives).
        Returns what changed, each with whether it is gone: objects deleted while nobody
        watched are reported here."""
        listed = {self.key(o): o for o in objects}
        at = _number(list_version)
        changed: list[tuple[Obj, bool]] = []
        with self._lock:
            for key, stored in list(self._objects.items()):
                if key in listed:
                    continue
                version = _version(stored)
                if at is not None and version is not None and version > at:
                    continue  # remembered after the list was taken
                changed.append((self._drop(key), True))
            for key, obj in listed.items():
                if not self._buried(obj) and is_news(obj, self._objects.get(key)):
                    changed.append((obj, False))
                    self._put(key, obj)
            self._advance(at)
        return changed

    # Read by the reconciler.

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

    def with_host(self, host: str) -> list[Obj]:
        """The routes that serve this host."""
        with self._lock:
            return [self._objects[key] for key in sorted(self._hosts.get(host, ()))]

    def __len__(self) -> int:
        with self._lock:
            return len(self._objects)


class Informer:
    """One kind, one label selector, all namespaces (None) or one: list, then watch, again."""

    # Each watch request asks the server to end it after a time drawn from this range, as
    # client-go's reflector does: informers started together do not all watch again at the
    # same moment, and a connection that died without a word is found by the read timeout
    # the source sets a little above it (a watch that is silent that long is broken).
    WATCH_TIMEOUT_SECONDS = (300, 600)
    # An informer that has not moved for this long past its watch's timeout (or, between
    # watches, for this long) is stuck: the liveness check says so. A list moves with each
    # object it brings, a retry's wait is at most 15 s, a request without an answer times
    # out after 30 s.
    PROGRESS_GRACE_SECONDS = 120.0

    def __init__(self, source: Source, kind: str, label_selector: str,
                 index_label: str | None = None, namespace: str | None = None,
                 on_change: Callable[[Obj, bool], None] | None = None,
                 retry_seconds: float = 1.0) -> None:
        self.source = source
        self.kind = kind
        self.namespace = namespace
        self.label_selector = label_selector
        self.store = Store(index_label)
        # Set once the first list is in, and never cleared (client-go's HasSynced): a relist
        # after a failed watch does not pause the reconciles, since the deletions missed
        # meanwhile still arrive from the relist (Store.replace reports them).
        self.synced = threading.Event()
        # True while the store follows the API server: false from a failed watch until the
        # next list is in. Only the Apps' own informer is waited for on this (Controller):
        # an App deleted while nobody watched must not be reconciled back into children.
        self.following = False
        self._listed = False
        # Called with each object that changed and whether it is gone.
        self.on_change = on_change or (lambda _obj, _gone: None)
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The current watch: the timeout it asked for, and when it last said anything.
        self._watch_timeout: float | None = None
        self._heard = time.monotonic()
        # When the informer last moved (an object listed, an event, a failure), for health.
        self._moved = time.monotonic()
        self.last_error: str | None = None

    @property
    def name(self) -> str:
        """As the log and the health checks name it."""
        return f"{self.kind} informer ({self.namespace or 'all namespaces'})"

    def start(self) -> None:
        where = self.namespace or "all"
        self._thread = threading.Thread(target=self.run, daemon=True,
                                        name=f"informer-{self.kind}-{where}")
        self._thread.start()

    def stop(self) -> None:
        """Stops at the next event or watch timeout (the thread is a daemon)."""
        self._stop.set()

    def liveness_problem(self) -> str | None:
        """Why this informer cannot go on by itself, if it cannot: its thread died (it
        should not: a bug, a MemoryError), or it has not moved for longer than a watch
        can stay quiet."""
        if self._thread is None or self._stop.is_set():
            return None
        if not self._thread.is_alive():
            return f"the {self.name} thread is dead"
        quiet = time.monotonic() - self._moved
        timeout = self._watch_timeout or 0.0
        if quiet > timeout + self.PROGRESS_GRACE_SECONDS:
            doing = "its watch" if self._watch_timeout is not None else "listing"
            return f"the {self.name} has not moved for {quiet:.0f}s ({doing})"
        return None

    def readiness_problem(self) -> str | None:
        """Why reconciles cannot read this informer's store yet, if they cannot."""
        if self.synced.is_set():
            return None
        why = f": {self.last_error}" if self.last_error else ""
        return f"the {self.name} has not listed yet{why}"

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                version = self.list_once()
                failures = 0
                while not self._stop.is_set():
                    version = self.watch_once(version)
            except Expired as error:
                self.following = False
                self._moved = time.monotonic()
                self._restarted("expired")
                log.info("%s: watch expired (%s); listing again", self.name, error)
            except Exception as error:  # an informer must outlive any error
                self.following = False
                self._moved = time.monotonic()
                self.last_error = str(error)
                failures += 1
                delay = min(self._retry * 2 ** min(failures - 1, 4), 15.0)
                watching = self._watch_timeout is not None
                silent = watching and time.monotonic() - self._heard >= (
                    self._watch_timeout or 0.0)
                self._restarted("silent" if silent else "error")
                what = ("watch silent past its timeout" if silent else
                        "watch failed" if watching else "list failed")
                log.warning("%s: %s (%s); listing again in %.0fs", self.name, what, error,
                            delay)
                self._stop.wait(delay)
                self._moved = time.monotonic()
            finally:
                self._watch_timeout = None

    def _restarted(self, reason: str) -> None:
        metrics.informer_restarts.labels(self.kind, reason).inc()

    def _keep(self, obj: Obj) -> Obj:
        self._moved = time.monotonic()
        return trim(obj)

    def list_once(self) -> str:
        self._moved = time.monotonic()
        items, version = self.source.list_all(self.kind, self.namespace, self.label_selector,
                                              keep=self._keep)
        self._moved = time.monotonic()
        self.last_error = None
        changed = self.store.replace(items, version)
        _give_back_memory()
        first = not self._listed
        self._listed = True
        self.synced.set()
        self.following = True
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
        timeout = random.randint(*self.WATCH_TIMEOUT_SECONDS)
        self._watch_timeout = timeout
        self._heard = self._moved = time.monotonic()
        for event in self.source.watch(self.kind, self.namespace, self.label_selector,
                                       version, timeout_seconds=timeout):
            self._heard = self._moved = time.monotonic()
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise Expired(obj.get("message", ""))
                raise RuntimeError(f"watch error: {obj.get('message', obj)}")
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if kind == "BOOKMARK":
                self.store.advance(version)
                continue
            obj.setdefault("kind", self.kind)
            gone = kind == "DELETED"
            if not self.store.observe(obj, gone) and not gone:
                continue  # a write of ours, already remembered, or older than one
            self.on_change(obj, gone)
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
        self._source, self._label_selector, self._index_label = (
            source, label_selector, index_label)
        self._started = False
        self._add_lock = threading.Lock()
        # Replaced whole, never changed in place: other threads iterate over it while a kind
        # is added (add_kind).
        self.informers: dict[tuple[str, str | None], Informer] = {}
        for kind in kinds:
            self._informers_for(kind)

    def _informers_for(self, kind: str) -> list[Informer]:
        new = {(kind, namespace): Informer(self._source, kind, self._label_selector,
                                           self._index_label, namespace,
                                           on_change=self._changed)
               for namespace in self.namespaces if (kind, namespace) not in self.informers}
        self.informers = {**self.informers, **new}
        return list(new.values())

    def add_kind(self, kind: str) -> bool:
        """Watch one more kind from now on (HTTPRoutes, once the Gateway API CRDs are found
        in the cluster): its informers start at once if the others have. Returns whether
        the kind is new. Until its informers have listed, the Apps of their namespaces wait
        (`holding`), as at the start."""
        with self._add_lock:
            added = self._informers_for(kind)
            if self._started:
                for informer in added:
                    informer.start()
        return bool(added)

    def watches(self, kind: str) -> bool:
        return any(k == kind for k, _ in self.informers)

    def _changed(self, obj: Obj, gone: bool) -> None:
        self._on_change(obj, gone)

    def start(self, on_change: Callable[[Obj, bool], None]) -> None:
        self._on_change = on_change
        with self._add_lock:
            self._started = True
            for informer in self.informers.values():
                informer.start()

    def stop(self) -> None:
        for informer in self.informers.values():
            informer.stop()

    def wait_synced(self, timeout: float | None = None) -> bool:
        return all(informer.synced.wait(timeout) for (kind, _), informer in
                   self.informers.items() if kind not in self.optional)

    def holding(self, namespace: str) -> list[Informer]:
        """The informers that hold the children of an App in `namespace` and that its
        reconcile reads (the optional kinds, diagnostics only, are not among them)."""
        return [informer for (kind, where), informer in self.informers.items()
                if kind not in self.optional and where in (namespace, None)]

    def _store(self, kind: str, namespace: str) -> Store | None:
        informer = self.informers.get((kind, namespace)) or self.informers.get((kind, None))
        return informer.store if informer is not None else None

    def _selected(self, obj: Obj) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(labels.get(k) == v for k, v in self._selector.items())

    def get(self, kind: str, namespace: str, name: str, fetch: bool = True) -> Obj | None:
        """The object from the store; on a miss, from the API server (`fetch`), unless the
        store has seen that version go. Without `fetch`, only what the store holds: enough
        where only our own objects matter."""
        store = self._store(kind, namespace)
        obj = store.get(namespace, name) if store is not None else None
        if obj is not None or not fetch:
            return obj
        obj = self._fetch(kind, namespace, name)
        if obj is None:
            return None
        obj.setdefault("kind", kind)
        if store is None or not self._selected(obj):
            return obj  # someone else's is never stored: no watch would say when it goes
        if store.upsert(obj):
            return obj  # ours, and its watch event is still on the way
        # The watch has gone past this version (a cached read from before a deletion, or
        # one we made): what the store holds now is the truth.
        return store.get(namespace, name)

    def of_instance(self, kind: str, namespace: str, instance: str) -> list[Obj]:
        store = self._store(kind, namespace)
        return store.of_instance(namespace, instance) if store is not None else []

    def with_hosts(self, kind: str, hosts: Iterable[str]) -> list[Obj]:
        """The routes of a kind that serve one of these hosts, in every namespace the
        informers watch (for the host conflict check), each once."""
        found: dict[tuple[str, str], Obj] = {}
        for (each, _), informer in self.informers.items():
            if each != kind:
                continue
            for host in hosts:
                for obj in informer.store.with_host(host):
                    found[Store.key(obj)] = obj
        return [found[key] for key in sorted(found)]

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
