"""Would applying change anything? Decides whether a reconcile writes at all."""

import copy
from typing import Any

import pytest

from app_operator.core import drift, render
from app_operator.core.render import AppRef

from .conftest import make_spec


def live_copy(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API server returns: our fields plus defaults and bookkeeping of its own."""
    live = copy.deepcopy(obj)
    live["metadata"]["resourceVersion"] = "42"
    live["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "1"
    live["status"] = {"replicas": 1}
    if live["kind"] == "Deployment":
        live["spec"]["revisionHistoryLimit"] = 10
        live["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] = "/dev/x"
    return live


def test_missing_object_needs_apply(app: AppRef) -> None:
    desired = render.render_deployment(app, make_spec())
    assert drift.needs_apply(desired, None)


def test_unchanged_object_needs_no_apply_despite_server_defaults(app: AppRef) -> None:
    desired = render.render_deployment(app, make_spec())
    assert not drift.needs_apply(desired, live_copy(desired))


def test_edit_by_someone_else_is_drift(app: AppRef) -> None:
    desired = render.render_deployment(app, make_spec())
    live = live_copy(desired)
    live["spec"]["template"]["spec"]["containers"][0]["image"] = "evil:1"
    assert drift.needs_apply(desired, live)
    assert drift.differences(desired, live) == ["spec.template.spec.containers[flask].image"]


def test_deleted_field_is_drift(app: AppRef) -> None:
    desired = render.render_deployment(app, make_spec(env=[{"name": "A", "value": "1"}]))
    live = live_copy(desired)
    del live["spec"]["template"]["spec"]["containers"][0]["env"]
    assert drift.needs_apply(desired, live)


def test_field_the_operator_stopped_setting_is_caught_by_the_hash(app: AppRef) -> None:
    before = render.render_deployment(app, make_spec(env=[{"name": "A", "value": "1"}]))
    after = render.render_deployment(app, make_spec())
    live = live_copy(before)
    # Every field of `after` is in `live`, only the hash tells the env var must go.
    assert drift.is_subset({k: v for k, v in after.items() if k != "metadata"}, live)
    assert drift.needs_apply(after, live)


def test_quantities_compare_by_value(app: AppRef) -> None:
    desired = render.render_claims(app, make_spec(volumes=[
        {"name": "d", "mountPath": "/d", "size": "1Gi"}]))[0]
    live = live_copy(desired)
    live["spec"]["resources"]["requests"]["storage"] = "1024Mi"
    assert not drift.needs_apply(desired, live)
    live["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert drift.differences(desired, live) == ["spec.resources.requests.storage"]


def test_quantity_rule_applies_only_to_quantity_maps() -> None:
    assert drift.differences({"env": {"value": "1"}}, {"env": {"value": "1000m"}}) == [
        "env.value"]


def test_list_length_change_is_a_difference_either_way() -> None:
    assert drift.differences({"a": [1, 2]}, {"a": [1]}) == ["a"]
    # A longer live list (someone appended an argument) is a difference too.
    assert drift.differences({"a": [1]}, {"a": [1, 2]}) == ["a"]
    assert drift.differences({"a": []}, {"a": [1]}) == ["a"]
    assert drift.differences({"a": [1, 2]}, {"a": [1, 2]}) == []


def test_entries_other_managers_add_to_merged_lists_are_theirs(app: AppRef) -> None:
    """`kubectl set env`, a webhook's sidecar, another owner: server-side apply keeps their
    entries beside ours, so they are no reason to apply again."""
    desired = render.render_deployment(app, make_spec(env=[{"name": "A", "value": "1"}],
                                                      ports=[{"containerPort": 5000}]))
    live = live_copy(desired)
    pod = live["spec"]["template"]["spec"]
    pod["containers"][0]["env"].append({"name": "INJECTED", "value": "x"})
    pod["containers"][0]["ports"].insert(0, {"containerPort": 9090, "protocol": "TCP"})
    pod["containers"].append({"name": "sidecar", "image": "proxy:1"})
    pod.setdefault("volumes", []).append({"name": "extra", "emptyDir": {}})
    live["metadata"]["ownerReferences"].append({"uid": "other", "kind": "Thing"})
    assert drift.differences(desired, live) == []
    assert not drift.needs_apply(desired, live)


def test_a_changed_or_missing_entry_of_ours_is_drift(app: AppRef) -> None:
    desired = render.render_deployment(app, make_spec(env=[{"name": "A", "value": "1"},
                                                           {"name": "B", "value": "2"}]))
    live = live_copy(desired)
    env = live["spec"]["template"]["spec"]["containers"][0]["env"]
    env[0]["value"] = "changed"
    del env[1]
    assert drift.differences(desired, live) == [
        "spec.template.spec.containers[flask].env[A].value",
        "spec.template.spec.containers[flask].env[B]"]


def test_lists_without_a_merge_key_compare_whole(app: AppRef) -> None:
    desired = render.render_deployment(app, make_spec(args=["a", "b"]))
    live = live_copy(desired)
    live["spec"]["template"]["spec"]["containers"][0]["args"].append("c")
    assert drift.differences(desired, live) == ["spec.template.spec.containers[flask].args"]


@pytest.mark.parametrize(("desired", "stored"), [
    (".5e-3", "1e-3"), ("500u", "1m"), ("1.0001", "1001m"), ("1.123456789", "1124m"),
    ("1Gi", "1073741824"), ("0.5Gi", "512Mi"), ("1e6", "1M"),
    ("1000000000000000.1", "1000000000000000100m"),  # more digits than an App may write
])
def test_quantities_compare_as_the_api_server_stores_them(app: AppRef, desired: str,
                                                           stored: str) -> None:
    spec = make_spec(resources={"requests": {"cpu": desired}})
    deployment = render.render_deployment(app, spec)
    live = live_copy(deployment)
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = stored
    assert not drift.needs_apply(deployment, live)


def test_a_changed_quantity_is_drift(app: AppRef) -> None:
    deployment = render.render_deployment(app, make_spec(resources={"requests": {"cpu": "1"}}))
    live = live_copy(deployment)
    live["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "999m"
    assert drift.needs_apply(deployment, live)


def test_service_ports_are_matched_by_port_and_protocol_not_by_position(app: AppRef) -> None:
    service = render.render_service(app, make_spec(ports=[
        {"name": "http", "containerPort": 8080, "servicePort": 80},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"}]))
    assert service is not None
    live = live_copy(service)
    live["spec"]["ports"].reverse()
    assert drift.differences(service, live) == []
    live["spec"]["ports"][1]["targetPort"] = 8080  # the entry of port 80, TCP
    assert drift.differences(service, live) == ["spec.ports[80,TCP].targetPort"]


def test_container_ports_are_matched_by_container_port_and_protocol(app: AppRef) -> None:
    deployment = render.render_deployment(app, make_spec(ports=[
        {"containerPort": 80}, {"containerPort": 81}, {"containerPort": 81, "protocol": "UDP"}]))
    live = live_copy(deployment)
    ports = live["spec"]["template"]["spec"]["containers"][0]["ports"]
    ports.reverse()
    assert drift.differences(deployment, live) == []
    ports[0]["name"] = "renamed"  # 81/UDP
    assert drift.differences(deployment, live) == [
        "spec.template.spec.containers[flask].ports[81,UDP].name"]


def test_paths_name_where_a_difference_is() -> None:
    assert drift.differences({"a": {"b": 1}}, {"a": 5}) == ["a"]
    assert drift.differences({"b": 1}, 5) == ["."]
    assert drift.differences({"args": [{"a": 1}, {"a": 2}]},
                             {"args": [{"a": 1}, {"a": 3}]}) == ["args[1].a"]


def test_a_quantity_the_server_would_not_write_is_a_difference() -> None:
    assert drift.differences({"limits": {"cpu": "1"}}, {"limits": {"cpu": "lots"}}) == [
        "limits.cpu"]


def test_a_keyed_list_of_plain_values_compares_by_value() -> None:
    assert drift.differences({"env": ["A", "B"]}, {"env": ["B", "A", "C"]}) == []
    assert drift.differences({"env": ["A"]}, {"env": ["B"]}) == ["env[A]"]


def test_a_live_object_without_metadata_or_hash_needs_an_apply(app: AppRef) -> None:
    desired = render.render_deployment(app, make_spec())
    assert drift.needs_apply(desired, {"spec": desired["spec"]})
    assert drift.needs_apply(desired, {"metadata": {}, "spec": desired["spec"]})


def test_a_renumbered_port_of_our_name_is_put_back_in_place_before_the_apply() -> None:
    """`kubectl edit service`: 80 became 8080 under the name http. Applying 80 again would
    add it beside 8080, two ports named http, which the API server refuses."""
    desired = {"kind": "Service", "spec": {"ports": [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}
    live = {"kind": "Service", "spec": {"ports": [
        {"name": "metrics", "port": 9100, "protocol": "TCP"},
        {"name": "http", "port": 8080, "protocol": "TCP"}]}}
    assert drift.renumbered_ports(desired, live) == [
        {"op": "test", "path": "/spec/ports/1/name", "value": "http"},
        {"op": "test", "path": "/spec/ports/1/port", "value": 8080},
        {"op": "replace", "path": "/spec/ports/1", "value": desired["spec"]["ports"][0]}]
    # Ports that agree, or carry names that are not ours, stay.
    assert drift.renumbered_ports(desired, {"kind": "Service", "spec": {"ports": [
        {"name": "http", "port": 80}, {"name": "other", "port": 8080}]}}) == []
    assert drift.renumbered_ports(desired, None) == []


def _port_list(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] == "Service":
        ports: list[dict[str, Any]] = obj["spec"]["ports"]
    else:
        ports = obj["spec"]["template"]["spec"]["containers"][0]["ports"]
    return ports


def _server_side_apply_ports(live: list[dict[str, Any]],
                             desired: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How server-side apply merges a ports list, as far as a rename needs: an entry of the
    same key (port or containerPort, and protocol) takes the applied fields, others are
    added; the one merged list is then validated as a whole."""
    number = "port" if "port" in desired[0] else "containerPort"
    merged = {(p[number], p["protocol"]): dict(p) for p in live}
    for entry in desired:
        merged.setdefault((entry[number], entry["protocol"]), {}).update(entry)
    return list(merged.values())


@pytest.mark.parametrize("ports", [
    [{"containerPort": 5432}],  # the name alone changes
    [{"containerPort": 5432}, {"containerPort": 8080}],  # and another port takes the old one
])
def test_a_port_renamed_by_the_operator_is_renamed_in_place_by_the_apply(
        app: AppRef, ports: list[dict[str, Any]]) -> None:
    """Before issue 21 a lone port 5432 was named http; now it is tcp-5432, and a new 8080
    may be http. Server-side apply keys ports by number and protocol, so the applied entry
    renames the live one in place: no port is taken out first (the renumbering patch is for
    a number the App no longer wants), and the list applied has one entry per name."""
    old = make_spec(ports=[{"name": "http", "containerPort": 5432}])
    new = make_spec(ports=ports)
    for render_child in (render.render_service, render.render_deployment):
        before, desired = live_copy(render_child(app, old)), render_child(app, new)
        assert drift.needs_apply(desired, before)
        assert drift.renumbered_ports(desired, before) == []
        merged = _server_side_apply_ports(_port_list(before), _port_list(desired))
        names = [entry["name"] for entry in merged]
        assert sorted(names) == sorted(new.port_names()) and len(set(names)) == len(names)
        assert all(entry in merged for entry in _port_list(desired))


def test_a_renumbered_container_port_is_put_back_in_its_container_only() -> None:
    def deployment(*containers: tuple[str, list[dict[str, Any]]]) -> dict[str, Any]:
        return {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
            {"name": name, "ports": ports} for name, ports in containers]}}}}

    desired = deployment(("flask", [{"name": "http", "containerPort": 5000,
                                     "protocol": "TCP"}]))
    live = deployment(("sidecar", [{"name": "http", "containerPort": 9000}]),
                      ("flask", [{"name": "http", "containerPort": 5001, "protocol": "TCP"},
                                 {"name": "udp", "containerPort": 5000, "protocol": "UDP"}]))
    assert drift.renumbered_ports(desired, live) == [
        {"op": "test", "path": "/spec/template/spec/containers/1/ports/0/name",
         "value": "http"},
        {"op": "test", "path": "/spec/template/spec/containers/1/ports/0/containerPort",
         "value": 5001},
        {"op": "replace", "path": "/spec/template/spec/containers/1/ports/0",
         "value": desired["spec"]["template"]["spec"]["containers"][0]["ports"][0]}]
