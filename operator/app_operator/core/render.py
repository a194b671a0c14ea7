"""The desired children of an App, as plain dicts ready for server-side apply.

Pure: the same App always renders to the same objects, with deterministic names
(`<app>` for the Deployment and the Service, `<app>-<volume>` for claims), stable selector
labels and a controller ownerReference (except on claims kept under volumeDeletionPolicy
Retain, which must outlive the App).

Claims record the uid of the App that made them. A claim that was kept (its App deleted
under Retain, or its volume removed from the spec) is marked as kept: an App that mounts it
again, even one of the same name under volumeDeletionPolicy Delete, never owns it, so
deleting that App never deletes the data. A volume with claimName mounts a claim the App
does not own at all (shared by several Apps): it is rendered into the pods only, never as a
child.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from app_operator.core import model
from app_operator.core.model import AppSpec

MANAGED_BY = "app-operator"
NAME_LABEL, INSTANCE_LABEL = model.SELECTOR_LABELS
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VOLUME_LABEL = f"{model.GROUP}/volume"
# Selects every object this operator made, of every App (the informers watch these).
CHILDREN_SELECTOR = f"{MANAGED_BY_LABEL}={MANAGED_BY}"
# The route kinds: an App's route is one or the other (route_kind).
INGRESS, HTTP_ROUTE = "Ingress", "HTTPRoute"
ROUTE_KINDS = (INGRESS, HTTP_ROUTE)
CHILD_KINDS = ("Deployment", "Job", "Service", "PersistentVolumeClaim", "ConfigMap",
               *ROUTE_KINDS)
# The kind that runs an App's pods: a Job for run-once work (restartPolicy OnFailure or
# Never), a Deployment otherwise; an App has one of the two, never both.
WORKLOAD_KINDS = ("Deployment", "Job")
# A Job whose pod stopped after a failed container, with restartPolicy OnFailure, is tried
# again this many times (Kubernetes' default); with Never it runs once, as compose's
# `restart: "no"` does.
JOB_BACKOFF_LIMIT = {"OnFailure": 6, "Never": 0}
# What the operator watches: its children, and the pods of its Deployments (read only, for
# the reasons pods do not run: an image that cannot be pulled, a crash, no room to schedule).
# HTTPRoutes only once the Gateway API CRDs are found in the cluster (runtime/discovery.py).
WATCHED_KINDS = (*(k for k in CHILD_KINDS if k != HTTP_ROUTE), "Pod")
HASH_ANNOTATION = f"{model.GROUP}/desired-hash"
# On the pod template: a hash of the inline files, so that new content restarts the pods.
FILES_HASH_ANNOTATION = f"{model.GROUP}/files-hash"
# On claims: the uid of the App that created the claim, and the mark of a kept claim.
APP_UID_ANNOTATION = f"{model.GROUP}/app-uid"
KEPT_ANNOTATION = f"{model.GROUP}/kept"


@dataclass(frozen=True)
class AppRef:
    """The identity of an App: enough to name, label and own its children."""

    name: str
    namespace: str
    uid: str

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> AppRef:
        meta = body["metadata"]
        return cls(name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])


@dataclass(frozen=True)
class Desired:
    """Everything an App renders to. `service` is None when the App has no ports; one of
    `deployment` and `job` is None (see WORKLOAD_KINDS)."""

    deployment: dict[str, Any] | None
    service: dict[str, Any] | None
    claims: list[dict[str, Any]] = field(default_factory=list)
    config_map: dict[str, Any] | None = None  # the inline files, when there are any
    job: dict[str, Any] | None = None
    route: dict[str, Any] | None = None  # the HTTPRoute or Ingress, when the App has a route

    @property
    def workload(self) -> dict[str, Any]:
        """The Deployment or the Job."""
        workload = self.deployment if self.deployment is not None else self.job
        assert workload is not None  # render_all renders one of the two
        return workload

    def objects(self) -> list[dict[str, Any]]:
        """In the order they are applied: what the pods mount before the pods, the Service
        before the route that sends traffic to it, and the workload last: a reconcile that
        finds a name of the App taken removes what it had just made (reconcile._undo), which
        no pod has used only if the pods' Deployment or Job is made after everything else."""
        return [obj for obj in (*self.claims, self.config_map, self.service, self.route,
                                self.deployment, self.job) if obj is not None]


