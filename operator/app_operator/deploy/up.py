"""Apply a project's objects: each labelled as the project's, claims and other objects
before the Apps that mount or wait for them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app_operator.core import model
from app_operator.deploy import project as projects
from app_operator.deploy.cluster import Cluster
from app_operator.runtime.kube import KubeError

Obj = dict[str, Any]
APP_API_VERSION = model.API_VERSION


def describe(obj: Obj) -> str:
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"


@dataclass
class Applied:
    """What `up` applied, what the API server refused (with its reason), and the Apps of
    the project already in the namespace that the file no longer has."""

    objects: list[Obj] = field(default_factory=list)
    refused: list[tuple[str, KubeError]] = field(default_factory=list)
    strays: list[str] = field(default_factory=list)

    @property
    def apps(self) -> list[str]:
        return [o["metadata"]["name"] for o in self.objects if o.get("kind") == model.KIND]


def older_schema(error: KubeError) -> bool:
    """Server-side apply of a field the CRD does not declare: the API server answers 500
    (it cannot build the typed patch), but nothing will change by retrying: the CRD in the
    cluster is older than the converter that wrote the field."""
    return error.status == 500 and "field not declared in schema" in error.message


def apply_order(objects: Iterable[Obj]) -> list[Obj]:
    """Apps last: a claim an App mounts exists before the App, so the operator never sees
    an App whose claim is missing. Otherwise the converter's order."""
    listed = list(objects)
    return ([o for o in listed if o.get("kind") != model.KIND]
            + [o for o in listed if o.get("kind") == model.KIND])


def apply_project(cluster: Cluster, objects: Iterable[Obj], project: str) -> Applied:
    """Apply every object that can be applied; one the API server refuses is reported, it
    does not hold back the others. A transient error (no answer, a server error) raises."""
    result = Applied()
    for obj in apply_order(objects):
        try:
            result.objects.append(cluster.apply(
                projects.labelled(obj, project, cluster.namespace)))
        except KubeError as error:
            if older_schema(error):
                error = KubeError(error.status, error.reason, f"{error.message}; the "
                                  f"cluster's {obj.get('kind')} schema is older than this "
                                  "app-operator: update the CRD (`app-operator crd | kubectl "
                                  "apply --server-side -f -`) and the operator")
            elif error.transient:
                raise
            result.refused.append((describe(obj), error))
    names = {o["metadata"]["name"] for o in objects_of_kind(result.objects, model.KIND)}
    names |= {name.split(" ", 1)[1] for name, _ in result.refused if name.startswith("App ")}
    result.strays = sorted(
        a["metadata"]["name"]
        for a in cluster.list(APP_API_VERSION, model.KIND, projects.selector(project))
        if a["metadata"]["name"] not in names)
    return result


def objects_of_kind(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o.get("kind") == kind]
