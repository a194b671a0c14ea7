"""One level-based reconcile of one App: spec → model → desired → apply → observed → status.

Whatever woke it (the App changed, a child changed or vanished, the operator restarted, a
periodic resync), it renders the whole desired state, reads what exists, applies what
differs, prunes what the spec no longer asks for, and writes the status if it changed.

The status it starts from is the App's own, as the informer holds it: the one place an
App's status lives. It is written only if the App is still that version (a resourceVersion
precondition), so a status computed from an older App never overwrites a newer one, and the
server's answer goes back into the App's store at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from app_operator.core import dependencies, drift, render, status
from app_operator.core.conditions import condition_of
from app_operator.core.model import GROUP, KIND, AppSpec, parse_quantity
from app_operator.core.render import AppRef, Desired
from app_operator.core.status import Observed, Problem
from app_operator.runtime.cache import Children, digest_payload, is_child
from app_operator.runtime.kube import Kube, KubeError, now

# Named as users read it in the log (kopf shows 20 characters of a logger's name).
log = logging.getLogger("app_operator.reconcile")
# Annotations the operator keeps for itself (the desired-state hash): never shown as a change.
INTERNAL = f"metadata.annotations.{render.HASH_ANNOTATION.split('/')[0]}/"


@dataclass
class Outcome:
    """What one reconcile did and found."""

    applied: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    problem: Problem | None = None
    status_written: bool = False
    namespace_terminating: bool = False
    # Events to post once the status is written: (type, reason, message).
    events: list[tuple[str, str, str]] = field(default_factory=list)
    # Seconds after which the App must be reconciled again although nothing may have
    # changed in the cluster: a verdict that depends on time (a crash loop that ages out)
    # changes then. None: no such verdict.
    requeue_after: float | None = None
    # Children whose apply the API server's answer undoes (a mutating webhook): what differs,
    # said in the status and not applied again for now. (kind, name) -> the fields.
    overridden: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        parts.append(f"spec.{where}: {item['msg']}" if where else f"spec: {item['msg']}")
    return "; ".join(parts)


def owner_of(obj: dict[str, Any], app: AppRef) -> str | None:
    """None when the object belongs to this App; otherwise who it belongs to, for a message.

    Only the controller ownerReference's uid makes an object the App's: anyone who may write
    in the namespace can set our labels, and an object planted under a child's name with
    them (a Deployment with a container of its own) must never be adopted, nor deleted as
    ours. The one exception is a claim, which under Retain has no owner by design: it is the
    operator's when it carries the annotations the operator writes on claims (the uid of
    the App that made it, or the mark of a kept claim); whether this App may own it or only
    mount it is `render.is_kept_claim`'s to say.

    The answer names no other object: a person who may only manage Apps learns that the
    name is taken, not by what (issue 23)."""
    meta = obj.get("metadata", {})
    controllers = [r for r in meta.get("ownerReferences") or [] if r.get("controller")]
    if controllers:
        ref = controllers[0]
        if ref.get("uid") == app.uid:
            return None
        if ref.get("kind") == KIND and str(ref.get("apiVersion", "")).startswith(f"{GROUP}/"):
            return "another App (an earlier one of this name, or another)"
        return "another object"
    if obj.get("kind") == "PersistentVolumeClaim" and _claim_of_this_name(meta, app):
        return None
    return "nobody (it was not made by app-operator for this App)"


def _claim_of_this_name(meta: dict[str, Any], app: AppRef) -> bool:
    """A claim the operator made for an App of this name: labelled for it, and carrying the
    uid annotation the operator writes on every claim or the mark of a kept one."""
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return (labels.get(render.MANAGED_BY_LABEL) == render.MANAGED_BY
            and labels.get(render.INSTANCE_LABEL) == app.name
            and (bool(annotations.get(render.APP_UID_ANNOTATION))
                 or annotations.get(render.KEPT_ANNOTATION) == "true"))


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _storage(claim: dict[str, Any], *path: str) -> Decimal | None:
    value: Any = claim
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        return None
    try:
        return parse_quantity(value, strict=False)
    except ValueError:
        return None


def shrink_refusal(desired: dict[str, Any], live: dict[str, Any] | None) -> str | None:
    """Why a claim cannot take the desired size, or None. A volume may go back to the size
    its claim really has: after a growth the API server refused (a StorageClass without
    expansion), the claim still requests the old size, and setting the App back to it is
    how a person undoes the change. Below that, the API server refuses every shrink (with
    RecoverVolumeExpansionFailure, down to just above status.capacity, to undo an expansion
    that failed): such a size is refused here, with the sizes a person needs, and never sent.
    """
    if desired.get("kind") != "PersistentVolumeClaim" or live is None:
        return None
    wanted = _storage(desired, "spec", "resources", "requests", "storage")
    requested = _storage(live, "spec", "resources", "requests", "storage")
    if wanted is None or requested is None or wanted >= requested:
        return None
    capacity = _storage(live, "status", "capacity", "storage")
    if capacity is not None and wanted > capacity:
        return None  # undoing an expansion that has not happened: the API server judges
    size = desired["spec"]["resources"]["requests"]["storage"]
    has = live["spec"]["resources"]["requests"]["storage"]
    if capacity is not None and capacity < requested:
        # An expansion asked for and not done: it can be undone down to what the claim holds.
        holds = live["status"]["capacity"]["storage"]
        return (f"cannot shrink to {size}: it requests {has} and holds {holds}, and a volume "
                f"never shrinks; set the volume's size to more than {holds}, or use a new "
                "volume to hold less")
    return (f"cannot shrink to {size}: it requests {has}, and a volume never shrinks; set the "
            f"volume's size back to {has} or more, or use a new volume to hold less")


def _sidecar_named_as_app(app: AppRef, spec: AppSpec) -> str | None:
    """The one rule of the spec that needs the App's name: the CRD refuses a sidecar of the
    App's own name (a rule on metadata.name), which an App stored before cannot have passed."""
    taken = [s.name for s in spec.sidecars or [] if s.name == app.name]
    if not taken:
        return None
    return (f"spec.sidecars: {taken[0]} is the App's own name, which the main container has; "
            "rename the sidecar")