def selector_labels(app: AppRef) -> dict[str, str]:
    return {NAME_LABEL: app.name, INSTANCE_LABEL: app.name}


def child_labels(app: AppRef) -> dict[str, str]:
    return {**selector_labels(app), MANAGED_BY_LABEL: MANAGED_BY}


def label_selector(app: AppRef) -> str:
    """The pods' selector in the string form used by the scale subresource."""
    return ",".join(f"{key}={value}" for key, value in selector_labels(app).items())


def owner_reference(app: AppRef) -> dict[str, Any]:
    return {
        "apiVersion": model.API_VERSION,
        "kind": model.KIND,
        "name": app.name,
        "uid": app.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def claim_name(app: AppRef, volume_name: str) -> str:
    """The name of the claim the App owns for a volume (not for a shared one)."""
    return f"{app.name}-{volume_name}"


def mounted_claim(app: AppRef, volume: model.Volume) -> str:
    """The claim a volume mounts: the shared one it names, else the App's own."""
    return volume.claim_name or claim_name(app, volume.name)


def shared_claims(spec: AppSpec) -> dict[str, str]:
    """Volume name -> the claim it mounts without owning it (claimName)."""
    return {v.name: v.claim_name for v in spec.volumes or [] if v.claim_name is not None}


def files_config_map_name(app: AppRef) -> str:
    return f"{app.name}-files"


def file_key(index: int, file: model.File) -> str:
    """The file's key in the ConfigMap and its path in the files volume: its position (unique)
    and its base name (readable), in the characters a ConfigMap key allows."""
    base = re.sub(r"[^-._a-zA-Z0-9]", "_", file.mount_path.rsplit("/", 1)[-1])
    return f"{index}-{base}"[:253]


def _metadata(app: AppRef, name: str, owned: bool = True, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": app.namespace, "labels": child_labels(app)}
    if owned:
        meta["ownerReferences"] = [owner_reference(app)]
    meta.update({key: value for key, value in extra.items() if value})
    return meta


def compact(value: Any) -> Any:
    """The value without empty strings, maps and lists, which the API server drops from
    fields it omits when empty (`value: ""` in an env entry, `requests: {}`): sent as they
    are, the stored object would never look like the desired one, and every reconcile would
    write. Only for structs: in a map of user data (labels, annotations, a ConfigMap's data)
    an empty value is kept by the API server and means something."""
    if isinstance(value, dict):
        kept = {key: compact(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ("", {}, [])}
    if isinstance(value, list):
        return [compact(item) for item in value]
    return value


def with_desired_hash(obj: dict[str, Any]) -> dict[str, Any]:
    """Stamp an object with a hash of itself, so a later reconcile can tell that applying it
    again would change nothing (see drift.needs_apply)."""
    digest = hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
    meta = obj["metadata"]
    return {**obj, "metadata": {**meta, "annotations": {
        **meta.get("annotations", {}), HASH_ANNOTATION: digest}}}


def _uses_single_node_volume(spec: AppSpec) -> bool:
    """A volume that may be usable by pods of one node only: the App's own ReadWriteOnce
    claims, and shared claims, whose access mode the App does not know."""
    return any(v.shared or v.mode in model.SINGLE_NODE_ACCESS_MODES for v in spec.volumes or [])


def render_strategy(spec: AppSpec) -> dict[str, Any]:
    kind = spec.strategy
    if kind == "Auto":
        kind = "Recreate" if _uses_single_node_volume(spec) else "RollingUpdate"
    if kind == "Recreate":
        return {"type": "Recreate"}
    # Owned explicitly, so that a later switch to Recreate removes them.
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}


def render_pod_security(spec: AppSpec) -> dict[str, Any]:
    context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
    if spec.security_profile == "restricted":
        context["runAsNonRoot"] = True
    for key, value in (("runAsUser", spec.run_as_user), ("runAsGroup", spec.run_as_group),
                       ("fsGroup", spec.fs_group)):
        if value is not None:
            context[key] = value
    return context


def render_container_security(spec: AppSpec) -> dict[str, Any]:
    context: dict[str, Any] = {"allowPrivilegeEscalation": False, "privileged": False}
    if spec.security_profile == "restricted":
        context["capabilities"] = {"drop": ["ALL"]}
        context["runAsNonRoot"] = True
    return context


def render_mount(volume: model.Volume) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": volume.name, "mountPath": volume.mount_path}
    if volume.read_only:
        mount["readOnly"] = True
    return mount


def render_file_mounts(spec: AppSpec) -> list[dict[str, Any]]:
    return [{"name": model.FILES_VOLUME, "mountPath": f.mount_path, "subPath": file_key(i, f),
             "readOnly": True} for i, f in enumerate(spec.files or [])]


def render_files_volume(app: AppRef, spec: AppSpec) -> dict[str, Any] | None:
    """One projected volume holds every file; each is mounted on its own path (subPath)."""
    if not spec.files:
        return None
    sources = []
    for index, file in enumerate(spec.files):
        item: dict[str, Any] = {"path": file_key(index, file)}
        if file.mode is not None:
            item["mode"] = file.mode
        if file.content is not None:
            sources.append({"configMap": {"name": files_config_map_name(app),
                                          "items": [{**item, "key": file_key(index, file)}]}})
        elif file.config_map is not None:
            sources.append({"configMap": {"name": file.config_map.name,
                                          "items": [{**item, "key": file.config_map.key}]}})
        elif file.secret is not None:
            sources.append({"secret": {"name": file.secret.name,
                                       "items": [{**item, "key": file.secret.key}]}})
    return {"name": model.FILES_VOLUME, "projected": {"defaultMode": 0o644, "sources": sources}}


def _inline_files(spec: AppSpec) -> dict[str, str]:
    return {file_key(i, f): f.content for i, f in enumerate(spec.files or [])
            if f.content is not None}


def render_config_map(app: AppRef, spec: AppSpec) -> dict[str, Any] | None:
    """The inline files' content, owned by the App."""
    data = _inline_files(spec)
    if not data:
        return None
    return with_desired_hash({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": _metadata(app, files_config_map_name(app)),
        "data": data,
    })


def _process(source: AppSpec | model.Sidecar) -> dict[str, Any]:
    """What the App's container and a sidecar both say of the process they run."""
    return {
        "imagePullPolicy": source.image_pull_policy,
        "command": source.command,
        "args": source.args,
        "workingDir": source.working_dir,
        "env": [e.to_dict() for e in source.env or []],
        "envFrom": [e.to_dict() for e in source.env_from or []],
    }


def render_container(app: AppRef, spec: AppSpec) -> dict[str, Any]:
    container: dict[str, Any] = {"name": app.name, "image": spec.image}
    optional: dict[str, Any] = {
        **_process(spec),
        "ports": [
            {"name": name, "containerPort": p.container_port, "protocol": p.protocol}
            for p, name in zip(spec.ports or [], spec.port_names(), strict=True)
        ],
        "resources": spec.resources.to_dict() if spec.resources else None,
        "volumeMounts": [render_mount(v) for v in spec.volumes or []]
        + render_file_mounts(spec),
    }
    for kind, probe in spec.probe_items():
        optional[f"{kind}Probe"] = probe.to_dict()
    container.update({key: value for key, value in optional.items() if value})
    container["securityContext"] = render_container_security(spec)
    result: dict[str, Any] = compact(container)
    return result


def render_sidecar(spec: AppSpec, sidecar: model.Sidecar) -> dict[str, Any]:
    """A native sidecar: an init container that keeps running (restartPolicy Always), so it
    starts before the main container and stops after it, with the main container's
    security settings."""
    container: dict[str, Any] = {"name": sidecar.name, "image": sidecar.image,
                                 "restartPolicy": "Always"}
    optional: dict[str, Any] = {
        **_process(sidecar),
        "resources": sidecar.resources.to_dict() if sidecar.resources else None,
        "volumeMounts": [{"name": m.name, "mountPath": m.mount_path,
                          **({"readOnly": True} if m.read_only else {})}
                         for m in sidecar.volume_mounts or []],
    }
    container.update({key: value for key, value in optional.items() if value})
    container["securityContext"] = render_container_security(spec)
    result: dict[str, Any] = compact(container)
    return result


def render_pod_template(app: AppRef, spec: AppSpec) -> dict[str, Any]:
    """The pods of the App, the same under a Deployment or a Job."""
    pod_labels = {**(spec.pod_labels or {}), **child_labels(app)}
    template_meta: dict[str, Any] = {"labels": pod_labels}
    annotations = dict(spec.pod_annotations or {})
    inline = _inline_files(spec)
    if inline:
        annotations[FILES_HASH_ANNOTATION] = hashlib.sha256(
            json.dumps(inline, sort_keys=True).encode()).hexdigest()[:16]
    if annotations:
        template_meta["annotations"] = annotations
    pod_spec: dict[str, Any] = {
        # Apps never talk to the Kubernetes API, and service links clash with the
        # environment variables of many images (e.g. FLASK_PORT from a Service named flask).
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": render_pod_security(spec),
        "containers": [render_container(app, spec)],
    }
    if spec.sidecars:
        pod_spec["initContainers"] = [render_sidecar(spec, c) for c in spec.sidecars]
    if spec.image_pull_secrets:
        pod_spec["imagePullSecrets"] = [{"name": name} for name in spec.image_pull_secrets]
    volumes = [
        {"name": v.name, "persistentVolumeClaim": {"claimName": mounted_claim(app, v)}}
        for v in spec.volumes or []
    ]
    files = render_files_volume(app, spec)
    if files is not None:
        volumes.append(files)
    if volumes:
        pod_spec["volumes"] = volumes
    if spec.run_once:
        pod_spec["restartPolicy"] = spec.restart_policy
    return {"metadata": template_meta, "spec": pod_spec}


def render_deployment(app: AppRef, spec: AppSpec, held: bool = False) -> dict[str, Any]:
    """`held`: kept at 0 replicas while the App waits for its dependencies (dependsOn)."""
    return with_desired_hash({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(app, app.name),
        "spec": {
            "replicas": 0 if held else spec.effective_replicas,
            "selector": {"matchLabels": selector_labels(app)},
            "strategy": render_strategy(spec),
            "template": render_pod_template(app, spec),
        },
    })


def render_job(app: AppRef, spec: AppSpec, held: bool = False) -> dict[str, Any]:
    """Run-once work: one pod to completion. Suspended (its pod stopped, or never started)
    while the App is suspended, scaled to 0, or waits for its dependencies (`held`). The
    Job's selector is the API server's (its own uid label): a Job's pods are never another
    Job's. Its template cannot change: the reconciler replaces the Job when it differs."""
    return with_desired_hash({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata(app, app.name),
        "spec": {
            "backoffLimit": JOB_BACKOFF_LIMIT[spec.restart_policy],
            "suspend": held or spec.effective_replicas == 0,
            "template": render_pod_template(app, spec),
        },
    })


def render_service(app: AppRef, spec: AppSpec) -> dict[str, Any] | None:
    if not spec.ports:
        return None
    service_type = spec.service.type if spec.service else "ClusterIP"
    ports = []
    for port, name in zip(spec.ports, spec.port_names(), strict=True):
        entry: dict[str, Any] = {
            "name": name,
            "port": port.service_port or port.container_port,
            "targetPort": name,
            "protocol": port.protocol,
        }
        if port.app_protocol is not None:
            # Only what the App says: a guess here would override a mesh's own detection.
            entry["appProtocol"] = port.app_protocol
        if port.node_port is not None:
            entry["nodePort"] = port.node_port
        ports.append(entry)
    annotations = dict(spec.service.annotations or {}) if spec.service else {}
    return with_desired_hash({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(app, app.name, annotations=annotations),
        "spec": {"type": service_type, "selector": selector_labels(app), "ports": ports},
    })


def is_kept_claim(claim: dict[str, Any], app: AppRef) -> bool:
    """Whether a claim of this App's name is one that was kept: marked so, or made by another
    App (of the same name, since deleted) and not owned by this one. A claim of ours without
    the uid of its maker (made by an older version of the operator) that this App does not
    own counts as kept too: when in doubt, data is kept."""
    meta = claim.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    if annotations.get(KEPT_ANNOTATION) == "true":
        return True
    if any(ref.get("uid") == app.uid for ref in meta.get("ownerReferences") or []):
        return False
    return annotations.get(APP_UID_ANNOTATION) != app.uid


def render_claims(app: AppRef, spec: AppSpec,
                  kept: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One claim per volume the App owns; none for a shared one (claimName), which the
    operator never writes. `kept` names claims that exist and were kept (is_kept_claim):
    they are mounted again but never owned."""
    claims = []
    for volume in spec.volumes or []:
        if volume.shared:
            continue
        name = claim_name(app, volume.name)
        owned = spec.volume_deletion_policy == "Delete" and name not in kept
        annotations = {KEPT_ANNOTATION: "true"} if name in kept else {APP_UID_ANNOTATION: app.uid}
        meta = _metadata(app, name, owned=owned, annotations=annotations)
        meta["labels"] = {**meta["labels"], VOLUME_LABEL: volume.name}
        claim_spec: dict[str, Any] = {
            "accessModes": [volume.mode],
            "resources": {"requests": {"storage": volume.storage_size}},
        }
        if volume.storage_class_name is not None:
            claim_spec["storageClassName"] = volume.storage_class_name
        claims.append(with_desired_hash({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
            "spec": claim_spec,
        }))
    return claims


def route_kind(spec: AppSpec, gateway_api: bool) -> str | None:
    """Which object serves the App's route: an HTTPRoute when it names a Gateway, an Ingress
    when it names an ingress class or no parent at all; None without a route, and None for
    a Gateway while the Gateway API CRDs are not installed (the App waits for them: an
    Ingress in its place would bypass the Gateway the author chose)."""
    route = spec.route
    if route is None:
        return None
    if route.parent is not None and route.parent.gateway is not None:
        return HTTP_ROUTE if gateway_api else None
    return INGRESS


def route_backend(spec: AppSpec) -> int | None:
    """The Service port the route sends traffic to (model.AppSpec.route_port)."""
    found = spec.route_port()
    if found is None:
        return None
    port, _name = found
    return port.service_port or port.container_port


def tls_secret_name(app: AppRef, spec: AppSpec) -> str | None:
    """The Secret an Ingress's TLS names: the App's, or `<app>-tls` for cert-manager."""
    tls = spec.route.tls if spec.route else None
    if tls is None:
        return None
    if tls.secret_name is not None:
        return tls.secret_name
    return f"{app.name}-tls" if tls.issuer or tls.cluster_issuer else None


def render_http_route(app: AppRef, spec: AppSpec) -> dict[str, Any] | None:
    """An HTTPRoute to the App's Service, attached to the Gateway the App names. The fields
    the API server defaults (a parentRef's group and kind, a backendRef's weight) are
    written out, so that what is applied is what is stored."""
    route, port = spec.route, route_backend(spec)
    if route is None or route.parent is None or route.parent.gateway is None or port is None:
        return None
    gateway = route.parent.gateway
    parent: dict[str, Any] = {"group": model.GATEWAY_GROUP, "kind": "Gateway",
                              "name": gateway.name}
    if gateway.namespace is not None:
        parent["namespace"] = gateway.namespace
    if gateway.section_name is not None:
        parent["sectionName"] = gateway.section_name
    return with_desired_hash({
        "apiVersion": f"{model.GATEWAY_GROUP}/v1", "kind": HTTP_ROUTE,
        "metadata": _metadata(app, app.name),
        "spec": {
            "parentRefs": [parent],
            "hostnames": list(route.hosts),
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": path}}
                            for path in route.paths],
                "backendRefs": [{"group": "", "kind": "Service", "name": app.name,
                                 "port": port, "weight": 1}],
            }],
        },
    })


def render_ingress(app: AppRef, spec: AppSpec) -> dict[str, Any] | None:
    """An Ingress to the App's Service: one rule per host, one Prefix path per path; TLS
    from the App's Secret, issued by cert-manager when the App names an issuer."""
    route, port = spec.route, route_backend(spec)
    if route is None or port is None:
        return None
    backend = {"service": {"name": app.name, "port": {"number": port}}}
    paths = [{"path": path, "pathType": "Prefix", "backend": backend} for path in route.paths]
    ingress_spec: dict[str, Any] = {
        "rules": [{"host": host, "http": {"paths": paths}} for host in route.hosts]}
    if route.parent is not None and route.parent.ingress_class_name is not None:
        ingress_spec["ingressClassName"] = route.parent.ingress_class_name
    annotations: dict[str, str] = {}
    if route.tls is not None:
        tls: dict[str, Any] = {"hosts": list(route.hosts)}
        secret = tls_secret_name(app, spec)
        if secret is not None:
            tls["secretName"] = secret
        ingress_spec["tls"] = [tls]
        if route.tls.issuer is not None:
            annotations[model.CERT_MANAGER_ISSUER] = route.tls.issuer
        if route.tls.cluster_issuer is not None:
            annotations[model.CERT_MANAGER_CLUSTER_ISSUER] = route.tls.cluster_issuer
    return with_desired_hash({
        "apiVersion": "networking.k8s.io/v1", "kind": INGRESS,
        "metadata": _metadata(app, app.name, annotations=annotations),
        "spec": ingress_spec,
    })


def render_route(app: AppRef, spec: AppSpec, gateway_api: bool) -> dict[str, Any] | None:
    kind = route_kind(spec, gateway_api)
    if kind == HTTP_ROUTE:
        return render_http_route(app, spec)
    if kind == INGRESS:
        return render_ingress(app, spec)
    return None


def route_hosts(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """The (host, path prefix) pairs an HTTPRoute or Ingress serves, read from the object
    (another App's, for the conflict check); a path is without its trailing `/`, since
    `/api` and `/api/` route the same requests to the same place as far as a person is
    concerned."""
    spec = obj.get("spec") or {}
    pairs: list[tuple[str, str]] = []
    if obj.get("kind") == HTTP_ROUTE:
        paths = [str(((m.get("path") or {}).get("value")) or "/")
                 for rule in spec.get("rules") or [] for m in rule.get("matches") or [{}]]
        for host in spec.get("hostnames") or []:
            pairs.extend((str(host), path) for path in paths or ["/"])
    elif obj.get("kind") == INGRESS:
        for rule in spec.get("rules") or []:
            host = rule.get("host")
            if host:
                pairs.extend((str(host), str(p.get("path") or "/"))
                             for p in (rule.get("http") or {}).get("paths") or [])
    return sorted({(host, _path_key(path)) for host, path in pairs})


def _path_key(path: str) -> str:
    return path.rstrip("/") or "/"


def wanted_hosts(spec: AppSpec) -> list[tuple[str, str]]:
    """The (host, path prefix) pairs the App's route asks for, as route_hosts reads them."""
    if spec.route is None:
        return []
    return sorted({(host, _path_key(path)) for host in spec.route.hosts
                   for path in spec.route.paths})


def render_all(app: AppRef, spec: AppSpec, kept: frozenset[str] = frozenset(),
               held: bool = False, gateway_api: bool = False) -> Desired:
    """`held`: the App waits for its dependencies (dependsOn); `gateway_api`: whether the
    cluster has the Gateway API CRDs (runtime discovery)."""
    return Desired(
        deployment=None if spec.run_once else render_deployment(app, spec, held),
        job=render_job(app, spec, held) if spec.run_once else None,
        service=render_service(app, spec),
        claims=render_claims(app, spec, kept),
        config_map=render_config_map(app, spec),
        route=render_route(app, spec, gateway_api),
    )
