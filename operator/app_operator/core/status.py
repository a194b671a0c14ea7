"""An App's status, computed from what the operator observed. Pure.

Conditions follow the Kubernetes convention and kstatus (sigs.k8s.io/cli-utils), so that
`kubectl wait --for=condition=Ready`, Flux and other tools read them: `Reconciling` is True
while children roll out, `Stalled` is True when the operator cannot proceed, and `Ready` is
True when everything the spec asks for runs. The whole list is written every time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app_operator.core.conditions import condition_of, find_condition
from app_operator.core.dependencies import Hold
from app_operator.core.model import (
    AppSpec,
    AppStatus,
    Condition,
    Port,
    VolumeStatus,
)
from app_operator.core.model import (
    web_scheme as model_web_scheme,
)
from app_operator.core.render import HTTP_ROUTE, INGRESS, AppRef, claim_name, label_selector

READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"
# Run-once Apps (a Job) have a fourth condition: True once the Job's pod ran to success for
# the current spec (what dependsOn's condition Completed waits for).
COMPLETED_CONDITION = "Completed"

# Reasons (CamelCase, for machines; the messages are for people).
AVAILABLE = "Available"
SUSPENDED = "Suspended"
SCALED_TO_ZERO = "ScaledToZero"
ROLLING_OUT = "RollingOut"
VOLUMES_PENDING = "VolumesPending"
CLAIM_MISSING = "ClaimMissing"
RECONCILED = "Reconciled"
INVALID_SPEC = "InvalidSpec"
NAME_CONFLICT = "NameConflict"
API_REFUSED = "ApiRefused"
PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
FAILED_CREATE = "FailedCreate"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
UNSCHEDULABLE = "Unschedulable"
_IMAGE_PULL_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                       "ErrImageNeverPull", "RegistryUnavailable"}
RETRYING_AFTER_ERROR = "RetryingAfterError"
COMPLETED = "Completed"
RUNNING = "Running"
JOB_FAILED = "JobFailed"
# The route's: its host taken by another App, the Gateway API missing, the route waiting
# for its gateway or ingress controller. A gateway's own reasons for refusing an HTTPRoute
# (NoMatchingParent, NotAllowedByListeners, ...) become the App's reason as they are.
HOST_CONFLICT = "HostConflict"
GATEWAY_API_MISSING = "GatewayAPIMissing"
ROUTE_PENDING = "RoutePending"
ROUTE_NOT_ACCEPTED = "RouteNotAccepted"
# What a person can do about a gateway's reason for not accepting a route.
_ROUTE_HINTS = {
    "NoMatchingParent": "no such Gateway, or no listener of that name (check "
                        "route.parent.gateway)",
    "NotAllowedByListeners": "the Gateway's listeners do not allow routes from this namespace "
                             "(their allowedRoutes); ask the Gateway's owner, or choose "
                             "another Gateway",
    "NoMatchingListenerHostname": "no listener of the Gateway serves these hosts",
    "UnsupportedValue": "the gateway does not support a value of the route",
    "RefNotPermitted": "a reference to another namespace is not allowed by a ReferenceGrant",
    "InvalidCertificateRef": "the TLS Secret is missing or invalid",
    "BackendNotFound": "the App's Service is missing",
}

# Messages are for people; a message that copies an API server's answer can be very long
# (hundreds of field errors), and a status too large is refused as a whole.
MESSAGE_LIMIT = 1024


def shorten(message: str, limit: int = MESSAGE_LIMIT) -> str:
    """The message cut to `limit` characters; the start, which names the cause, is kept."""
    if len(message) <= limit:
        return message
    suffix = f" ... ({len(message) - limit} more characters)"
    return message[: limit - len(suffix)] + suffix


@dataclass(frozen=True)
class Problem:
    """Why the operator cannot proceed with an App: becomes Stalled=True."""

    reason: str
    message: str


@dataclass
class Observed:
    """The App's children as the API server returned them (None: does not exist)."""

    deployment: dict[str, Any] | None = None
    job: dict[str, Any] | None = None  # of a run-once App
    service: dict[str, Any] | None = None
    # Volume name -> its claim as observed, the App's own and the shared ones alike.
    claims: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    # Volume name -> the claim it mounts without owning it (spec.volumes[].claimName).
    shared: dict[str, str] = field(default_factory=dict)
    # Why the App may not start yet (dependsOn), judged on the other Apps' statuses.
    hold: Hold | None = None
    retained_claims: list[str] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    # The HTTPRoute or Ingress (None: none yet), and which kind the App's route is (None:
    # no route, or a Gateway while the Gateway API CRDs are missing).
    route: dict[str, Any] | None = None
    route_kind: str | None = None


