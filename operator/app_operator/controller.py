"""Turns watch events into reconciles: the latest App bodies, a work queue, worker threads.

kopf delivers the Apps' events (handlers.py), the informers (cache.py) the children's; this
class decides which App each event concerns and hands its key to a worker. Workers run the
synchronous Reconciler, so the blocking Kubernetes client never runs inside kopf's event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from app_operator import model, render
from app_operator.cache import trim
from app_operator.kube import KubeError
from app_operator.reconcile import Reconciler
from app_operator.workqueue import WorkQueue

log = logging.getLogger(__name__)
AppKey = tuple[str, str]  # (namespace, name)


def key_of(body: dict[str, Any]) -> AppKey:
    meta = body["metadata"]
    return meta["namespace"], meta["name"]


class Controller:
    def __init__(self, reconciler: Reconciler, workers: int = 4,
                 resync_seconds: float = 300.0) -> None:
        self.reconciler = reconciler
        self.queue: WorkQueue[AppKey] = WorkQueue()
        self.workers = workers
        self.resync_seconds = resync_seconds
        self._bodies: dict[AppKey, dict[str, Any]] = {}
        # (uid, generation) of the last spec reconciled without error, per App.
        self._reconciled: dict[AppKey, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # The first pass over every App after a start: which Apps it still has to check
        # (None until they are listed), and which it has checked already.
        self._startup_pending: set[AppKey] | None = None
        self._startup_checked: set[AppKey] | None = set()
        self._started = time.monotonic()

    def start(self) -> None:
        self._started = time.monotonic()
        self.reconciler.children.start(self.on_child_event)
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"reconcile-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for target in (self._resync, self._list_at_start):
            thread = threading.Thread(target=target, name=target.__name__.strip("_"),
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.queue.shutdown()
        self.reconciler.children.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self.reconciler.kube.flush_events()

    def on_app_event(self, event_type: str | None, body: dict[str, Any]) -> None:
        key = key_of(body)
        meta = body["metadata"]
        with self._lock:
            if event_type == "DELETED":
                self._checked_at_start(key)
                self._bodies.pop(key, None)
                self._reconciled.pop(key, None)
                self.queue.forget(key)
                self.reconciler.forget(meta.get("uid", ""))
                return
            self._bodies[key] = trim(body)  # kept for every App: without managedFields
            seen = (meta.get("uid", ""), int(meta.get("generation") or 0))
            # Our own status writes come back as events with an unchanged generation: those
            # need no reconcile (children's events and the resync cover the rest).
            if event_type == "MODIFIED" and self._reconciled.get(key) == seen:
                return
        if meta.get("deletionTimestamp"):
            with self._lock:
                self._checked_at_start(key)
            return  # the garbage collector removes the children
        self.queue.add(key)

    def _list_at_start(self) -> None:
        """List the Apps once, to say in the log when the first pass over all of them is
        done (and how many writes it took: 0 when nothing changed while the operator was
        down)."""
        keys: set[AppKey] = set()
        try:
            for namespace in self.reconciler.children.namespaces:
                listed, _ = self.reconciler.kube.list_all(model.KIND, namespace, "",
                                                          keep=key_of)
                keys.update(listed)
        except KubeError as error:
            log.warning("could not list the Apps at start (%s); the first pass will not be "
                        "reported", error)
            with self._lock:
                self._startup_checked = None
            return
        with self._lock:
            if self._startup_checked is None:
                return
            self._startup_pending = keys - self._startup_checked
            self._checked_at_start(None)

    def _checked_at_start(self, key: AppKey | None) -> None:
        """Call with the lock held."""
        if self._startup_checked is None:
            return  # reported already
        if key is not None:
            self._startup_checked.add(key)
            if self._startup_pending is not None:
                self._startup_pending.discard(key)
        if self._startup_pending is not None and not self._startup_pending:
            counts = self.reconciler.kube.counts()
            log.info("first pass done %.1fs after start: Apps checked %d, writes %d, reads %d",
                     time.monotonic() - self._started, len(self._startup_checked),
                     counts["writes"], counts["reads"])
            self._startup_checked = None
            self._startup_pending = None

    def on_child_event(self, body: dict[str, Any]) -> None:
        meta = body.get("metadata", {})
        instance = (meta.get("labels") or {}).get(render.INSTANCE_LABEL)
        if not instance:
            return
        key = (meta.get("namespace", ""), instance)
        with self._lock:
            known = key in self._bodies
        if known:
            self.queue.add(key)

    def _work(self) -> None:
        # A reconcile before the informers have listed would take every child for missing.
        while not self.reconciler.children.wait_synced(timeout=30):
            if self._stop.is_set():
                return
            log.info("waiting for the first list of the children")
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                self._reconcile(key)
            finally:
                self.queue.done(key)

    def _reconcile(self, key: AppKey) -> None:
        with self._lock:
            body = self._bodies.get(key)
        if body is None:
            return
        namespace, name = key
        try:
            outcome = self.reconciler.reconcile(body)
        except KubeError as error:
            delay = self.queue.retry(key)
            log.warning("%s/%s: reconcile failed (%s); retrying in %.1fs", namespace, name,
                        error, delay)
            return
        except Exception:
            delay = self.queue.retry(key)
            log.exception("%s/%s: unexpected error; retrying in %.1fs", namespace, name, delay)
            return
        meta = body["metadata"]
        with self._lock:
            self._checked_at_start(key)
        if outcome.namespace_terminating:
            self.queue.forget(key)
            return
        if outcome.problem is not None:
            # Stalled: try again later, in case what blocked it (a conflicting object, a
            # missing StorageClass) went away without an event that concerns this App.
            self.queue.retry(key)
            return
        self.queue.forget(key)
        with self._lock:
            if self._bodies.get(key) is body:
                self._reconciled[key] = (meta.get("uid", ""), int(meta.get("generation") or 0))

    def _resync(self) -> None:
        while not self._stop.wait(self.resync_seconds):
            with self._lock:
                keys = list(self._bodies)
            log.debug("periodic resync of %d Apps", len(keys))
            for key in keys:
                self.queue.add(key)
