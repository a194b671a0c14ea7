"""The App CRD, generated from model.py (`python -m app_operator.core.crd` prints it).

pydantic's JSON schema is not a Kubernetes structural schema, so it is rewritten here:
references are inlined, `anyOf [X, null]` becomes X with `nullable`, titles and null
defaults go, `additionalProperties: false` goes (the API server prunes and, with strict field
validation, rejects unknown fields), and the `x-kubernetes-*` keys from the model stay.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from app_operator.core import model, yamlout

CRD_NAME = f"{model.PLURAL}.{model.GROUP}"

# A root-level rule may look at metadata.name: it becomes the Service's name (a DNS-1035
# label) and a label value (at most 63 characters).
NAME_RULE = {
    "rule": "self.metadata.name.size() <= 63 && "
    "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
    "message": "an App's name must start with a letter and have at most 63 lowercase letters, "
    "digits or '-' (it names the App's Service and labels its pods)",
}

# The main container is named after the App: a sidecar may not take that name.
SIDECAR_NAME_RULE = {
    "rule": "!has(self.spec.sidecars) || !self.spec.sidecars.exists(s, s.name == "
    "self.metadata.name)",
    "message": "a sidecar may not have the App's own name: the main container has it",
    "fieldPath": ".spec.sidecars",
}

PRINTER_COLUMNS = [
    {"name": "Image", "type": "string", "jsonPath": ".spec.image"},
    {"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas"},
    {"name": "Status", "type": "string",
     "jsonPath": '.status.conditions[?(@.type=="Ready")].reason'},
    {"name": "URL", "type": "string", "jsonPath": ".status.url"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

_DROPPED_KEYS = {"title", "$defs"}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Resolve `$ref`s into copies of their definitions, recursively."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs)
    return {key: _inline(value, defs) for key, value in node.items()}


def _one_line_paragraphs(text: str) -> str:
    """Docstrings wrap at 100 columns; kubectl explain wraps on its own."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _structural(node: Any) -> Any:
    """Turn an inlined pydantic schema node into a structural one."""
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    options = node.get("anyOf")
    if options and not node.get("x-kubernetes-int-or-string"):
        others = [o for o in options if o != {"type": "null"}]
        if len(others) < len(options):
            del node["anyOf"]
            node["nullable"] = True
            if len(others) == 1:
                node = {**others[0], **node}
            else:
                node["anyOf"] = others
    if node.get("default", 0) is None:
        del node["default"]
    if node.get("additionalProperties") is False:
        del node["additionalProperties"]
    if node.get("x-kubernetes-int-or-string"):
        # Structural schemas allow type-less anyOf branches only for int-or-string.
        node.pop("type", None)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "description":
            value = _one_line_paragraphs(value)
        if key in ("properties",):
            out[key] = {name: _structural(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "anyOf"):
            out[key] = _structural(value)
        else:
            out[key] = value
    if "properties" in out:
        out.setdefault("type", "object")
    return out


def _schema(model_class: type[model.Model]) -> dict[str, Any]:
    raw = model_class.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    inlined = _inline({k: v for k, v in raw.items() if k != "$defs"}, defs)
    result: dict[str, Any] = _structural(inlined)
    return result


def app_crd() -> dict[str, Any]:
    """The CustomResourceDefinition of App, ready for `kubectl apply`."""
    spec_schema = _schema(model.AppSpec)
    spec_schema["description"] = (model.AppSpec.__doc__ or "").strip()
    status_schema = _schema(model.AppStatus)
    status_schema["properties"]["conditions"]["x-kubernetes-list-type"] = "map"
    status_schema["properties"]["conditions"]["x-kubernetes-list-map-keys"] = ["type"]
    # Until the operator writes it, an App reads `status: {observedGeneration: 0}` (the API
    # server fills in defaults whenever it reads an object): kstatus, and so Flux and kpt,
    # then say InProgress for an App nobody has acted on yet, instead of Current.
    status_schema["default"] = {}
    status_schema["properties"]["observedGeneration"]["default"] = 0
    root: dict[str, Any] = {
        "type": "object",
        "description": "An application from one container image, run the way `docker run` "
        "would run it: the operator keeps a Deployment, a Service and one "
        "PersistentVolumeClaim per volume in step with it.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
        "x-kubernetes-validations": [NAME_RULE, SIDECAR_NAME_RULE],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {"app.kubernetes.io/name": "app-operator",
                       "app.kubernetes.io/part-of": "app-operator"},
        },
        "spec": {
            "group": model.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": model.KIND,
                "plural": model.PLURAL,
                "singular": model.SINGULAR,
                "shortNames": list(model.SHORT_NAMES),
                "listKind": f"{model.KIND}List",
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": model.VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": root},
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.selector",
                        },
                    },
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                }
            ],
        },
    }


def render_yaml() -> str:
    header = ("# Generated by `python -m app_operator.core.crd` from "
              "operator/app_operator/core/model.py.\n")
    header += "# Do not edit: change the model and regenerate (make crds).\n"
    return header + yamlout.dump(app_crd())


def main() -> None:
    sys.stdout.write(render_yaml())


if __name__ == "__main__":
    main()