@dataclass(frozen=True)
class Progress:
    """Where the rollout stands: done, still going, or stuck."""

    ready: bool
    reason: str
    message: str
    stalled: bool = False


def web_scheme(port: Port, name: str) -> str | None:
    """`http` or `https` when the port serves the web (model.web_scheme), else None."""
    return model_web_scheme(port.app_protocol, name)


def url_for(app: AppRef, port: Port, name: str) -> str | None:
    """In-cluster address of a port that serves HTTP or HTTPS (web_scheme), else None."""
    scheme = web_scheme(port, name)
    if scheme is None:
        return None
    number = port.service_port or port.container_port
    host = f"{app.name}.{app.namespace}.svc"
    if (scheme, number) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{number}"


def app_url(app: AppRef, spec: AppSpec) -> str | None:
    """The address of the App's first port that serves HTTP or HTTPS, if it has one."""
    for port, name in zip(spec.ports or [], spec.port_names(), strict=True):
        url = url_for(app, port, name)
        if url is not None:
            return url
    return None


def _int(obj: dict[str, Any] | None, *path: str) -> int:
    value: Any = obj
    for key in path:
        value = (value or {}).get(key)
    return int(value or 0)


def _claim_phase(claim: dict[str, Any] | None) -> str:
    """Bound, Pending, Lost (its volume is gone), or Missing (no claim yet)."""
    if claim is None:
        return "Missing"
    return str((claim.get("status") or {}).get("phase") or "Pending")


def _claim_of_volume(app: AppRef, observed: Observed, volume: str) -> str:
    return observed.shared.get(volume) or claim_name(app, volume)


# A shared claim is no child of the App: no watch tells the App when it is created or bound,
# so an App waiting for one looks again this often.
SHARED_CLAIM_RECHECK_SECONDS = 5.0


def _shared_claims_unbound(observed: Observed) -> bool:
    return any(_claim_phase(observed.claims.get(volume)) != "Bound"
               for volume in observed.shared)


# A container restarted this many times, the last time this recently, and not ready now, is
# crash-looping, in whatever state the kubelet shows it at the moment (waiting in back-off,
# terminated, or running but not ready for the few seconds before it exits again). A container
# that is ready now is not: a web app that restarted twice while its database started serves.
CRASH_LOOP_RESTARTS = 2
CRASH_LOOP_WINDOW = timedelta(minutes=10)


def _time(text: str | None) -> datetime | None:
    """A Kubernetes time (RFC 3339); one without an offset is taken as UTC, so that any two
    compare."""
    try:
        when = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _last_exit(container: dict[str, Any]) -> dict[str, Any] | None:
    state = container.get("state") or {}
    last = state.get("terminated") or (container.get("lastState") or {}).get("terminated")
    return dict(last) if last else None


def _in_back_off(container: dict[str, Any]) -> bool:
    waiting = ((container.get("state") or {}).get("waiting") or {}).get("reason")
    return bool(waiting == CRASH_LOOP_BACK_OFF)


def _restarts_while_not_ready(container: dict[str, Any]) -> bool:
    """A container the kubelet does not show in back-off, that restarted CRASH_LOOP_RESTARTS
    times and is not ready now: crash-looping while its last exit is recent."""
    return (container.get("ready") is not True and _last_exit(container) is not None
            and int(container.get("restartCount") or 0) >= CRASH_LOOP_RESTARTS)


def _window_end(container: dict[str, Any]) -> datetime | None:
    """When the container's last exit stops counting as recent (None: the exit has no time)."""
    finished = _time((_last_exit(container) or {}).get("finishedAt"))
    return None if finished is None else finished + CRASH_LOOP_WINDOW