def _job_replaced(desired: dict[str, Any], live: dict[str, Any]) -> bool:
    """Whether a Job must be replaced to match: its pod template differs, which the API
    server never lets change."""
    if desired.get("kind") != "Job":
        return False
    template = (live.get("spec") or {}).get("template")
    return bool(drift.differences(desired["spec"]["template"], template))


def _fingerprint(desired: dict[str, Any], live: dict[str, Any]) -> str:
    """What the live object holds where the desired one says something (lists whole): it
    changes when another hand changes a field the operator sets, not when a controller
    writes the status or an annotation of its own."""
    def project(wanted: Any, found: Any) -> Any:
        if isinstance(wanted, dict) and isinstance(found, dict):
            return {key: project(value, found.get(key)) for key, value in wanted.items()}
        return found

    text = json.dumps(project(desired, live), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _Overridden:
    """A child whose apply changed nothing: the API server's answer differed from the
    desired object in the same fields as the object before it (a mutating webhook, or
    another controller, puts its own values back). Applying it again is futile while the
    App (its uid and generation), the desired object and the child's fields stay as
    they were."""

    uid: str
    generation: int
    desired_hash: str
    fingerprint: str
    fields: tuple[str, ...]

    def holds(self, app: AppRef, generation: int, desired: dict[str, Any],
              live: dict[str, Any]) -> bool:
        return (self.uid, self.generation, self.desired_hash, self.fingerprint) == (
            app.uid, generation, _desired_hash(desired), _fingerprint(desired, live))


def _desired_hash(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["annotations"][render.HASH_ANNOTATION])


def overridden_note(overridden: dict[tuple[str, str], tuple[str, ...]]) -> str:
    """The sentence the status carries while applies are held back."""
    parts = []
    for (kind, name), fields in sorted(overridden.items()):
        shown = ", ".join(fields[:5]) + (" ..." if len(fields) > 5 else "")
        parts.append(f"{kind} {name} ({shown})")
    return ("the API server keeps other values than the App's in " + "; ".join(parts)
            + " (a mutating webhook or another controller sets them back after each apply); "
            "not applied again until the App or that object changes")


def _created(obj: dict[str, Any]) -> tuple[str, str, str]:
    """The order in which routes claimed their hosts: the oldest first, then by namespace
    and name (creation times have a resolution of one second)."""
    meta = obj.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("namespace") or ""),
            str(meta.get("name") or ""))


def _app_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The App ownerReference of another App's route (None: not an App's)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == KIND and str(
                ref.get("apiVersion", "")).startswith(f"{GROUP}/"):
            return dict(ref)
    return None


