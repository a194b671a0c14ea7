"""The CRD: generated from the model, structural, and committed as generated."""

from pathlib import Path
from typing import Any

import yaml

from app_operator.core import crd

ROOT = Path(__file__).resolve().parents[2]


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found.extend(walk(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(walk(value, f"{path}[{index}]"))
    return found


def schema() -> dict[str, Any]:
    result: dict[str, Any] = crd.app_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return result


def test_committed_crd_matches_the_model() -> None:
    committed = (ROOT / "crds" / "apps.appoperator.dev.yaml").read_text()
    assert committed == crd.render_yaml(), "run `make crds` and commit the result"


def test_schema_is_structural() -> None:
    for path, node in walk(schema()):
        assert "$ref" not in node and "$defs" not in node, path
        assert "title" not in node, path
        assert node.get("default", "") is not None, path
        assert node.get("additionalProperties") is not False, path
        if "anyOf" in node and not path.endswith("/properties"):
            assert node.get("x-kubernetes-int-or-string") is True, path
            assert "type" not in node, path
        assert {"type": "null"} not in node.get("anyOf", []), path


def test_names_and_subresources() -> None:
    manifest = crd.app_crd()
    assert manifest["metadata"]["name"] == "apps.appoperator.dev"
    names = manifest["spec"]["names"]
    assert (names["kind"], names["plural"], names["singular"]) == ("App", "apps", "app")
    version = manifest["spec"]["versions"][0]
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector"}
    assert [c["name"] for c in version["additionalPrinterColumns"]] == [
        "Image", "Desired", "Ready", "Status", "URL", "Age"]


def test_descriptions_come_from_docstrings() -> None:
    ports = schema()["properties"]["spec"]["properties"]["ports"]
    assert "-p" in ports["description"]
    assert "containerPort" in ports["items"]["properties"]["containerPort"]["description"] or \
        "listens" in ports["items"]["properties"]["containerPort"]["description"]
    assert "\n" not in ports["items"]["properties"]["containerPort"]["description"]


def test_list_maps_and_cel_rules() -> None:
    spec = schema()["properties"]["spec"]
    for field, keys in (("ports", ["containerPort", "protocol"]), ("volumes", ["name"]),
                        ("env", ["name"])):
        assert spec["properties"][field]["x-kubernetes-list-type"] == "map"
        assert spec["properties"][field]["x-kubernetes-list-map-keys"] == keys
        for key in keys:  # map keys must be required or defaulted
            item = spec["properties"][field]["items"]
            assert key in item.get("required", []) or "default" in item["properties"][key]
    messages = [v["message"] for v in spec["x-kubernetes-validations"]]
    assert any("nodePort" in m for m in messages)
    assert any("mountPath" in m for m in messages)
    volume_rules = spec["properties"]["volumes"]["items"]["x-kubernetes-validations"]
    assert any("oldSelf.accessMode" in r["rule"] for r in volume_rules)
    # A size may go back to what its claim has (a refused growth undone): only the operator,
    # which reads the claim, can judge a shrink.
    assert not any("oldSelf.size" in r["rule"] for r in volume_rules)


def test_resources_are_int_or_string() -> None:
    limits = schema()["properties"]["spec"]["properties"]["resources"]["properties"]["limits"]
    assert limits["properties"]["cpu"]["x-kubernetes-int-or-string"] is True


def test_yaml_round_trips() -> None:
    assert yaml.safe_load(crd.render_yaml()) == crd.app_crd()