def _crash_loop(container: dict[str, Any], now: datetime | None) -> str | None:
    """How a crash-looping container ended last ("exit code 3", "OOMKilled: ..."), or None."""
    if not _in_back_off(container):
        if not _restarts_while_not_ready(container):
            return None  # ready now (serving, whatever happened before), or few restarts
        end = _window_end(container)
        if now is not None and end is not None and now >= end:
            return None  # restarted a few times, long ago
    last = _last_exit(container)
    if not last:
        return "it exits"
    if last.get("reason") == "OOMKilled":
        return "OOMKilled: it used more memory than its limit"
    return f"exit code {last.get('exitCode')}"


def recheck_after(observed: Observed, now: str) -> float | None:
    """Seconds from `now` until a verdict computed from `observed` changes by itself, with
    no event to say so: a container that restarted recently stops counting as crash-looping
    once its last exit is CRASH_LOOP_WINDOW old. The controller requeues the App then
    (controller-runtime's RequeueAfter) rather than leave the App unhealthy until the next
    resync. A shared claim that is missing or not bound is looked at again after
    SHARED_CLAIM_RECHECK_SECONDS: it is not the App's child, and no watch says when it
    changes. None when nothing in the status depends on the time."""
    shared = SHARED_CLAIM_RECHECK_SECONDS if _shared_claims_unbound(observed) else None
    when = _time(now)
    if when is None:
        return shared
    ends = [end for pod in observed.pods if not (pod.get("metadata") or {}).get(
                "deletionTimestamp")
            for container in (pod.get("status") or {}).get("containerStatuses") or []
            if not _in_back_off(container) and _restarts_while_not_ready(container)
            and (end := _window_end(container)) is not None and end > when]
    aged = min(ends).timestamp() - when.timestamp() if ends else None
    waits = [wait for wait in (aged, shared) if wait is not None]
    return min(waits) if waits else None


def pod_problem(pods: list[dict[str, Any]], now: str | None = None) -> Progress | None:
    """Why the App's pods do not run, in the words a user can act on: an image that cannot be
    pulled, a container that keeps crashing (its last exit code, or OOMKilled), a pod the
    scheduler finds no room for. These show within seconds on the pods, long before the
    Deployment's progress deadline (10 minutes) says anything; an App's author may not be
    allowed to read pods, so the App says it."""
    found: list[Progress] = []
    when = _time(now)
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if (condition.get("type"), condition.get("status"), condition.get("reason")) == (
                    "PodScheduled", "False", "Unschedulable"):
                found.append(Progress(False, UNSCHEDULABLE, "pod {} cannot be scheduled: {}".format(
                    meta.get("name"), condition.get("message") or "no node fits it")))
        # The sidecars' statuses are the init containers' (native sidecars).
        for container in [*(status.get("containerStatuses") or []),
                          *(status.get("initContainerStatuses") or [])]:
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in _IMAGE_PULL_REASONS:
                found.append(Progress(False, IMAGE_PULL_BACK_OFF, "cannot pull image {}: {}".format(
                    container.get("image"), waiting.get("message") or waiting.get("reason"))))
                continue
            how = _crash_loop(container, when)
            if how is not None:
                found.append(Progress(False, CRASH_LOOP_BACK_OFF, (
                    f"container {container.get('name')} keeps crashing ({how}, restarted "
                    f"{container.get('restartCount', 0)} times); see `kubectl logs "
                    f"{meta.get('name')} --previous`")))
    # The same problem on several pods is said once; an image problem comes first.
    order = {IMAGE_PULL_BACK_OFF: 0, CRASH_LOOP_BACK_OFF: 1, UNSCHEDULABLE: 2}
    return min(found, key=lambda p: order[p.reason]) if found else None


def _terminating(pod: dict[str, Any]) -> bool:
    """Deleted but not stopped yet: the Deployment controller's own definition (a deletion
    timestamp, and not Succeeded or Failed)."""
    phase = (pod.get("status") or {}).get("phase")
    return bool((pod.get("metadata") or {}).get("deletionTimestamp")) and phase not in (
        "Succeeded", "Failed")