class Reconciler:
    def __init__(self, kube: Kube, children: Children,
                 remember_app: Callable[[dict[str, Any]], None] = lambda _app: None,
                 find_app: Callable[[str, str], dict[str, Any] | None] = (
                     lambda _namespace, _name: None),
                 gateway_api: Callable[[], bool] = lambda: False) -> None:
        self.kube = kube
        # Other Apps, from the App store, by namespace and name: what dependsOn is judged on.
        self.find_app = find_app
        # Reads of children come from the informers; writes go to the API server and their
        # answers back into the informers' stores.
        self.children = children
        self.remember_app = remember_app
        # Whether the cluster has the Gateway API CRDs (runtime/discovery.py says).
        self.gateway_api = gateway_api
        # Per App (namespace, name): the hosts it was refused because another App's route
        # serves them. When that route changes or goes, these Apps are looked at again
        # (waiting). Cleared with the rest in `forget`.
        self._waiting: dict[tuple[str, str], frozenset[str]] = {}
        # Per App (namespace, name): its children whose apply was found futile. Kept here,
        # the one memory the reconciler has of an App; `forget` clears it when the App goes.
        self._overridden: dict[tuple[str, str], dict[tuple[str, str], _Overridden]] = {}
        self._lock = threading.Lock()

    def forget(self, namespace: str, name: str) -> None:
        """The App is gone: what the reconciler remembered of it goes too."""
        with self._lock:
            self._overridden.pop((namespace, name), None)
            self._waiting.pop((namespace, name), None)

    def waiting(self) -> list[tuple[str, str]]:
        """The Apps refused a host because another App's route had it: any change of an
        App's route may free it (a route's old hosts are not in its watch event)."""
        with self._lock:
            return sorted(self._waiting)

    def _wait_for(self, app: AppRef, hosts: frozenset[str]) -> None:
        with self._lock:
            if hosts:
                self._waiting[(app.namespace, app.name)] = hosts
            else:
                self._waiting.pop((app.namespace, app.name), None)

    def _held(self, app: AppRef) -> dict[tuple[str, str], _Overridden]:
        with self._lock:
            return dict(self._overridden.get((app.namespace, app.name), {}))

    def _hold(self, app: AppRef, key: tuple[str, str], record: _Overridden | None) -> None:
        with self._lock:
            records = self._overridden.setdefault((app.namespace, app.name), {})
            if record is None:
                records.pop(key, None)
            else:
                records[key] = record
            if not records:
                del self._overridden[(app.namespace, app.name)]

    def reconcile(self, body: dict[str, Any]) -> Outcome:
        outcome = Outcome()
        if body["metadata"].get("deletionTimestamp"):
            # Being deleted: the garbage collector removes the children, or leaves them on
            # purpose (`kubectl delete --cascade=orphan`); re-attaching them would defeat that.
            self.forget(body["metadata"]["namespace"], body["metadata"]["name"])
            return outcome
        try:
            self._reconcile(body, outcome)
        finally:
            # Said after the status is written (or could not be): events are news of what
            # happened, and the status is what tools read first.
            for event in outcome.events:
                self.kube.post_event(body, *event)
        return outcome

    def _reconcile(self, body: dict[str, Any], outcome: Outcome) -> None:
        app = AppRef.from_body(body)
        try:
            spec = AppSpec.model_validate(body.get("spec") or {})
            invalid = _sidecar_named_as_app(app, spec)
        except ValidationError as error:
            invalid = describe_validation_error(error)
        if invalid is not None:
            outcome.problem = Problem(status.INVALID_SPEC, invalid)
            self._finish(body, app, None, self._observe_existing(app), outcome)
            return
        if _stalled_on_a_taken_name(body):
            # Stalled so before: the names are read until they are free, rather than each
            # reconcile making and removing the children whose names are free.
            self._converge(body, app, spec, outcome, None)
            return
        made: list[dict[str, Any]] = []
        events = len(outcome.events)
        try:
            self._converge(body, app, spec, outcome, made)
        except _Unseen:
            # A child's name is taken by an object the stores do not hold (someone else's, or
            # ours not seen yet): read each missing name from the API server, as a reconcile
            # did before every create, and decide on what it holds.
            del outcome.events[events:]
            self._converge(body, app, spec, outcome, None)
            if outcome.problem is not None and outcome.problem.reason == status.NAME_CONFLICT:
                self._undo(app, made)

    def _undo(self, app: AppRef, made: list[dict[str, Any]]) -> None:
        """While a name is taken, the App's own children are not made (a Service of the
        App's name would send its traffic to pods it does not know): those the create-only
        applies made before reaching the taken name go again. They were made a moment ago
        and before the workload (the Deployment or Job, the last to be applied), so no pod
        has used them."""
        for obj in made:
            meta = obj["metadata"]
            self.kube.delete(obj["kind"], meta["namespace"], meta["name"], meta["uid"])
            self.children.forget(obj)
            log.info("%s/%s: removed %s %s again: a name of the App is taken", app.namespace,
                     app.name, obj["kind"], meta["name"])

    def _converge(self, body: dict[str, Any], app: AppRef, spec: AppSpec, outcome: Outcome,
                  made: list[dict[str, Any]] | None) -> None:
        """Read, check, apply, prune, write the status. With `made`, from the stores alone:
        children they do not hold are created only if their names are free (`_Unseen` if
        one is not) and listed in `made`; without, missing names are read from the API
        server first."""
        gateway_api = self.gateway_api()
        route_kind = render.route_kind(spec, gateway_api)
        live = self._read(app, spec, gateway_api, route_kind, fetch=made is None)
        kept = frozenset(name for (kind, name), obj in live.items()
                         if kind == "PersistentVolumeClaim" and obj is not None
                         and render.is_kept_claim(obj, app))
        workload = "Job" if spec.run_once else "Deployment"
        hold = dependencies.hold(app.name, spec, lambda name: self.find_app(app.namespace, name),
                                 live.get((workload, app.name)))
        desired = render.render_all(app, spec, kept,
                                    held=hold is not None and hold.replicas_held,
                                    gateway_api=gateway_api)
        conflict = self._host_conflict(app, spec, live)
        if conflict is not None:
            # The rest of the App runs; only the route is refused (and removed, should it
            # exist: a host is never served by two Apps' routes).
            desired = replace(desired, route=None)
        observed = Observed(hold=hold, route_kind=route_kind)
        try:
            self._check_ownership(app, desired, live)
            refused = self._apply(body, app, desired, live, outcome, made)
            self._prune(body, app, spec, live, outcome, observed, desired)
            if refused:
                # Every child that could be applied was; each refused one is named.
                outcome.problem = Problem(status.API_REFUSED, "; ".join(refused))
            elif conflict is not None:
                outcome.problem = conflict
        except _Stall as stall:
            outcome.problem = stall.problem
        except KubeError as error:
            if not error.namespace_terminating:
                raise
            # The namespace and everything in it, the App included, are on their way out:
            # recreating children (or reporting that it cannot) would only be refused.
            outcome.namespace_terminating = True
            return
        observed.deployment = None if spec.run_once else live.get(("Deployment", app.name))
        observed.job = live.get(("Job", app.name)) if spec.run_once else None
        observed.pods = self.children.of_instance("Pod", app.namespace, app.name)
        observed.service = live.get(("Service", app.name)) if desired.service else None
        observed.shared = render.shared_claims(spec)
        observed.route = live.get(_key(desired.route)) if desired.route else None
        observed.claims = {
            volume.name: (self._shared_claim(app, volume.claim_name) if volume.claim_name
                          else live.get(("PersistentVolumeClaim",
                                         render.claim_name(app, volume.name))))
            for volume in spec.volumes or []
        }
        moment = now()
        # A verdict that changes with time alone (a crash loop that ages out) is looked at
        # again then: no event would say so.
        outcome.requeue_after = status.recheck_after(observed, moment)
        self._finish(body, app, spec, observed, outcome, moment)

    def _read(self, app: AppRef, spec: AppSpec, gateway_api: bool, route_kind: str | None,
              fetch: bool) -> dict[tuple[str, str], Any]:
        """The live children: the workload, the Service and the routes (also when they should
        go), and every claim labelled for this App (also those the spec no longer names).
        HTTPRoutes only where the Gateway API is installed (no informer else).

        Without `fetch`, what the stores hold: a name they do not hold is then created with a
        create-only apply (`_apply`), which the API server refuses if the name is taken, and
        only then is it read (`fetch`). A GET before each create would be three more requests
        for each new App, the rate limiter's tokens with them (at N = 5,000 new Apps, 8.1
        requests an App instead of 5)."""
        files = render.files_config_map_name(app)
        # A Service or ConfigMap the App does not want matters only if it is ours (to delete
        # it): the informers hold all of ours, so no request is sent for it.
        live: dict[tuple[str, str], Any] = {
            # The workload the App does not want (a Deployment of a run-once App, a Job of
            # another) matters only if it is ours, to delete it.
            ("Deployment", app.name): self.children.get("Deployment", app.namespace, app.name,
                                                        fetch=fetch and not spec.run_once),
            ("Job", app.name): self.children.get("Job", app.namespace, app.name,
                                                 fetch=fetch and spec.run_once),
            ("Service", app.name): self.children.get("Service", app.namespace, app.name,
                                                     fetch=fetch and bool(spec.ports)),
            ("ConfigMap", files): self.children.get(
                "ConfigMap", app.namespace, files,
                fetch=fetch and any(f.content is not None for f in spec.files or [])),
        }
        for kind in render.ROUTE_KINDS:
            if kind == render.HTTP_ROUTE and not gateway_api:
                continue
            live[(kind, app.name)] = self.children.get(kind, app.namespace, app.name,
                                                       fetch=fetch and kind == route_kind)
        for claim in self.children.of_instance("PersistentVolumeClaim", app.namespace,
                                               app.name):
            live[("PersistentVolumeClaim", claim["metadata"]["name"])] = claim
        for volume in spec.volumes or []:
            if volume.shared:
                continue  # not a child: read for the status only (_shared_claim)
            key = ("PersistentVolumeClaim", render.claim_name(app, volume.name))
            if key not in live:
                live[key] = self.children.get(key[0], app.namespace, key[1], fetch=fetch)
        return live

    def _shared_claim(self, app: AppRef, name: str) -> dict[str, Any] | None:
        """A claim the App mounts without owning it (claimName), read for the status only.
        From the claims' store when it is one of the operator's (another App's claim);
        otherwise from the API server's watch cache: a claim the store holds by name only
        (labelled as ours by someone else) says nothing of its phase."""
        claim = self.children.get("PersistentVolumeClaim", app.namespace, name)
        if claim is not None and "spec" not in claim:
            claim = self.kube.get("PersistentVolumeClaim", app.namespace, name, cached=True)
        return claim

    def _observe_existing(self, app: AppRef) -> Observed:
        """What runs for an App whose spec cannot be parsed: reported, left untouched."""
        deployment = self.children.get("Deployment", app.namespace, app.name)
        if deployment is not None and owner_of(deployment, app) is not None:
            deployment = None
        return Observed(deployment=deployment)

    def _host_conflict(self, app: AppRef, spec: AppSpec,
                       live: dict[tuple[str, str], Any]) -> Problem | None:
        """Whether another App's route serves a host this App's route asks for: the same host
        and path prefix in this namespace, or the same host at all in another one (a host
        is served by the Apps of one namespace: another team must not take its paths). The
        route that was made first keeps the host; the other App is Stalled, and looked at
        again when that route changes or goes (waiting). Only Apps' routes are
        compared: routes made by other hands are the gateway's to judge. An App in another
        namespace is not named (its author may know nothing of it, issue 23)."""
        wanted = render.wanted_hosts(spec)
        if not wanted:
            self._wait_for(app, frozenset())
            return None
        mine = [obj for kind in render.ROUTE_KINDS
                if (obj := live.get((kind, app.name))) is not None
                and owner_of(obj, app) is None]
        first = min((_created(obj) for obj in mine), default=None)
        clashes: list[str] = []
        taken: set[str] = set()
        for kind in render.ROUTE_KINDS:
            for other in self.children.with_hosts(kind, {host for host, _ in wanted}):
                owner = _app_of(other)
                meta = other.get("metadata") or {}
                if owner is None or owner.get("uid") == app.uid or not is_child(other):
                    continue
                if meta.get("deletionTimestamp"):
                    continue
                if first is not None and first < _created(other):
                    continue  # ours was there first: the other App gives way
                here = meta.get("namespace") == app.namespace
                theirs = render.route_hosts(other)
                for host, path in wanted:
                    if not any(h == host and (p == path or not here) for h, p in theirs):
                        continue
                    taken.add(host)
                    if here:
                        clashes.append(f"{host}{'' if path == '/' else path} is routed by App "
                                       f"{owner.get('name')} ({kind} {meta.get('name')})")
                    else:
                        clashes.append(f"{host} is routed by an App in another namespace")
        self._wait_for(app, frozenset(taken))
        if not clashes:
            return None
        shown = sorted(set(clashes))
        return Problem(status.HOST_CONFLICT, (
            "route refused: " + "; ".join(shown[:5]) + (" ..." if len(shown) > 5 else "")
            + "; choose another host or path, or remove the route from the other App "
            "(a host is served by one App per path, and by the Apps of one namespace)"))

    def _check_ownership(self, app: AppRef, desired: Desired,
                         live: dict[tuple[str, str], Any]) -> None:
        conflicts = []
        for obj in desired.objects():
            existing = live.get(_key(obj))
            if existing is not None:
                owner = owner_of(existing, app)
                if owner is not None:
                    conflicts.append(f"{obj['kind']} {obj['metadata']['name']} (owned by {owner})")
        if conflicts:
            raise _Stall(Problem(status.NAME_CONFLICT, (
                "these objects already exist and do not belong to this App: "
                + ", ".join(conflicts)
                + "; rename the App, or delete or rename the existing objects")))

    def _apply(self, body: dict[str, Any], app: AppRef, desired: Desired,
               live: dict[tuple[str, str], Any], outcome: Outcome,
               made: list[dict[str, Any]] | None) -> list[str]:
        """Apply each child that differs. A child the API server refuses (a claim grown on a
        StorageClass without expansion, an invalid field) does not hold back the others:
        an image update in the same change still reaches the Deployment. Returns why each
        refused child was refused, for the Stalled condition. With `made`, a child `live` does
        not hold is applied on condition that no object has its name (raises `_Unseen` if one
        has) and added to `made`."""
        created: list[str] = []
        updated: list[str] = []
        refused: list[str] = []
        generation = int(body["metadata"].get("generation") or 0)
        held = self._held(app)
        wanted = {_key(obj) for obj in desired.objects()}
        for key in held.keys() - wanted:
            self._hold(app, key, None)  # no longer a child the App wants
        try:
            for sent in desired.objects():
                key = _key(sent)
                # A ConfigMap is compared by the digests of its values, as the store keeps
                # it (cache.trim): the files' content is not held twice in memory.
                obj = digest_payload(sent)
                before = live.get(key)
                before = digest_payload(before) if before is not None else None
                if not drift.needs_apply(obj, before):
                    self._hold(app, key, None)
                    continue
                what = f"{obj['kind']} {obj['metadata']['name']}"
                record = held.get(key)
                if record is not None and before is not None and record.holds(
                        app, generation, obj, before):
                    outcome.overridden[key] = record.fields
                    continue
                if before is not None and _job_replaced(obj, before):
                    # A Job's pods cannot change: the Job is replaced, which runs the work
                    # again for the new spec (as compose recreates a changed one-shot
                    # container). Deleted in the background: its pods go after it.
                    self._delete(body, before, outcome)
                    live[key] = before = None
                shrink = shrink_refusal(obj, before)
                if shrink is not None:
                    refused.append(f"{what} {shrink}")
                    continue
                renumbered = drift.renumbered_ports(obj, before)
                if renumbered:
                    # Ports renumbered by another hand are put back in place first. Should
                    # the object change meanwhile, the patch fails and the reconcile is
                    # retried on what the caches then hold. The patch's manager then gives
                    # the port up, so that the apply alone owns it and can drop it later.
                    repaired = self.kube.json_patch(obj["kind"], app.namespace,
                                                    obj["metadata"]["name"], renumbered)
                    self.kube.release(repaired)
                try:
                    if before is None and made is not None:
                        answer = self._create(sent)
                        made.append(answer)
                    else:
                        answer = self.kube.apply(sent)
                    self.children.remember(answer)
                    live[key] = digest_payload(answer)
                except KubeError as error:
                    if error.refused and not error.namespace_terminating:
                        log.info("%s/%s: the API server refused %s: %s", app.namespace,
                                 app.name, what, error.message)
                        refused.append(f"the API server refused {what}: {error.message}")
                        continue
                    raise
                outcome.applied.append(what)
                if before is None:
                    created.append(what)
                    log.info("%s/%s: created %s", app.namespace, app.name, what)
                    continue
                differed = drift.differences(obj, before)
                still = self._overridden_after(app, generation, obj, live[key], differed,
                                               record, outcome)
                # The fields a person changed, not the operator's own bookkeeping. Those the
                # answer still holds otherwise did not change, unless the App did.
                renewed = (before["metadata"].get("annotations") or {}).get(
                    render.HASH_ANNOTATION) != _desired_hash(obj)
                changes = differed if renewed else [c for c in differed if c not in still]
                if changes:
                    changes = [c for c in changes if not c.startswith(INTERNAL)] or changes
                    summary = ", ".join(changes[:5]) + (" ..." if len(changes) > 5 else "")
                    updated.append(f"{what} ({summary})")
                    log.info("%s/%s: updated %s (%s)", app.namespace, app.name, what, summary)
        finally:
            # One event per kind of action and reconcile, not one per object: events are
            # writes too.
            if created:
                outcome.events.append(("Normal", "Created", "Created " + ", ".join(created)))
            if updated:
                outcome.events.append(("Normal", "Updated", "Updated " + "; ".join(updated)))
        return refused

    def _create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A server-side apply that only creates. An apply whose object carries a
        resourceVersion is conditional on it: the API server answers 409 if an object of that
        name exists with another version, and creates the object (the version ignored) if
        none does. No stored object has version "1" (etcd's first write is revision 2), so
        the apply creates or is refused, and never merges into what someone else made. The
        created object is owned by the apply, as an unconditional one would be."""
        conditional = {**obj, "metadata": {**obj["metadata"], "resourceVersion": "1"}}
        try:
            return self.kube.apply(conditional)
        except KubeError as error:
            if error.conflict:
                raise _Unseen(_key(obj)) from error
            raise

    def _overridden_after(self, app: AppRef, generation: int, obj: dict[str, Any],
                          answer: dict[str, Any], differed: list[str],
                          record: _Overridden | None, outcome: Outcome) -> list[str]:
        """The fields the API server's answer to an apply still holds other values in, when
        that apply was futile for them: they differed in the same way before it (a mutating
        webhook, or another controller, sets its own values back), or they are those found
        so before. The child is then not applied again until the App or the child changes
        (each apply would be a write, and an event, at every reconcile), and the App says
        so: in the status for as long as it lasts, and once in a Warning event."""
        key = _key(obj)
        fields = drift.differences(obj, answer)
        known = record is not None and record.uid == app.uid and record.fields == tuple(fields)
        if not fields or (not known and fields != differed):
            self._hold(app, key, None)
            return []
        self._hold(app, key, _Overridden(app.uid, generation, _desired_hash(obj),
                                         _fingerprint(obj, answer), tuple(fields)))
        outcome.overridden[key] = tuple(fields)
        if not known:
            note = overridden_note({key: tuple(fields)})
            log.warning("%s/%s: %s", app.namespace, app.name, note)
            outcome.events.append(("Warning", "ApplyOverridden", note))
        return fields

    def _prune(self, body: dict[str, Any], app: AppRef, spec: AppSpec,
               live: dict[tuple[str, str], Any], outcome: Outcome, observed: Observed,
               desired: Desired) -> None:
        # A route goes when the App no longer has one, when it changed kind (an ingress
        # class became a Gateway) and when its host is refused.
        routes = [((kind, app.name), desired.route is not None and desired.route["kind"] == kind)
                  for kind in render.ROUTE_KINDS]
        for key, wanted_now in ((("Service", app.name), bool(spec.ports)),
                                (("Deployment", app.name), not spec.run_once),
                                (("Job", app.name), spec.run_once),
                                (("ConfigMap", render.files_config_map_name(app)),
                                 any(f.content is not None for f in spec.files or [])),
                                *routes):
            obj = live.get(key)
            if not wanted_now and obj is not None and owner_of(obj, app) is None:
                self._delete(body, obj, outcome)
                live[key] = None
        # A claim the spec mounts, its own or shared (also one that was the App's own and
        # is now named by claimName), is never pruned.
        wanted = {render.mounted_claim(app, v) for v in spec.volumes or []}
        for (kind, name), claim in list(live.items()):
            if kind != "PersistentVolumeClaim" or claim is None or name in wanted:
                continue
            if owner_of(claim, app) is not None or claim["metadata"].get("deletionTimestamp"):
                continue
            meta = claim["metadata"]
            refs = meta.get("ownerReferences") or []
            owned = any(r.get("uid") == app.uid for r in refs)
            kept = render.is_kept_claim(claim, app)
            if owned and not kept and spec.volume_deletion_policy == "Delete":
                self._delete(body, claim, outcome)
                continue
            # Kept: created under Retain, or retained before the policy became Delete (a
            # policy change never deletes data that was already kept). Marked as kept, so
            # that no App owns it again, not even one that mounts it under Delete.
            observed.retained_claims.append(name)
            if owned or (meta.get("annotations") or {}).get(render.KEPT_ANNOTATION) != "true":
                patch: dict[str, Any] = {"annotations": {render.KEPT_ANNOTATION: "true"}}
                if owned:
                    patch["ownerReferences"] = [r for r in refs if r.get("uid") != app.uid]
                self.children.remember(self.kube.merge_patch(kind, app.namespace, name,
                                                             {"metadata": patch}))
                log.info("%s/%s: kept claim %s (volumeDeletionPolicy Retain); delete it by "
                         "hand when the data is no longer needed", app.namespace, app.name,
                         name)

    def _delete(self, body: dict[str, Any], obj: dict[str, Any], outcome: Outcome) -> None:
        meta = obj["metadata"]
        what = f"{obj.get('kind')} {meta['name']}"
        deleted = self.kube.delete(obj["kind"], meta["namespace"], meta["name"], meta["uid"])
        self.children.forget(obj)  # deleted now, or by someone else before
        if deleted:
            outcome.deleted.append(what)
            log.info("%s/%s: deleted %s", meta["namespace"], body["metadata"]["name"], what)
            outcome.events.append(("Normal", "Deleted", f"Deleted {what}"))

    def _finish(self, body: dict[str, Any], app: AppRef, spec: AppSpec | None,
                observed: Observed, outcome: Outcome, moment: str | None = None) -> None:
        previous = body.get("status") or {}
        generation = int(body["metadata"].get("generation") or 0)
        new = status.compute_status(app, generation, spec, observed, outcome.problem,
                                     previous, moment or now())
        if outcome.overridden:
            # Said in the Ready condition, whatever it says otherwise: the App stays Ready
            # if it is, and the note stays as long as the applies are held back.
            for condition in new["conditions"]:
                if condition["type"] == status.READY:
                    condition["message"] = status.shorten(
                        f"{condition['message']}; {overridden_note(outcome.overridden)}")
        if new == previous:
            return
        self._write_status(body, new)
        outcome.status_written = True
        outcome.events.extend(self._announce(app, previous, new))

    def _write_status(self, body: dict[str, Any], new: dict[str, Any]) -> None:
        answer = self.kube.apply_status(body, new)
        self.remember_app(answer)

    def report_error(self, body: dict[str, Any], message: str) -> bool:
        """Put an error that keeps the App from being reconciled into its status
        (Reconciling=True, RetryingAfterError), as far as the API server lets us. Returns
        whether the status says so now."""
        previous = body.get("status") or {}
        generation = int(body["metadata"].get("generation") or 0)
        new = status.retrying_status(previous, generation, message, now())
        if new == previous:
            return True
        try:
            self._write_status(body, new)
        except KubeError as error:
            log.debug("%s/%s: could not report the error in the status: %s",
                      body["metadata"].get("namespace"), body["metadata"]["name"], error)
            return False
        return True

    def _announce(self, app: AppRef, previous: dict[str, Any],
                  new: dict[str, Any]) -> list[tuple[str, str, str]]:
        """Events and logs for condition changes that a person wants to hear about."""
        events: list[tuple[str, str, str]] = []
        before = {c["type"]: c for c in previous.get("conditions") or []}
        for condition in new["conditions"]:
            old = before.get(condition["type"], {})
            changed = (old.get("status"), old.get("reason")) != (
                condition["status"], condition["reason"])
            if not changed:
                continue
            if condition["type"] == status.READY and old.get("status") == "True" and (
                    condition["status"] == "False"):
                # Said in the log only: the Ready event said it was ready, and the
                # conditions say why it no longer is.
                log.info("%s/%s: no longer ready (%s): %s", app.namespace, app.name,
                         condition["reason"], condition["message"])
            if condition["status"] != "True":
                continue
            if condition["type"] == status.STALLED:
                log.warning("%s/%s: stalled (%s): %s", app.namespace, app.name,
                            condition["reason"], condition["message"])
                events.append(("Warning", condition["reason"], condition["message"]))
            elif condition["type"] == status.READY:
                log.info("%s/%s: ready: %s", app.namespace, app.name, condition["message"])
                events.append(("Normal", "Ready", condition["message"]))
        return events


def _stalled_on_a_taken_name(body: dict[str, Any]) -> bool:
    stalled = condition_of(body, status.STALLED)
    return stalled.get("status") == "True" and stalled.get("reason") == status.NAME_CONFLICT


class _Unseen(Exception):
    """A name the stores do not hold is taken: the reconcile reads it and starts again."""


class _Stall(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem
