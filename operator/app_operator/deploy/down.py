"""Remove what `up` applied: the project's Apps (their Deployments and Services go with
them, by the garbage collector) and the other objects `up` labelled. Claims hold data: they
are kept unless asked (`--volumes`, as `docker compose down -v`), and said so.

Kept claims are labelled as the project's, so that a later `down --volumes`, from any
machine, still finds them once their Apps are gone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app_operator.core import model, render
from app_operator.deploy import project as projects
from app_operator.deploy.cluster import Cluster, ClusterError
from app_operator.runtime.kube import KubeError

Obj = dict[str, Any]
CLAIM = ("v1", "PersistentVolumeClaim")
# The kinds the converter emits besides Apps and claims: `down` looks for the project's
# objects of these kinds (a kind the cluster does not serve is skipped).
OTHER_KINDS = (("batch/v1", "Job"), ("v1", "ConfigMap"), ("v1", "Secret"))


@dataclass
class Removal:
    deleted: list[str] = field(default_factory=list)
    """Objects deleted, as `Kind name`."""
    kept_claims: list[str] = field(default_factory=list)
    """Claims left in place, with their data."""
    deleted_claims: list[str] = field(default_factory=list)
    """Claims deleted (--volumes), or going with their App (volumeDeletionPolicy Delete)."""
    skipped: list[str] = field(default_factory=list)
    """Kinds that could not be looked at, and why."""


def _owner_uids(obj: Obj) -> set[str]:
    return {str(r.get("uid")) for r in (obj["metadata"].get("ownerReferences") or [])
            if r.get("controller")}


def _listed(cluster: Cluster, api_version: str, kind: str, selector: str,
            removal: Removal) -> list[Obj]:
    try:
        return cluster.list(api_version, kind, selector)
    except ClusterError:
        return []  # a kind this cluster does not serve: up cannot have applied any
    except KubeError as error:
        if error.transient:
            raise
        removal.skipped.append(f"{kind}: {error.message}")
        return []


def remove_project(cluster: Cluster, project: str, volumes: bool = False) -> Removal:
    removal = Removal()
    selector = projects.selector(project)
    apps = cluster.list(model.API_VERSION, model.KIND, selector)
    gone_uids = set()
    for app in sorted(apps, key=lambda a: a["metadata"]["name"]):
        if cluster.delete(app):
            removal.deleted.append(f"App {app['metadata']['name']}")
        gone_uids.add(app["metadata"]["uid"])
    for api_version, kind in OTHER_KINDS:
        for obj in _listed(cluster, api_version, kind, selector, removal):
            if cluster.delete(obj):
                removal.deleted.append(f"{kind} {obj['metadata']['name']}")
    claims = {c["metadata"]["name"]: c for c in _listed(cluster, *CLAIM, selector, removal)}
    if apps:
        names = ",".join(sorted(a["metadata"]["name"] for a in apps))
        made = (f"{render.MANAGED_BY_LABEL}={render.MANAGED_BY},"
                f"{render.INSTANCE_LABEL} in ({names})")
        for claim in _listed(cluster, *CLAIM, made, removal):
            claims.setdefault(claim["metadata"]["name"], claim)
    for name, claim in sorted(claims.items()):
        if _owner_uids(claim) & gone_uids:
            removal.deleted_claims.append(name)  # the garbage collector deletes it
        elif volumes:
            cluster.delete(claim)
            removal.deleted_claims.append(name)
        else:
            removal.kept_claims.append(name)
            if (claim["metadata"].get("labels") or {}).get(projects.PROJECT_LABEL) != project:
                cluster.label(claim, {projects.PROJECT_LABEL: project})
    return removal
