"""What starts when, and what runs once: compose's `depends_on` and `restart` as the App's
`dependsOn` and `restartPolicy`.

`depends_on` (the list form, or the mapping with a condition) becomes dependsOn, which the
operator honours: the dependent's pods are not started until each dependency meets its
condition. service_started and service_healthy both become Ready (an App is Ready when its
pods pass their readiness probe, which the converter makes from the healthcheck): with a
healthcheck that is what service_healthy waits for; service_started waits for less under
Compose (the container started), and the App waits for its pods to be ready, which is what
the dependent usually needs. service_completed_successfully becomes Completed.

A service runs once (the App is a Job, restartPolicy Never or OnFailure, Ready when its pod
ran to success) when
- another service waits for it to complete (service_completed_successfully): whatever its
  `restart:` says, Compose itself treats it as work that ends; or
- its `restart:` is "no" or on-failure[:N] and nothing says it serves: it publishes no port
  (none listed, none of its image's, none that other services reach), has no healthcheck, no
  service waits for it to be started or healthy, and it runs one replica.
Otherwise it is kept running by a Deployment, as today, and `restart: "no"` or on-failure
says so with the field to change: compose files give servers `restart: "no"` (a FastAPI
service in awesome-compose) or `on-failure` (its nginx-nodejs-redis web servers) as often as
they give it to a migration, and a server made a Job would never be Ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app_operator.convert.builder import Builder

CONDITIONS = {"service_started": "Ready", "service_healthy": "Ready",
              "service_completed_successfully": "Completed"}
# The Job's backoffLimit for restartPolicy OnFailure (core/render.py): the runs tried.
JOB_RETRIES = 6


def _waits(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """depends_on as {service: its options}, the list form as service_started."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return {str(name): {"condition": "service_started"} for name in depends}
    return {str(name): {"condition": "service_started", **(options or {})}
            for name, options in depends.items()}


def _restart_kind(service: Mapping[str, Any]) -> str | None:
    restart = service.get("restart")
    return None if restart is None else str(restart).split(":")[0]


def _job_policy(restart: str | None) -> str:
    return "OnFailure" if restart in ("on-failure", "always", "unless-stopped") else "Never"


def _keeps_running(builder: Builder, started_by: list[str]) -> str | None:
    """Why a service with restart no/on-failure is a server, not work that runs once."""
    if builder.ports:
        return f"it serves port {builder.ports[0].container}"
    if "probes" in builder.spec:
        return "it has a healthcheck"
    if started_by:
        return f"{', '.join(started_by)} wait{'s' if len(started_by) == 1 else ''} for it to " \
               "be started or healthy"
    if builder.spec.get("replicas", 1) > 1:
        return f"it runs {builder.spec['replicas']} replicas"
    return None


def _restart_policy(builder: Builder, service: Mapping[str, Any], completed_by: list[str],
                    started_by: list[str]) -> None:
    restart = _restart_kind(service)
    shown = service.get("restart")
    if completed_by:
        policy = _job_policy(restart)
        builder.spec["restartPolicy"] = policy
        waiters = ", ".join(completed_by)
        builder.warn(f"runs once, as a Job (restartPolicy {policy}): {waiters} wait"
                     f"{'s' if len(completed_by) == 1 else ''} for it to complete "
                     "(service_completed_successfully); the App is Ready once its pod ran to "
                     "success, and a change of its pod runs it again")
        if restart in ("always", "unless-stopped"):
            builder.warn(f"restart {shown}: not kept; Compose would start it again after it "
                         "completes, a Job does not (a failed run is tried again)")
        if builder.spec.get("replicas", 1) > 1:
            builder.refuse(f"replicas {builder.spec['replicas']}: {waiters} wait for it to "
                           "complete, so it runs once, as one pod; set replicas to 1 (or "
                           "leave it out)")
    elif restart in ("no", "on-failure"):
        reason = _keeps_running(builder, started_by)
        policy = _job_policy(restart)
        if reason is not None:
            builder.warn(f"restart {shown}: kept running by a Deployment, which starts its "
                         f"container again whenever it stops, since {reason}; if it is work "
                         f"that runs once, set restartPolicy: {policy}")
            return
        builder.spec["restartPolicy"] = policy
        builder.warn(f"restart {shown}: runs once, as a Job (restartPolicy {policy}), since "
                     "it serves no port and no service waits for it to start; the App is "
                     "Ready once its pod ran to success; set restartPolicy: Always if it "
                     "runs for good")
    if restart == "on-failure" and builder.spec.get("restartPolicy") == "OnFailure":
        tries = str(shown).partition(":")[2]
        if tries and tries != str(JOB_RETRIES):
            builder.warn(f"restart {shown}: a failed run is tried again up to {JOB_RETRIES} "
                         f"times (the Job's backoffLimit), not {tries}")