def terminating_pods(deployment: dict[str, Any], pods: list[dict[str, Any]]) -> str | None:
    """Which of the App's pods are still shutting down, or None. The Deployment's counters
    (replicas, updatedReplicas, availableReplicas) leave terminating pods out, so without
    this an App is Ready while an old pod still runs its last requests, or still holds a
    volume. Both sources are read: status.terminatingReplicas (Kubernetes 1.33+, beta and on
    by default since 1.35) may be absent or behind, and the pods list may be behind."""
    names = sorted(str((pod.get("metadata") or {}).get("name")) for pod in pods
                   if _terminating(pod))
    count = max(_int(deployment, "status", "terminatingReplicas"), len(names))
    if count == 0:
        return None
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return "{} {} still terminating{}".format(
        count, "pod is" if count == 1 else "pods are", f": {shown}" if names else "")


def rollout_progress(app: AppRef, spec: AppSpec, observed: Observed,
                     now: str | None = None) -> Progress:
    """Is everything the spec asks for running? If not, what is it waiting for?"""
    if observed.hold is not None:
        return Progress(False, observed.hold.reason, observed.hold.message,
                        stalled=observed.hold.stalled)
    deployment = observed.deployment
    desired = spec.effective_replicas
    missing = [f"{claim} (volume {volume})" for volume, claim in observed.shared.items()
               if observed.claims.get(volume) is None]
    if missing and desired > 0:
        # The pods cannot start without it, and the operator never creates a claim it does
        # not own: a person (or the converter's output) must.
        return Progress(False, CLAIM_MISSING, "waiting for PersistentVolumeClaim "
                        f"{', '.join(missing)} in namespace {app.namespace}: the App mounts "
                        "it (claimName) but does not own it, so the operator never creates "
                        "it; create it")
    if spec.run_once:
        return job_progress(app, spec, observed, now)
    if deployment is None:
        return Progress(False, ROLLING_OUT, f"waiting for Deployment {app.name} to be created")
    seen = _int(deployment, "status", "observedGeneration")
    if seen < _int(deployment, "metadata", "generation"):
        return Progress(False, ROLLING_OUT, "waiting for the Deployment controller to see the "
                        "new spec")
    failure = condition_of(deployment, "ReplicaFailure")
    if failure.get("status") == "True":
        # Pods refused by the API server (Pod Security, a quota, an invalid field): none
        # will start until something changes, and the Deployment's conditions, which say
        # why, may not be readable by the App's author.
        return Progress(False, FAILED_CREATE, "pods cannot be created: "
                        f"{failure.get('message') or failure.get('reason')}", stalled=True)
    progressing = condition_of(deployment, "Progressing")
    if progressing.get("reason") == PROGRESS_DEADLINE_EXCEEDED:
        return Progress(False, PROGRESS_DEADLINE_EXCEEDED,
                        "the new pods did not become ready in time "
                        f"({progressing.get('message')}); "
                        f"see `kubectl describe pods -l {label_selector(app)}` and the pods' logs",
                        stalled=True)
    updated = _int(deployment, "status", "updatedReplicas")
    total = _int(deployment, "status", "replicas")
    available = _int(deployment, "status", "availableReplicas")
    pending = sorted(
        f"{_claim_of_volume(app, observed, volume)} ({_claim_phase(claim)})"
        for volume, claim in observed.claims.items() if _claim_phase(claim) != "Bound")
    if pending and available < desired:
        # Pods that mount a claim not bound yet cannot start: the claim is what to look at
        # (a missing StorageClass, a provisioner that is down), not the pods.
        return Progress(False, VOLUMES_PENDING, "waiting for claims to be bound: "
                        + ", ".join(pending))
    # Pods that cannot run say so whatever the counters show: a crash-looping container
    # counts as available for the moments it runs.
    problem = pod_problem(observed.pods, now)
    if problem is not None:
        return problem
    if updated < desired:
        return Progress(False, ROLLING_OUT, f"{updated} of {desired} pods run the current spec")
    if total > updated:
        # status.replicas counts the pods not being deleted: these still run an older spec.
        old = total - updated
        return Progress(False, ROLLING_OUT,
                        f"{old} {'pod still runs' if old == 1 else 'pods still run'} an older spec")
    if total > desired:
        return Progress(False, ROLLING_OUT, f"scaling down from {total} to {desired} pods")
    leaving = terminating_pods(deployment, observed.pods)
    if leaving:
        return Progress(False, ROLLING_OUT, leaving)
    if available < desired:
        return Progress(False, ROLLING_OUT, f"{available} of {desired} pods are available")
    if pending:
        return Progress(False, VOLUMES_PENDING, "waiting for claims to be bound: "
                        + ", ".join(pending))
    if spec.ports and observed.service is None:
        return Progress(False, ROLLING_OUT, f"waiting for Service {app.name} to be created")
    if spec.suspend:
        return Progress(True, SUSPENDED, "suspended: scaled to 0, Service and volumes kept")
    if desired == 0:
        return Progress(True, SCALED_TO_ZERO, "scaled to 0 replicas")
    routed = route_progress(app, spec, observed)
    if routed is not None:
        return routed
    url = route_url(spec) if spec.route is not None else app_url(app, spec)
    where = f" at {url}" if url else ""
    return Progress(True, AVAILABLE, f"{available} of {desired} replicas available{where}")


