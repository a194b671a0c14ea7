"""Turns the informers' news into reconciles: a work queue of App keys and worker threads.

The Apps and their children are watched by informers (cache.py): each store follows its list
and watch, and takes the answers of the operator's own writes only when they are newer than
what the watch has shown (cache.Store). Whatever changed, an App or one of its children,
only the App's key is queued; a worker reads the App from the store when its turn comes and
runs the synchronous Reconciler on it, so the blocking Kubernetes client never runs inside
kopf's event loop. An App that is gone, also one whose deletion was missed while a watch was
down, is forgotten in one place (`forget`).

Errors: a refusal the App's author must fix (an invalid spec) waits for a new generation; an
App that cannot proceed for another reason (Stalled) is tried again with a growing delay; a
transient error (the API server busy or away) is retried after the server's Retry-After or
the delay, and once it persists it is written into the App's status.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app_operator.core import dependencies, render, status
from app_operator.runtime import metrics
from app_operator.runtime.cache import Informer
from app_operator.runtime.kube import KubeError
from app_operator.runtime.reconcile import Reconciler
from app_operator.runtime.workqueue import WorkQueue

# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.controller")
AppKey = tuple[str, str]  # (namespace, name)

# A transient error is written into the App's status once it has lasted this long, or
# happened this many times in a row: shorter blips only cost a retry.
REPORT_AFTER_SECONDS = 20.0
REPORT_AFTER_FAILURES = 3


def key_of(body: dict[str, Any]) -> AppKey:
    meta = body["metadata"]
    return meta.get("namespace", ""), meta["name"]


@dataclass
class AppState:
    """What the controller remembers of one App between reconciles."""

    failures: int = 0
    failing_since: float | None = None
    reported: bool = False  # the current failure is in the App's status


class Controller:
    # How often an App whose informers have not listed yet is looked at again.
    SYNC_WAIT_SECONDS = 1.0
    # A reconcile running longer than this is stuck (every request it sends is bounded by
    # the client's timeout): the liveness check says so, and the kubelet restarts us.
    RECONCILE_LIMIT_SECONDS = 300.0

    def __init__(self, reconciler: Reconciler, apps: Iterable[Informer], workers: int = 4,
                 resync_seconds: float = 300.0) -> None:
        self.reconciler = reconciler
        self.apps = list(apps)
        self.queue: WorkQueue[AppKey] = WorkQueue()
        self.workers = workers
        self.resync_seconds = resync_seconds
        self._state: dict[AppKey, AppState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # The threads that run as long as the controller does (the first pass's ends).
        self._lasting: list[threading.Thread] = []
        # Worker thread name -> the App it reconciles and since when.
        self._running: dict[str, tuple[AppKey, float]] = {}
        # The first pass over every App after a start: the Apps it still has to check (None
        # until the Apps are listed), and those it checked already (None once reported).
        self._startup_pending: set[AppKey] | None = None
        self._startup_checked: set[AppKey] | None = set()
        self._started = time.monotonic()
        # dependsOn, both ways: an App -> the Apps it names; an App -> the Apps that name it
        # (its dependents, reconciled again when its status changes or it goes). Updated from
        # each App the informers bring; an App's entries go in `forget`.
        self._depends_on: dict[AppKey, frozenset[str]] = {}
        self._dependents: dict[AppKey, set[str]] = {}

    # Reading the caches.

    def _app_informer(self, namespace: str) -> Informer | None:
        for informer in self.apps:
            if informer.namespace in (namespace, None):
                return informer
        return None

    def app(self, key: AppKey) -> dict[str, Any] | None:
        informer = self._app_informer(key[0])
        return informer.store.get(*key) if informer is not None else None

    def known(self, key: AppKey) -> bool:
        return self.app(key) is not None

    def remember_app(self, body: dict[str, Any]) -> None:
        """An App as a write of ours (its status) returned it."""
        informer = self._app_informer(body["metadata"].get("namespace", ""))
        if informer is not None:
            informer.store.upsert(body)

    # Life cycle.

    def start(self) -> None:
        self._started = time.monotonic()
        metrics.max_workers.labels(metrics.CONTROLLER).set(self.workers)
        for informer in self.apps:
            informer.on_change = self.on_app_change
            informer.start()
        self.reconciler.children.start(self.on_child_change)
        for index in range(self.workers):
            self._lasting.append(self._thread(self._work, f"reconcile-{index}"))
        self._lasting.append(self._thread(self._resync, "resync"))
        self._thread(self._first_pass_keys, "first-pass")

    def _thread(self, target: Any, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def stop(self) -> None:
        self._stop.set()
        self.queue.shutdown()
        for informer in self.apps:
            informer.stop()
        self.reconciler.children.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self.reconciler.kube.flush_events()

    def holding(self, namespace: str) -> list[Informer]:
        """The informers that hold an App of `namespace` and its children."""
        return [i for i in self.apps if i.namespace in (namespace, None)] + (
            self.reconciler.children.holding(namespace))

    def synced_for(self, namespace: str) -> bool:
        """Whether every informer holding an App of `namespace` and its children has listed
        once. Listed once is enough (client-go's HasSynced): see cache.Informer.synced."""
        return all(informer.synced.is_set() for informer in self.holding(namespace))

    def apps_followed(self, namespace: str) -> bool:
        """Whether the Apps of `namespace` are as the API server has them: their informer is
        not relisting after a failed watch. A child's store that missed something costs at
        most a write the apply makes harmless; an App store that missed the App's deletion
        would make children for an App that is gone."""
        return all(i.following for i in self.apps if i.namespace in (namespace, None))

    def _informers(self) -> list[Informer]:
        return self.apps + list(self.reconciler.children.informers.values())

    # Health, as the probes ask for it (handlers.py): an empty list is healthy.

    def liveness_problems(self) -> list[str]:
        """What keeps the controller from going on by itself, which a restart would cure:
        a worker, the resync or an informer whose thread died (they should not: a bug, a
        MemoryError), a reconcile running for longer than RECONCILE_LIMIT_SECONDS, an
        informer that has not moved for longer than its watch can stay quiet. Nothing
        before the start (a standby) or once stopping."""
        if self._stop.is_set():
            return []
        problems = [f"the {thread.name} thread is dead" for thread in self._lasting
                    if not thread.is_alive()]
        now = time.monotonic()
        with self._lock:
            running = sorted(self._running.items())
        problems += [f"the reconcile of {key[0]}/{key[1]} has run for {now - since:.0f}s "
                     f"({worker})" for worker, (key, since) in running
                     if now - since > self.RECONCILE_LIMIT_SECONDS]
        problems += [problem for informer in self._informers()
                     if (problem := informer.liveness_problem()) is not None]
        return problems

    def readiness_problems(self) -> list[str]:
        """The caches the reconciles read that have not listed yet, by name (the pods,
        only read for diagnostics, are not waited for)."""
        optional = self.reconciler.children.optional
        return [problem for informer in self._informers() if informer.kind not in optional
                and (problem := informer.readiness_problem()) is not None]

    # News from the informers.

    def on_app_change(self, body: dict[str, Any], gone: bool) -> None:
        key = key_of(body)
        if gone:
            log.info("%s/%s: App deleted; forgotten", *key)
            self.forget(key)
            self._wake_dependents(key)
            return
        self._index_dependencies(key, frozenset(dependencies.declared(body)))
        self.queue.add(key)
        self._wake_dependents(key)

    def _index_dependencies(self, key: AppKey, names: frozenset[str]) -> None:
        with self._lock:
            before = self._depends_on.get(key, frozenset())
            if names == before:
                return
            for name in before - names:
                dependents = self._dependents.get((key[0], name))
                if dependents is not None:
                    dependents.discard(key[1])
                    if not dependents:
                        del self._dependents[(key[0], name)]
            for name in names - before:
                self._dependents.setdefault((key[0], name), set()).add(key[1])
            if names:
                self._depends_on[key] = names
            else:
                self._depends_on.pop(key, None)

    def dependents(self, key: AppKey) -> list[AppKey]:
        """The Apps whose dependsOn names this one."""
        with self._lock:
            return [(key[0], name) for name in sorted(self._dependents.get(key, ()))]

    def _wake_dependents(self, key: AppKey) -> None:
        """An App changed or went: the Apps waiting for it look again (its status is what
        their dependsOn is judged on)."""
        for dependent in self.dependents(key):
            if self.known(dependent):
                self.queue.add(dependent)

    def on_child_change(self, body: dict[str, Any], gone: bool) -> None:
        meta = body.get("metadata", {})
        if body.get("kind") in render.ROUTE_KINDS:
            # A route that changed or went may free a host that other Apps were refused.
            for waiting in self.reconciler.waiting():
                if self.known(waiting):
                    self.queue.add(waiting)
        instance = (meta.get("labels") or {}).get(render.INSTANCE_LABEL)
        if not instance:
            return
        key = (meta.get("namespace", ""), instance)
        if self.known(key):
            self.queue.add(key)

    def watch_kind(self, kind: str) -> None:
        """Watch one more kind of child from now on (HTTPRoutes, once the Gateway API is
        found), and look at every App again: those naming a Gateway can have their route."""
        if not self.reconciler.children.add_kind(kind):
            return
        keys = [key_of(obj) for informer in self.apps for obj in informer.store.objects()]
        for key in keys:
            self.queue.add(key)

    def forget(self, key: AppKey) -> None:
        """The App is gone: everything the operator kept about it goes too."""
        with self._lock:
            self._state.pop(key, None)
            self._checked_at_start(key)
        self._index_dependencies(key, frozenset())
        self.queue.forget(key)
        self.reconciler.forget(*key)

    # The first pass after a start.

    def _first_pass_keys(self) -> None:
        """Once the Apps are listed, the first pass knows which Apps it has to check, and
        says in the log when it is done (and how many writes it took: 0 when nothing
        changed while the operator was down)."""
        while not all(i.synced.wait(1) for i in self.apps):
            if self._stop.is_set():
                return
        keys = {key_of(obj) for informer in self.apps for obj in informer.store.objects()}
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

    # Workers.

    def _work(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            self._process(key)

    def _process(self, key: AppKey) -> None:
        """One worker's turn with one App key, handed out by the queue."""
        if not (self.synced_for(key[0]) and self.apps_followed(key[0])):
            # A reconcile before the first list of the stores it reads would take every child
            # for missing; one while its App's store relists might act on an App that is
            # gone. This App waits; Apps of other namespaces go on.
            log.debug("%s/%s: waiting for a list of its namespace's informers", *key)
            self.queue.done(key)
            self.queue.add_after(key, self.SYNC_WAIT_SECONDS)
            return
        workers = metrics.active_workers.labels(metrics.CONTROLLER)
        workers.inc()
        started = time.monotonic()
        worker = threading.current_thread().name
        with self._lock:
            self._running[worker] = (key, started)
        try:
            result = self._reconcile(key)
        except Exception:  # a worker outlives anything; _reconcile logged it
            log.exception("%s/%s: reconcile failed", *key)
            self.queue.retry(key)
            result = "error"
        finally:
            with self._lock:
                self._running.pop(worker, None)
            self.queue.done(key)
            workers.dec()
        metrics.reconcile_time.labels(metrics.CONTROLLER).observe(time.monotonic() - started)
        metrics.reconcile_total.labels(metrics.CONTROLLER, result).inc()
        if result == "error":
            metrics.reconcile_errors.labels(metrics.CONTROLLER).inc()

    def _reconcile(self, key: AppKey) -> str:
        """One reconcile of the App of `key`; says how it ended, as the metrics count it:
        success (also when it asked to be reconciled again at a given time), error, or
        requeue (Stalled: tried again later)."""
        body = self.app(key)
        if body is None:
            self.forget(key)
            return "success"
        try:
            outcome = self.reconciler.reconcile(body)
        except KubeError as error:
            self._failed(key, body, error, str(error))
            return "error"
        except Exception as error:
            log.exception("%s/%s: unexpected error", *key)
            self._failed(key, body, None, f"internal error: {type(error).__name__}: {error}")
            return "error"
        with self._lock:
            self._checked_at_start(key)
            state = self._state.pop(key, None)
        if state is not None and state.failures:
            log.info("%s/%s: reconciled again after %d failed attempts", *key, state.failures)
        if outcome.namespace_terminating:
            self.queue.forget(key)
            return "success"
        if outcome.status_written:
            # Its own status write comes back from the watch as no news (the store has it
            # already): the Apps waiting for this one are woken here.
            self._wake_dependents(key)
        if outcome.requeue_after is not None:
            # A verdict that changes with time alone (a crash loop that ages out): the App
            # is reconciled again then, although nothing in the cluster may say so.
            self.queue.add_after(key, outcome.requeue_after)
        if outcome.problem is None or outcome.problem.reason == status.INVALID_SPEC:
            # Done; or a spec only its author can fix: tried again when the App changes.
            self.queue.forget(key)
            return "success"
        # Stalled: tried again later, in case what blocked it (a conflicting object, a
        # quota) went away without an event that concerns this App.
        self.queue.retry(key)
        return "requeue"

    def _failed(self, key: AppKey, body: dict[str, Any], error: KubeError | None,
                message: str) -> None:
        delay = self.queue.retry(key, at_least=error.retry_after if error else None)
        with self._lock:
            state = self._state.setdefault(key, AppState())
            state.failures += 1
            if state.failing_since is None:
                state.failing_since = time.monotonic()
            persists = (state.failures >= REPORT_AFTER_FAILURES or
                        time.monotonic() - state.failing_since >= REPORT_AFTER_SECONDS)
            report = persists and not state.reported
            failures = state.failures
        if error is not None and error.conflict:
            log.debug("%s/%s: the App changed while it was reconciled; again in %.1fs",
                      *key, delay)
            return
        log.warning("%s/%s: reconcile failed (%s); attempt %d, again in %.1fs", *key,
                    message, failures, delay)
        if report and self.reconciler.report_error(body, message):
            with self._lock:
                if key in self._state:
                    self._state[key].reported = True

    def _resync(self) -> None:
        """Every App is reconciled again now and then, in case a change was missed; the
        period and each App's turn in it are jittered, so resyncs do not come in waves."""
        while not self._stop.wait(self.resync_seconds * random.uniform(0.9, 1.1)):
            keys = [key_of(obj) for informer in self.apps for obj in informer.store.objects()]
            log.info("periodic resync of %d Apps", len(keys))
            for key in keys:
                self.queue.add_after(key, random.uniform(0, self.resync_seconds * 0.1))