def _depends_on(builder: Builder, waits: Mapping[str, Mapping[str, Any]],
                builders: Mapping[str, Builder], every_service: Mapping[str, Any]) -> None:
    entries: list[dict[str, str]] = []
    for other, options in waits.items():
        condition = str(options.get("condition"))
        required = options.get("required", True) is not False
        if other not in builders:
            if other not in every_service:
                if required:
                    builder.refuse(f"depends_on {other}: the file has no service {other}")
                else:
                    builder.warn(f"depends_on {other} (required: false): the file has no "
                                 "such service; not waited for")
            # else a service left out by its profiles (compose_profiles says so, and refuses
            # it where it is required): nothing to wait for
            continue
        if condition not in CONDITIONS:
            builder.refuse(f"depends_on {other}: condition {condition!r} is not one of "
                           f"{', '.join(CONDITIONS)}")
            continue
        target = builders[other]
        wanted = CONDITIONS[condition]
        target_once = target.spec.get("restartPolicy", "Always") != "Always"
        if wanted == "Ready" and target_once:
            wanted = "Completed"
            builder.warn(f"depends_on {other} ({condition}): {other} runs once, and a run-once "
                         "App is Ready when it has completed: this App waits for that, "
                         "later than Compose would start it")
        elif condition == "service_healthy" and "probes" not in target.spec:
            builder.warn(f"depends_on {other} (service_healthy): {other} has no healthcheck "
                         "in the file (Compose uses its image's), so its App has no "
                         f"readiness probe and is Ready as soon as its pods run; add "
                         f"spec.probes.readiness to {target.name} for a real wait")
        if options.get("restart") is True:
            builder.warn(f"depends_on {other} restart: true: not translated (an App is not "
                         f"restarted when {target.name} is)")
        entries.append({"name": target.name, "condition": wanted})
    if entries:
        builder.spec["dependsOn"] = entries


def _cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle of the graph (service -> services it waits for), as a path, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node):], node]
        if node in done:
            return None
        for successor in graph.get(node, []):
            found = visit(successor, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for start in graph:
        found = visit(start, [])
        if found:
            return found
    return None


def _joined(name: str, services: Mapping[str, Mapping[str, Any]],
            folded: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """What the App of service `name` waits for: its own depends_on and its sidecars', a
    sidecar named as the App that holds it, and never the App itself."""
    waits: dict[str, dict[str, Any]] = {}
    for service in [name, *(s for s, owner in folded.items() if owner == name)]:
        for other, options in _waits(services[service]).items():
            other = folded.get(other, other)
            if other != name:
                waits.setdefault(other, dict(options))
    return waits


def plan_starts(builders: Mapping[str, Builder], services: Mapping[str, Mapping[str, Any]],
                every_service: Mapping[str, Any],
                folded: Mapping[str, str] | None = None) -> str | None:
    """Sets restartPolicy and dependsOn of each App (builders and services by service name,
    `every_service` the file's, profiles left out too; `folded` the services that became
    sidecars, with the service whose App holds them). Returns why the file is refused when
    the services wait for each other in a cycle (Compose refuses it; the Apps would never
    start), else None."""
    waits = {name: _joined(name, services, folded or {}) for name in builders}
    completed_by: dict[str, list[str]] = {}
    started_by: dict[str, list[str]] = {}
    for name, entries in waits.items():
        for other, options in entries.items():
            waiting = (completed_by if options.get("condition") ==
                       "service_completed_successfully" else started_by)
            waiting.setdefault(other, []).append(name)
    for name, builder in builders.items():
        _restart_policy(builder, services[name], completed_by.get(name, []),
                        started_by.get(name, []))
    for name, builder in builders.items():
        _depends_on(builder, waits[name], builders, every_service)
    cycle = _cycle({name: [o for o in entries if o in builders]
                    for name, entries in waits.items()})
    if cycle:
        return (f"depends_on: {' -> '.join(cycle)} wait for each other in a cycle; Compose "
                "refuses it too, and the Apps would never start: remove one of them")
    return None