def _job_condition(job: dict[str, Any], kind: str) -> dict[str, Any]:
    """The Job's condition of type `kind` when it holds (status True), else {}."""
    found = condition_of(job, kind)
    return found if found.get("status") == "True" else {}


def route_url(spec: AppSpec) -> str | None:
    """The external address of the App's route: its first host and path prefix."""
    route = spec.route
    if route is None:
        return None
    scheme = "https" if route.tls is not None else "http"
    path = route.paths[0]
    return f"{scheme}://{route.hosts[0]}{'' if path == '/' else path}"


def job_progress(app: AppRef, spec: AppSpec, observed: Observed,
                 now: str | None = None) -> Progress:
    """Has the run-once work run to success? Ready once it has (Completed); Stalled when the
    Job gave up (its pod failed, backoffLimit reached): only a change of the App runs it
    again."""
    job = observed.job
    if job is None:
        return Progress(False, ROLLING_OUT, f"waiting for Job {app.name} to be created")
    if _job_condition(job, "Complete") or _job_condition(job, "SuccessCriteriaMet"):
        when = (job.get("status") or {}).get("completionTime")
        return Progress(True, COMPLETED, "completed: its pod ran to success"
                        + (f" at {when}" if when else ""))
    failed = _job_condition(job, "Failed") or _job_condition(job, "FailureTarget")
    if failed:
        return Progress(False, JOB_FAILED, "the run failed ({}: {}); see `kubectl logs "
                        "job/{}`; a change of the App runs it again".format(
                            failed.get("reason"), failed.get("message"), app.name),
                        stalled=True)
    if spec.suspend:
        return Progress(True, SUSPENDED, "suspended: the Job's pod is stopped, or not started")
    if spec.effective_replicas == 0:
        return Progress(True, SCALED_TO_ZERO, "scaled to 0: the Job's pod is not started")
    pending = sorted(
        f"{_claim_of_volume(app, observed, volume)} ({_claim_phase(claim)})"
        for volume, claim in observed.claims.items() if _claim_phase(claim) != "Bound")
    if pending:
        return Progress(False, VOLUMES_PENDING, "waiting for claims to be bound: "
                        + ", ".join(pending))
    problem = pod_problem(observed.pods, now)
    if problem is not None:
        return problem
    counts = job.get("status") or {}
    active, failures = int(counts.get("active") or 0), int(counts.get("failed") or 0)
    tried = f", {failures} failed before" if failures else ""
    return Progress(False, RUNNING, f"running: {active} pod{'s' if active != 1 else ''} "
                    f"active{tried}")


def _same_parent(ref: dict[str, Any], name: str, namespace: str, section: str | None,
                 route_namespace: str) -> bool:
    """Whether a parentRef in the route's status is the Gateway the App names."""
    return (ref.get("kind", "Gateway") == "Gateway" and ref.get("name") == name
            and (ref.get("namespace") or route_namespace) == namespace
            and ref.get("sectionName") == section)


