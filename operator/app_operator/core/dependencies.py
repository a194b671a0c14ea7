"""Whether an App may start yet: its `dependsOn`, judged on the other Apps' statuses. Pure.

Compose starts a service once the services it `depends_on` are healthy (or, for one-shot
work, completed); an App does the same with its Deployment, held at 0 replicas, or its Job,
suspended, until each App it names is Ready (or Completed). Only the start
waits. An App whose Deployment runs already (more than 0 replicas) is never stopped because
a dependency stopped being Ready: a database rolling out a new version would otherwise take
every App that uses it down with it.

The other Apps are read through a lookup (the operator's App store): this module never asks
the API server anything, and is tested on plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app_operator.core.conditions import condition_of
from app_operator.core.model import AppSpec

WAITING_FOR_DEPENDENCY = "WaitingForDependency"
DEPENDENCY_CYCLE = "DependencyCycle"
# Ready reasons of an App that is Ready but serves nothing: not what a dependent waits for.
_IDLE_REASONS = {"Suspended": "suspended", "ScaledToZero": "scaled to 0"}
_DETAIL_LIMIT = 200

# An App's body (as the API server has it) by name, in the namespace of the App asking.
Lookup = Callable[[str], dict[str, Any] | None]


@dataclass(frozen=True)
class Hold:
    """Why the App may not start: a status reason and message, whether only a person can end
    it (a cycle: Stalled), and whether its Deployment is kept at 0 replicas (not when it runs
    already: only the start waits)."""

    reason: str
    message: str
    stalled: bool = False
    replicas_held: bool = True


def declared(body: dict[str, Any]) -> list[str]:
    """The names an App's spec lists in dependsOn, read from its body as stored (which the
    CRD's schema has checked), without parsing the whole spec."""
    entries = (body.get("spec") or {}).get("dependsOn") or []
    return [str(e["name"]) for e in entries if isinstance(e, dict) and e.get("name")]


def why_unmet(name: str, condition: str, body: dict[str, Any] | None) -> str | None:
    """What keeps the App `name` from meeting `condition`, in words for the status; None when
    it meets it. Its condition counts only for its current spec (observedGeneration)."""
    if body is None:
        return f"App {name} does not exist"
    meta = body.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return f"App {name} is being deleted"
    found = condition_of(body, condition)
    current = found.get("observedGeneration") == meta.get("generation")
    if found.get("status") != "True" or not current:
        said = f"{found.get('reason')}: {found.get('message')}" if found else "no status yet"
        if not found and (body.get("status") or {}).get("conditions"):
            said = f"it has no {condition} condition" + (
                "; only run-once Apps (restartPolicy OnFailure or Never) complete"
                if condition == "Completed" else "")
        if found.get("status") == "True":
            said = "its current spec is not reconciled yet"
        if len(said) > _DETAIL_LIMIT:
            said = said[: _DETAIL_LIMIT - 3] + "..."
        return f"App {name} is not {condition} ({said})"
    idle = _IDLE_REASONS.get(str(found.get("reason")))
    if condition == "Ready" and idle is not None:
        return f"App {name} is {idle}"
    return None


def find_cycle(name: str, spec: AppSpec, lookup: Lookup) -> list[str] | None:
    """A cycle of dependsOn through the App `name` (`[web, db, web]`), or None. Depth first
    over the Apps the lookup knows, each visited once; a cycle that does not pass through
    this App is its members' to report."""
    start = [d.name for d in spec.depends_on or []]
    parent: dict[str, str] = {}
    stack = [(dependency, name) for dependency in reversed(start)]
    while stack:
        current, via = stack.pop()
        if current == name:
            path = [via]
            while path[-1] != name:
                path.append(parent[path[-1]])
            return [*reversed(path), name]
        if current in parent:
            continue
        parent[current] = via
        body = lookup(current)
        if body is not None:
            stack.extend((following, current) for following in reversed(declared(body)))
    return None


def _started(workload: dict[str, Any]) -> bool:
    """A Deployment with replicas, or a Job not suspended: its pods were let run."""
    workload_spec = workload.get("spec") or {}
    if workload.get("kind") == "Job":
        return workload_spec.get("suspend") is not True
    return int(workload_spec.get("replicas") or 0) > 0


def hold(name: str, spec: AppSpec, lookup: Lookup,
         deployment: dict[str, Any] | None) -> Hold | None:
    """Why the App `name` may not start yet, or None: it has no dependsOn, is scaled to 0
    anyway, runs already (`deployment`, its workload: a Deployment with replicas, a Job not
    suspended), or every dependency is met. A cycle
    is reported also when the App runs already (its pods are left running)."""
    if not spec.depends_on or spec.effective_replicas == 0:
        return None
    started = deployment is not None and _started(deployment)
    cycle = find_cycle(name, spec, lookup)
    if cycle is not None:
        return Hold(DEPENDENCY_CYCLE, "dependsOn forms a cycle: " + " -> ".join(cycle)
                    + "; none of these Apps can start until one of them no longer depends "
                    "on the next", stalled=True, replicas_held=not started)
    if started:
        return None  # only the start waits
    unmet = [reason for d in spec.depends_on
             if (reason := why_unmet(d.name, d.condition, lookup(d.name))) is not None]
    if not unmet:
        return None
    return Hold(WAITING_FOR_DEPENDENCY, "waiting for its dependencies (dependsOn) before it "
                "starts, at 0 replicas: " + "; ".join(unmet))
