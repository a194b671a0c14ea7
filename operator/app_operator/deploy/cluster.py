"""The cluster of a kubeconfig context, as `up` and `down` need it: apply, list and delete
objects of any kind in one namespace.

Requests go through the operator's own client (runtime/kube.py: the official client's
connection, authentication and TLS, plain JSON), under the field manager
`app-operator-cli`. Kinds are resolved by the API server's discovery, so whatever the
converter emits (Apps, claims, Jobs...) is applied without a table to keep up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from kubernetes import config as _config

from app_operator.deploy.project import FIELD_MANAGER
from app_operator.runtime.kube import Kube, KubeError, apply_body

Obj = dict[str, Any]
# The kubernetes client's kubeconfig functions carry no annotations.
config: Any = _config


class ClusterError(Exception):
    """The cluster cannot be reached or used as asked; the message says what to do."""


class Cluster(Protocol):
    """What `up` and `down` ask of a cluster (the tests' fake implements it too)."""

    namespace: str

    def apply(self, obj: Obj) -> Obj:
        """Server-side apply, field manager app-operator-cli, taking over conflicting
        fields: the compose file is the source of what it sets."""

    def list(self, api_version: str, kind: str, label_selector: str) -> list[Obj]:
        """Every object of this kind in the namespace that matches the selector."""

    def delete(self, obj: Obj) -> bool:
        """Delete this object if it is still the one listed (uid); False if it is gone."""

    def label(self, obj: Obj, labels: dict[str, str]) -> None:
        """Add labels to an object that someone else manages (a merge patch)."""


@dataclass
class KubeCluster:
    """A Cluster over runtime.kube.Kube."""

    kube: Kube
    namespace: str
    _resources: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)

    def _collection(self, api_version: str, kind: str) -> str:
        """The namespaced collection's path, from discovery (once per apiVersion)."""
        if (api_version, kind) not in self._resources:
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            try:
                found = self.kube.request("GET", prefix)
            except KubeError as error:
                if error.status == 404:
                    hint = (" (is the App CRD installed? `app-operator crd | kubectl apply "
                            "--server-side -f -`)" if kind == "App" else "")
                    raise ClusterError(f"the cluster does not serve {api_version}{hint}") from None
                raise
            for resource in found.get("resources") or []:
                if "/" not in resource["name"]:
                    self._resources[(api_version, resource["kind"])] = (
                        f"{prefix}/{resource['name']}", bool(resource.get("namespaced")))
            if (api_version, kind) not in self._resources:
                raise ClusterError(f"the cluster serves no kind {kind} in {api_version}")
        path, namespaced = self._resources[(api_version, kind)]
        if not namespaced:
            raise ClusterError(f"{kind} is not a namespaced kind: app-operator up applies "
                               "only namespaced objects")
        prefix, plural = path.rsplit("/", 1)
        return f"{prefix}/namespaces/{quote(self.namespace)}/{plural}"

    def _path(self, obj: Obj) -> str:
        return (f"{self._collection(obj['apiVersion'], obj['kind'])}/"
                f"{quote(obj['metadata']['name'])}")

    def apply(self, obj: Obj) -> Obj:
        result: Obj = self.kube.request(
            "PATCH", self._path(obj), query={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=apply_body(obj), content_type="application/apply-patch+yaml")
        return result

    def list(self, api_version: str, kind: str, label_selector: str) -> list[Obj]:
        path = self._collection(api_version, kind)
        query: dict[str, Any] = {"labelSelector": label_selector, "limit": 500}
        items: list[Obj] = []
        while True:
            page = self.kube.request("GET", path, query=query)
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query = {**query, "continue": token}

    def delete(self, obj: Obj) -> bool:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background",
                "preconditions": {"uid": obj["metadata"]["uid"]}}
        try:
            self.kube.request("DELETE", self._path(obj), body=body)
        except KubeError as error:
            if error.status in (404, 409):
                return False
            raise
        return True

    def label(self, obj: Obj, labels: dict[str, str]) -> None:
        self.kube.request("PATCH", self._path(obj), query={"fieldManager": FIELD_MANAGER},
                          body={"metadata": {"labels": labels}},
                          content_type="application/merge-patch+json")


def connect(kubeconfig: str | None, context: str | None,
            namespace: str | None) -> KubeCluster:
    """The cluster of a kubeconfig context (the current one by default), in `namespace`,
    else the context's namespace, else `default`, as kubectl chooses."""
    try:
        contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)
    except (config.ConfigException, OSError) as error:
        raise ClusterError(f"no usable kubeconfig ({error}); set $KUBECONFIG or "
                           "--kubeconfig") from None
    if context is not None:
        chosen = next((c for c in contexts if c.get("name") == context), None)
        if chosen is None:
            names = ", ".join(sorted(str(c.get("name")) for c in contexts)) or "none"
            raise ClusterError(f"no context {context!r} in the kubeconfig (it has: {names})")
    else:
        chosen = current
    if not namespace:
        namespace = str((chosen or {}).get("context", {}).get("namespace") or "default")
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
    except (config.ConfigException, OSError) as error:
        raise ClusterError(f"cannot use the kubeconfig's context: {error}") from None
    return KubeCluster(Kube(api_client), namespace)