def route_progress(app: AppRef, spec: AppSpec, observed: Observed) -> Progress | None:
    """Whether the App's route carries traffic; None when it does (or there is no route).
    An HTTPRoute does once its Gateway's controller has Accepted it and resolved its
    references (its status.parents), for the route's current generation; an Ingress once
    an ingress controller gave it an address. What a gateway refuses is Stalled with the
    gateway's own reason: only a change of the App or of the Gateway helps, and either
    wakes the App (the route's status changes)."""
    route = spec.route
    if route is None:
        return None
    kind = observed.route_kind
    if kind is None:
        return Progress(False, GATEWAY_API_MISSING, (
            "the route names a Gateway, but the Gateway API CRDs (gateway.networking.k8s.io) "
            "are not installed in the cluster; the HTTPRoute is made once they are"))
    obj = observed.route
    if obj is None:
        return Progress(False, ROLLING_OUT, f"waiting for {kind} {app.name} to be created")
    if kind == INGRESS:
        addresses = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if addresses:
            return None
        parent = route.parent
        which = (f"of class {parent.ingress_class_name}" if parent is not None
                 and parent.ingress_class_name else "of the cluster's default class")
        return Progress(False, ROUTE_PENDING, f"waiting for an ingress controller {which} to "
                        f"give Ingress {app.name} an address")
    assert kind == HTTP_ROUTE and route.parent is not None and route.parent.gateway is not None
    gateway = route.parent.gateway
    namespace = gateway.namespace or app.namespace
    shown = f"Gateway {namespace}/{gateway.name}" + (
        f" (listener {gateway.section_name})" if gateway.section_name else "")
    parents = [p for p in (obj.get("status") or {}).get("parents") or []
               if _same_parent(p.get("parentRef") or {}, gateway.name, namespace,
                               gateway.section_name, app.namespace)]
    generation = _int(obj, "metadata", "generation")
    waiting = Progress(False, ROUTE_PENDING, f"waiting for {shown} to accept HTTPRoute "
                       f"{app.name} (no gateway controller has answered for this version)")
    if not parents:
        return waiting
    for parent in parents:
        accepted = find_condition(parent.get("conditions"), "Accepted")
        resolved = find_condition(parent.get("conditions"), "ResolvedRefs")
        if _int(accepted, "observedGeneration") < generation:
            return waiting
        for condition, verb in ((accepted, "does not accept"),
                                (resolved, "cannot resolve the references of")):
            if condition.get("status") != "False" or condition.get("reason") == "Pending":
                continue
            reason = str(condition.get("reason") or ROUTE_NOT_ACCEPTED)
            hint = _ROUTE_HINTS.get(reason)
            said = condition.get("message") or reason
            message = f"{shown} {verb} HTTPRoute {app.name}: {reason}: {said}" + (
                f" ({hint})" if hint else "")
            if reason == "BackendNotFound" and observed.service is None:
                return Progress(False, ROUTE_PENDING, message)  # being created
            return Progress(False, reason, message, stalled=True)
        if accepted.get("status") != "True" or resolved.get("status", "True") != "True":
            return waiting
    return None


def _condition(kind: str, value: bool, reason: str, message: str, generation: int,
               previous: dict[str, dict[str, Any]], now: str) -> dict[str, Any]:
    status = "True" if value else "False"
    before = previous.get(kind, {})
    since = before.get("lastTransitionTime") if before.get("status") == status else None
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": shorten(message),
        "lastTransitionTime": since or now,
        "observedGeneration": generation,
    }


def conditions(progress: Progress | None, problem: Problem | None, generation: int,
               previous: list[dict[str, Any]] | None, now: str) -> list[dict[str, Any]]:
    """The three kstatus conditions; exactly one of progress or problem is given."""
    before = {c.get("type", ""): c for c in previous or []}
    if problem is not None:
        reason, message = problem.reason, problem.message
        return [
            _condition(READY, False, reason, message, generation, before, now),
            _condition(RECONCILING, False, reason, "stopped: " + message, generation, before, now),
            _condition(STALLED, True, reason, message, generation, before, now),
        ]
    assert progress is not None
    return [
        _condition(READY, progress.ready, progress.reason, progress.message, generation, before,
                   now),
        _condition(RECONCILING, not progress.ready,
                   RECONCILED if progress.ready else progress.reason,
                   "up to date" if progress.ready else progress.message, generation, before, now),
        _condition(STALLED, False, RECONCILED, "making progress", generation, before, now),
    ]


