"""Volumes that several services mount: one claim they share, not one empty claim each.

Under Compose a named volume (or a directory Docker creates for a bind mount) is one place on
the host that every service mounting it sees. An App's own volumes are claims named after the
App, so converting each service on its own splits the data: the web server serves files the
app never wrote. Here such a volume becomes ONE PersistentVolumeClaim, emitted as its own
document beside the Apps and labelled as app-operator's, that each App mounts by `claimName`.
No App owns it, so deleting any of them (or all) never deletes the data.

Access mode: ReadWriteOnce, with a warning that the pods must share a node. It is what every
StorageClass offers (kind's and k3s's local-path, cloud block disks); node-bound storage such
as local-path puts the pods on the claim's node by itself, and a one-node cluster has nothing
else. ReadWriteMany needs a StorageClass that supports it (NFS, CephFS, EFS, Azure Files):
without one the claim stays Pending and no App starts, a worse default than a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app_operator.convert.builder import Builder
from app_operator.convert.mounts import DEFAULT_SIZE
from app_operator.convert.values import dns_label
from app_operator.core.render import KEPT_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, VOLUME_LABEL

PART_OF_LABEL = "app.kubernetes.io/part-of"
SHARED_ACCESS_MODE = "ReadWriteOnce"


def share_volumes(builders: Mapping[str, Builder], declared: Mapping[str, Any],
                  project_name: str | None, namespace: str | None,
                  warnings: list[str]) -> list[dict[str, Any]]:
    """Mount every volume used by more than one App from one claim; return the claims to
    create (none for an `external` volume, which must exist)."""
    users: dict[str, list[tuple[Builder, dict[str, Any]]]] = {}
    for builder in builders.values():
        for volume in builder.volumes:
            key = builder.volume_keys.get(volume["name"])
            if key is not None:
                users.setdefault(key, []).append((builder, volume))
    claims = []
    for key, mounts in users.items():
        apps = sorted({builder.name for builder, _ in mounts})
        if len(apps) < 2:
            continue
        kind, _, source = key.partition(":")
        definition = (declared.get(source) or {}) if kind == "volume" else {}
        claim = _claim_name(source, definition, project_name)
        for _, volume in mounts:
            volume.pop("accessMode", None)  # the claim's, not the mount's
            volume["claimName"] = claim
        what = f"volume {source}" if kind == "volume" else f"directory ./{source}"
        if definition.get("external"):
            warnings.append(f"{what} is external and mounted by {', '.join(apps)}: each mounts "
                            f"the claim {claim}, which must exist in the Apps' namespace")
            continue
        claims.append(_claim(claim, source, project_name, namespace))
        warnings.append(
            f"{what} is mounted by {', '.join(apps)}: they share one claim, {claim} "
            f"({DEFAULT_SIZE}, {SHARED_ACCESS_MODE}), written beside the Apps; no App owns it, "
            "so deleting the Apps keeps the data. ReadWriteOnce: their pods must run on one "
            "node, as they do on a one-node cluster or with node-bound storage such as "
            "local-path; across nodes, set its accessModes to [ReadWriteMany] with a "
            "StorageClass that supports it")
    return claims


def _claim_name(source: str, definition: Mapping[str, Any], project_name: str | None) -> str:
    """Compose's own name for the volume: its `name:` as written, else `<project>_<volume>`
    (with `-`, as Kubernetes names need)."""
    if definition.get("name"):
        return dns_label(str(definition["name"]), "volume name")
    return dns_label(f"{project_name}-{source}" if project_name else source, "volume")


def _claim(name: str, source: str, project_name: str | None,
           namespace: str | None) -> dict[str, Any]:
    labels = {MANAGED_BY_LABEL: MANAGED_BY, VOLUME_LABEL: dns_label(source, "volume")}
    if project_name:
        labels[PART_OF_LABEL] = dns_label(project_name, "project name")
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    # The kept mark: an App whose own claim had this name would mount it, never own it.
    metadata.update(labels=labels, annotations={KEPT_ANNOTATION: "true"})
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata,
            "spec": {"accessModes": [SHARED_ACCESS_MODE],
                     "resources": {"requests": {"storage": DEFAULT_SIZE}}}}
