"""The only module that talks to the Kubernetes API.

Plain JSON over the official client's connection handling (authentication, TLS, pooling):
objects stay dicts from end to end, which keeps them comparable with render.py's output and
avoids the typed models' deserialization cost. The children and the App's status are written
by server-side apply with the field manager `app-operator`; deletions, events and the
leader's Lease are the other writes, and the repairs that cannot be an apply (a renumbered
port put back, a kept claim marked) go under a field manager of their own,
`app-operator-repair`.

Every request waits for a token of one bucket (`RateLimiter`), so the whole operator stays
within a rate the API server's owners can plan for, whatever its workers do.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import urllib3
from kubernetes import client, config

from app_operator.core import model
from app_operator.core.status import shorten
from app_operator.runtime import metrics

FIELD_MANAGER = "app-operator"
# The writes that are not the apply: a renumbered port put back (a JSON patch), a kept claim
# marked and released (a merge patch). Under a name of their own, the fields they touch are
# not mistaken for the apply's, and what they still hold can be found and given up.
REPAIR_FIELD_MANAGER = "app-operator-repair"
# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.kube")
T = TypeVar("T")

# kind -> (API prefix, resource plural)
RESOURCES = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "Job": ("/apis/batch/v1", "jobs"),
    "Service": ("/api/v1", "services"),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Ingress": ("/apis/networking.k8s.io/v1", "ingresses"),
    "HTTPRoute": (f"/apis/{model.GATEWAY_GROUP}/v1", "httproutes"),
    "Pod": ("/api/v1", "pods"),
    "Event": ("/api/v1", "events"),
    model.KIND: (f"/apis/{model.API_VERSION}", model.PLURAL),
}


def _whole(obj: dict[str, Any]) -> Any:
    return obj


class KubeError(Exception):
    """A request the API server answered with an error status (or could not answer: status
    0). `retry_after` is the server's Retry-After, in seconds, when it gave one."""

    def __init__(self, status: int, reason: str, message: str,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @property
    def conflict(self) -> bool:
        """The object changed since it was read (a resourceVersion precondition failed)."""
        return self.status == 409

    @property
    def namespace_terminating(self) -> bool:
        """The namespace is being deleted: nothing new can be created in it."""
        return self.status == 403 and "being terminated" in self.message

    @property
    def refused(self) -> bool:
        """The server judged the request and said no: retrying the same request will not help
        until something changes (invalid object, forbidden, immutable field)."""
        return self.status in (400, 403, 404, 409, 422)

    @property
    def transient(self) -> bool:
        """Not a judgement on the request: too many requests, a server error, no answer."""
        return not self.refused


class RateLimiter:
    """A token bucket shared by every request of the operator: `qps` a second on average,
    up to `burst` at once. qps 0 means no limit."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps = qps
        self.burst = max(burst, 1)
        self._tokens = float(self.burst)
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.qps <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1
            delay = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if delay > 0:
            time.sleep(delay)


# Characters YAML does not take as they are (its printable set is tab, LF, CR, 0x20-0x7E,
# 0x85, 0xA0-0xD7FF, 0xE000-0xFFFD and above 0xFFFF), and those it reads as line breaks
# (NEL, U+2028, U+2029: folded into a space inside a string): sent as escapes.
_NOT_YAML_PRINTABLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")


def apply_body(obj: dict[str, Any]) -> bytes:
    r"""An apply patch as the API server reads it back exactly. Apply patches are YAML, and
    JSON is YAML, but not with the escapes Python writes by default: a character outside
    the Basic Multilingual Plane becomes a surrogate pair (\ud83d\ude00), which a YAML parser
    refuses. Written as UTF-8 instead, every string arrives as it was; the few characters
    YAML does not take as they are go as \u escapes."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    text = _NOT_YAML_PRINTABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
    return text.encode("utf-8")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_client(pool_size: int = 8) -> client.ApiClient:
    """An API client from the in-cluster service account, else from the kubeconfig."""
    try:
        config.load_incluster_config()
    except config.ConfigException:
        # $KUBECONFIG as it is now: the client reads it once, when it is imported.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = pool_size
    return client.ApiClient(configuration)


def path_for(kind: str, namespace: str | None, name: str | None = None,
             subresource: str = "") -> str:
    """The API path; namespace None means all namespaces (for lists and watches)."""
    prefix, plural = RESOURCES[kind]
    if namespace is None:
        return f"{prefix}/{plural}"
    path = f"{prefix}/namespaces/{quote(namespace)}/{plural}"
    if name is not None:
        path += f"/{quote(name)}"
    if subresource:
        path += f"/{subresource}"
    return path


class Kube:
    """Reads and writes the App's children and the App's status."""

    EVENT_QUEUE_SIZE = 1000
    # Events aggregated as client-go's recorder does: the same event (object, type, reason,
    # message) again within this many seconds of its last time is one Event whose count and
    # lastTimestamp grow, not a new object; this many series are remembered.
    EVENT_WINDOW = 600.0
    EVENT_SERIES = 4096

    def __init__(self, api_client: client.ApiClient, timeout: float = 30.0,
                 limiter: RateLimiter | None = None,
                 event_limiter: RateLimiter | None = None) -> None:
        self.api = api_client
        self.timeout = timeout
        self.limiter = limiter or RateLimiter(0, 1)
        # Events draw on a bucket of their own, of the same size unless one is given (as
        # client-go's event recorder has a client of its own): an App's creation event
        # does not take a token a reconcile needs. Creating 1,000 Apps at once, the events
        # took a fifth of the workers' 100 requests/s and T_op was the limiter's
        # (bench/README.md).
        self.event_limiter = event_limiter or RateLimiter(self.limiter.qps, self.limiter.burst)
        # Events are posted by a thread of their own, off the reconcile's critical path,
        # from a bounded queue: when the API server is unreachable, events are dropped
        # (and counted) rather than held without limit. An item is an event to post, or a
        # marker that flush_events() waits for.
        self._events: queue.Queue[dict[str, Any] | threading.Event] = queue.Queue(
            self.EVENT_QUEUE_SIZE)
        self._event_thread: threading.Thread | None = None
        self._event_lock = threading.Lock()
        self.events_dropped = 0
        # Only the events thread reads and writes these: series key -> the Event posted.
        self._series: OrderedDict[tuple[str, ...], _Series] = OrderedDict()
        self.clock: Callable[[], float] = time.monotonic
        self._counts = {"reads": 0, "writes": 0}
        self._count_lock = threading.Lock()
        # The write gate: asked before every request that is not a GET, at the last moment
        # (after the rate limiter's wait). With leader election it says whether this replica
        # still leads, so a replica that lost the Lease sends no write at all.
        self.may_write: Callable[[], bool] = lambda: True

    def counts(self) -> dict[str, int]:
        """Requests sent so far (watches not counted), for the log."""
        with self._count_lock:
            return dict(self._counts)

    def _send(self, method: str, path: str, query: dict[str, Any] | None, body: Any,
              content_type: str, timeout: float | tuple[float, float]) -> Any:
        """Send one request; the response is not read yet (a watch streams it)."""
        method_, url, headers, body_, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(method_, url, header_params=headers, body=body_,
                                 _request_timeout=timeout)

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                body: Any = None, content_type: str = "application/json",
                limiter: RateLimiter | None = None) -> Any:
        (limiter or self.limiter).wait()
        if method != "GET" and not self.may_write():
            raise KubeError(0, "NotLeader", f"{method} {path} not sent: this replica does "
                            "not lead (it lost or never held the Lease)")
        with self._count_lock:
            self._counts["reads" if method == "GET" else "writes"] += 1
        try:
            with _transport_errors():
                response = self._send(method, path, query, body, content_type, self.timeout)
                data = response.read()
        except KubeError:
            metrics.requests_total.labels("<error>", method).inc()
            raise
        metrics.requests_total.labels(str(response.status), method).inc()
        if not 200 <= response.status < 300:
            raise _error_from(response.status, data, response.headers.get("Retry-After"))
        return json.loads(data) if data else None

    def get(self, kind: str, namespace: str, name: str,
            cached: bool = False) -> dict[str, Any] | None:
        """The object, or None. `cached`: as the API server's watch cache has it (a few
        milliseconds old at most, and cheaper for the server than a read from etcd)."""
        query = {"resourceVersion": "0"} if cached else None
        try:
            result: dict[str, Any] = self.request("GET", path_for(kind, namespace, name),
                                                  query=query)
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        return result

    def serves(self, group_version: str, plural: str) -> bool:
        """Whether the API server serves this resource (API discovery): False when the
        group/version is unknown (404)."""
        try:
            result = self.request("GET", f"/apis/{group_version}")
        except KubeError as error:
            if error.status == 404:
                return False
            raise
        return any(r.get("name") == plural for r in (result or {}).get("resources") or [])

    def list_all(self, kind: str, namespace: str | None, label_selector: str,
                 keep: Callable[[dict[str, Any]], T] = _whole) -> tuple[list[T], str]:
        """Every matching object, in pages, and the resourceVersion to watch from.

        `keep` makes what is kept of each object as its page arrives, so that only one page
        (500 objects) is ever held whole: an informer listing 5,000 Deployments with their
        managedFields at once held several hundred MiB for a moment."""
        items: list[T] = []
        # ConfigMaps come in pages of 10: one may hold 1 MiB, and a page is parsed whole
        # before `keep` trims it (issue 23: 200 labelled ConfigMaps of 900 KiB in one page
        # took a restarting operator to 1.15 GB; in pages of 10, to 104 MiB).
        limit = 10 if kind == "ConfigMap" else 500
        query: dict[str, Any] = {"labelSelector": label_selector, "limit": limit}
        while True:
            result = self.request("GET", path_for(kind, namespace), query=query)
            api_version = result.get("apiVersion", "v1")
            for item in result.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(keep(item))
            metadata = result.get("metadata") or {}
            if not metadata.get("continue"):
                return items, str(metadata.get("resourceVersion", ""))
            query = {**query, "continue": metadata["continue"]}

    def watch(self, kind: str, namespace: str | None, label_selector: str,
              resource_version: str, timeout_seconds: int = 300) -> Iterator[dict[str, Any]]:
        """The events of one watch request, as they come, until the server ends it after
        `timeout_seconds` (the informer draws it from a range, so that watches do not all
        end together). Bookmarks are asked for, so a quiet watch still moves on. A watch
        silent 30 s past its timeout is broken (a connection that died without a word, a
        proxy that dropped it): the read times out and raises KubeError."""
        query = {"watch": "true", "labelSelector": label_selector,
                 "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": str(timeout_seconds)}
        self.limiter.wait()
        with _transport_errors():
            response = self._send("GET", path_for(kind, namespace), query, None,
                                  "application/json", (self.timeout, timeout_seconds + 30))
        raw = response.response
        finished = False
        try:
            if not 200 <= raw.status < 300:
                raise _error_from(raw.status, raw.data)
            pending = b""
            with _transport_errors():
                for chunk in raw.stream(65536, decode_content=True):
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield json.loads(line)
            finished = True
        finally:
            if finished:
                raw.release_conn()
            else:
                raw.close()  # stopped early: the connection still carries the stream

    def apply(self, obj: dict[str, Any], subresource: str = "") -> dict[str, Any]:
        """Server-side apply: the object becomes exactly what this manager says of it."""
        meta = obj["metadata"]
        result: dict[str, Any] = self.request(
            "PATCH", path_for(obj["kind"], meta["namespace"], meta["name"], subresource),
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=apply_body(obj), content_type="application/apply-patch+yaml",
        )
        return result

    def delete(self, kind: str, namespace: str, name: str, uid: str) -> bool:
        """Delete the object if it is still the one we looked at (uid precondition)."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
                "preconditions": {"uid": uid}}
        try:
            self.request("DELETE", path_for(kind, namespace, name), body=body)
        except KubeError as error:
            if error.status in (404, 409):
                return False
            raise
        return True

    def merge_patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any],
                    field_manager: str = REPAIR_FIELD_MANAGER,
                    limiter: RateLimiter | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "PATCH", path_for(kind, namespace, name), query={"fieldManager": field_manager},
            body=patch, content_type="application/merge-patch+json", limiter=limiter)
        return result

    def json_patch(self, kind: str, namespace: str, name: str, patch: list[Any],
                   field_manager: str = REPAIR_FIELD_MANAGER) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "PATCH", path_for(kind, namespace, name), query={"fieldManager": field_manager},
            body=patch, content_type="application/json-patch+json")
        return result

    def release(self, obj: dict[str, Any],
                manager: str = REPAIR_FIELD_MANAGER) -> dict[str, Any] | None:
        """Give up every field `manager` holds in `obj` (as a write returned it, with its
        managedFields); None when it holds none. See release_patch."""
        patch = release_patch(obj, manager)
        if not patch:
            return None
        meta = obj["metadata"]
        return self.json_patch(obj["kind"], meta["namespace"], meta["name"], patch, manager)

    def apply_status(self, app: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        """Write the App's status, if the App is still the version `app` is (else 409): a
        status computed from an older App than the server holds is never written over a
        newer one."""
        meta = app["metadata"]
        return self.apply({
            "apiVersion": model.API_VERSION,
            "kind": model.KIND,
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "resourceVersion": meta["resourceVersion"]},
            "status": status,
        }, subresource="status")

    def post_event(self, app: dict[str, Any], event_type: str, reason: str,
                   message: str) -> None:
        """An event on the App, as `kubectl describe app` shows them. Best effort and
        asynchronous: a lost or late event must never fail or slow a reconcile. The same
        event again soon after is counted on the first one (see _post_event)."""
        meta = app["metadata"]
        timestamp = now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": model.API_VERSION, "kind": model.KIND, "name": meta["name"],
                "namespace": meta["namespace"], "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "type": event_type,
            "reason": reason,
            "message": shorten(message),
            "source": {"component": FIELD_MANAGER},
            "reportingComponent": FIELD_MANAGER,
            "reportingInstance": FIELD_MANAGER,
            "firstTimestamp": timestamp,
            "lastTimestamp": timestamp,
            "count": 1,
        }
        self._ensure_event_thread()
        try:
            self._events.put_nowait(event)
        except queue.Full:
            self.events_dropped += 1
            if self.events_dropped % 100 == 1:
                log.warning("events are not being posted fast enough; %d dropped so far",
                            self.events_dropped)

    def _ensure_event_thread(self) -> None:
        with self._event_lock:
            if self._event_thread is None or not self._event_thread.is_alive():
                self._event_thread = threading.Thread(target=self._post_events,
                                                      name="events", daemon=True)
                self._event_thread.start()

    def flush_events(self, timeout: float = 10.0) -> None:
        """Wait until the events queued so far are posted (tests, shutdown)."""
        done = threading.Event()
        with self._event_lock:
            if self._event_thread is None:
                return  # no event was ever queued
        self._ensure_event_thread()
        try:
            self._events.put(done, timeout=timeout)
        except queue.Full:
            return
        done.wait(timeout)

    def _post_events(self) -> None:
        """Posts events until the process ends; no error stops it."""
        while True:
            item = self._events.get()
            if isinstance(item, threading.Event):
                item.set()
                continue
            involved = item["involvedObject"]
            try:
                self._post_event(item)
            except KubeError as error:
                if error.namespace_terminating:
                    # The App goes with its namespace: nobody will read the event, and the
                    # 403 is the namespace's lifecycle, not a missing permission.
                    log.debug("event %s on %s/%s not posted: the namespace is being deleted",
                              item["reason"], involved["namespace"], involved["name"])
                    continue
                log.warning("could not post event %s on %s/%s: %s", item["reason"],
                            involved["namespace"], involved["name"], error)
            except Exception:
                log.exception("could not post event %s on %s/%s", item["reason"],
                              involved["namespace"], involved["name"])

    def _post_event(self, event: dict[str, Any]) -> None:
        """Post one event, or count it on the Event of its series: an App that stays Stalled
        for an hour says so in one Event of count 12, not in twelve objects."""
        key = _series_key(event)
        namespace = event["involvedObject"]["namespace"]
        series = self._series.get(key)
        now_ = self.clock()
        if series is not None and now_ - series.last < self.EVENT_WINDOW:
            try:
                self.merge_patch("Event", namespace, series.name,
                                 {"count": series.count + 1,
                                  "lastTimestamp": event["lastTimestamp"]},
                                 field_manager=FIELD_MANAGER, limiter=self.event_limiter)
            except KubeError as error:
                if not error.refused:
                    raise
                # The Event expired (the API server keeps them an hour), or may not be
                # patched (an older ClusterRole): a new one says it.
                log.debug("event %s not counted (%s): posted anew", series.name, error)
            else:
                series.count += 1
                series.last = now_
                self._series.move_to_end(key)
                return
        answer = self.request("POST", path_for("Event", namespace), body=event,
                              limiter=self.event_limiter)
        name = str(((answer or {}).get("metadata") or {}).get("name") or "")
        if not name:
            return
        self._series[key] = _Series(name=name, count=1, last=now_)
        self._series.move_to_end(key)
        while len(self._series) > self.EVENT_SERIES:
            self._series.popitem(last=False)


def release_patch(obj: dict[str, Any], manager: str) -> list[dict[str, Any]]:
    """A JSON patch that removes the managedFields entries (Update) of `manager` from `obj`,
    or [] when there are none. A port put back by a JSON patch is owned by that patch's
    manager, and the apply that follows only shares it: were the App to drop the port later,
    server-side apply would keep it for the other owner. Removed, the entry leaves the
    fields to the apply alone (a write that changes nothing but managedFields is recorded
    under no manager). Guarded by the resourceVersion and by each entry it removes."""
    meta = obj.get("metadata") or {}
    entries = meta.get("managedFields") or []
    ours = [index for index, entry in enumerate(entries)
            if entry.get("manager") == manager and entry.get("operation") == "Update"]
    if not ours:
        return []
    patch: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}]
    for index in reversed(ours):  # from the end: each index still points at its entry
        patch += [
            {"op": "test", "path": f"/metadata/managedFields/{index}/manager", "value": manager},
            {"op": "test", "path": f"/metadata/managedFields/{index}/operation",
             "value": "Update"},
            {"op": "remove", "path": f"/metadata/managedFields/{index}"}]
    return patch


@dataclass
class _Series:
    """An Event posted, and how often it happened since."""

    name: str
    count: int
    last: float  # the clock's time of the last occurrence


def _series_key(event: dict[str, Any]) -> tuple[str, ...]:
    involved = event["involvedObject"]
    return (involved["namespace"], involved["kind"], involved["name"], involved["uid"],
            event["type"], event["reason"], event["message"])


@contextmanager
def _transport_errors() -> Iterator[None]:
    """Failures to reach the API server or to read its answer, as KubeError."""
    try:
        yield
    except client.ApiException as error:  # raised for transport-level failures
        raise KubeError(error.status or 0, str(error.reason), str(error.body)) from error
    except (OSError, urllib3.exceptions.HTTPError) as error:
        # Refused or reset connections, timeouts, a stream cut in the middle (urllib3's
        # errors are not all OSErrors: MaxRetryError, ProtocolError, ReadTimeoutError).
        raise KubeError(0, type(error).__name__, str(error)) from error


def _error_from(status: int, data: bytes, retry_after: str | None = None) -> KubeError:
    seconds: float | None = None
    if retry_after:
        try:
            seconds = max(float(retry_after), 0.0)
        except ValueError:
            seconds = None
    try:
        body = json.loads(data)
        return KubeError(status, str(body.get("reason", "")), str(body.get("message", "")),
                         seconds)
    except (ValueError, AttributeError):
        return KubeError(status, "", data.decode(errors="replace")[:500], seconds)