def _volume_status(app: AppRef, name: str, claim: dict[str, Any] | None,
                   observed: Observed) -> VolumeStatus:
    capacity = ((claim or {}).get("status") or {}).get("capacity") or {}
    return VolumeStatus(name=name, claim_name=_claim_of_volume(app, observed, name),
                        phase=_claim_phase(claim), capacity=capacity.get("storage") or None,
                        shared=True if name in observed.shared else None)


def compute_status(app: AppRef, generation: int, spec: AppSpec | None, observed: Observed,
                   problem: Problem | None, previous: dict[str, Any] | None,
                   now: str) -> dict[str, Any]:
    """The App's whole status. `spec` is None when it could not be parsed (then `problem`
    says why); `previous` is the status the App has now, to keep transition times."""
    progress = None
    if problem is None and spec is not None:
        # A route a gateway refuses is said at once, not after the rollout.
        routed = route_progress(app, spec, observed)
        if routed is not None and routed.stalled:
            problem = Problem(routed.reason, routed.message)
    if problem is None and spec is not None:
        progress = rollout_progress(app, spec, observed, now)
        if progress.stalled:  # a rollout that cannot proceed is a problem like any other
            problem, progress = Problem(progress.reason, progress.message), None
    url = node_port = None
    if spec is not None and spec.ports and observed.service is not None:
        # The route's external address once it carries traffic, else the in-cluster one.
        carried = spec.route is not None and observed.route is not None and route_progress(
            app, spec, observed) is None
        url = route_url(spec) if carried else app_url(app, spec)
        node_port = (observed.service.get("spec", {}).get("ports") or [{}])[0].get("nodePort")
    found = conditions(progress, problem, generation, (previous or {}).get("conditions"), now)
    if spec is not None and spec.run_once:
        done = progress is not None and progress.reason == COMPLETED
        before = {c.get("type", ""): c for c in (previous or {}).get("conditions") or []}
        found.append(_condition(
            COMPLETED_CONDITION, done, progress.reason if progress else problem.reason
            if problem else RECONCILED, "ran to success" if done else "not completed for "
            "the current spec", generation, before, now))
    job = observed.job
    result = AppStatus(
        observed_generation=generation,
        conditions=[Condition.model_validate(c) for c in found],
        selector=label_selector(app),
        replicas=(_int(job, "status", "active") if job is not None else
                  _int(observed.deployment, "status", "replicas")),
        ready_replicas=(_int(job, "status", "ready") if job is not None else
                        _int(observed.deployment, "status", "readyReplicas")),
        updated_replicas=_int(observed.deployment, "status", "updatedReplicas"),
        available_replicas=_int(observed.deployment, "status", "availableReplicas"),
        url=url,
        node_port=node_port or None,
        volumes=[_volume_status(app, name, claim, observed)
                 for name, claim in observed.claims.items()] or None,
        retained_claims=sorted(observed.retained_claims) or None,
    )
    return result.to_dict()


def retrying_status(previous: dict[str, Any], generation: int, message: str,
                    now: str) -> dict[str, Any]:
    """The status of an App that could not be reconciled for a while (the API server busy,
    away, or refusing a request for a reason that may pass): Reconciling with the error,
    everything else as it was, observedGeneration included (the spec was not acted on)."""
    before = {c.get("type", ""): c for c in previous.get("conditions") or []}
    message = f"{message}; retrying"
    ready = before.get(READY) or _condition(READY, False, RETRYING_AFTER_ERROR, message,
                                            generation, before, now)
    changed = [
        ready,
        _condition(RECONCILING, True, RETRYING_AFTER_ERROR, message, generation, before, now),
        _condition(STALLED, False, RETRYING_AFTER_ERROR, "retrying", generation, before, now),
        # Others (a run-once App's Completed) stay as they were.
        *[c for kind, c in before.items() if kind not in (READY, RECONCILING, STALLED)],
    ]
    return {**previous, "conditions": changed}
