"""spec.route: the model, the HTTPRoute and Ingress it renders to, the status their
controllers' answers give the App, and the reconciler's applies, repairs, deletions and host
conflicts, against the fake API (fake_api.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app_operator.core import dependencies, render, status
from app_operator.core.render import AppRef
from app_operator.core.status import Observed
from app_operator.runtime.reconcile import Reconciler

from .conftest import make_spec
from .fake_api import FakeApi, Obj, app_body, reconciler
from .test_reconcile import NS, conditions, rolled_out, run

PORTS = [{"name": "http", "containerPort": 5000, "servicePort": 80}]
GATEWAY = {"gateway": {"name": "web", "namespace": "infra", "sectionName": "http"}}
ROUTE: dict[str, Any] = {"hosts": ["flask.example.test"], "parent": GATEWAY}


def with_gateway_api(api: FakeApi) -> Reconciler:
    return Reconciler(api, api, gateway_api=lambda: True)  # type: ignore[arg-type]


def routed(**route: Any) -> dict[str, Any]:
    return {"ports": PORTS, "route": {**ROUTE, **route}}


# The model

def test_a_route_defaults_to_every_path_and_the_first_web_port() -> None:
    spec = make_spec(ports=[{"containerPort": 5432}, {"containerPort": 8000}],
                     route={"hosts": ["a.example.test"]})
    assert spec.route is not None and spec.route.paths == ["/"]
    found = spec.route_port()
    assert found is not None and (found[0].container_port, found[1]) == (8000, "http")


@pytest.mark.parametrize("port, expected", [("admin", 9000), (5000, 5000)])
def test_a_route_port_by_name_or_container_port(port: Any, expected: int) -> None:
    spec = make_spec(ports=[{"name": "http", "containerPort": 5000},
                            {"name": "admin", "containerPort": 9000}],
                     route={"hosts": ["a.example.test"], "port": port})
    found = spec.route_port()
    assert found is not None and found[0].container_port == expected


@pytest.mark.parametrize("fields, message", [
    ({"route": {"hosts": ["a.example.test"]}}, "route needs spec.ports"),
    ({"ports": [{"containerPort": 5432}], "route": {"hosts": ["a.example.test"]}},
     "no TCP port of spec.ports serves HTTP"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test"], "port": "web"}},
     "names no TCP port"),
    ({"ports": PORTS, "route": {"hosts": ["*.example.test"]}}, "hosts"),
    ({"ports": PORTS, "route": {"hosts": ["Flask.example.test"]}}, "hosts"),
    ({"ports": PORTS, "route": {"hosts": ["localhost"]}}, "hosts"),
    ({"ports": PORTS, "route": {"hosts": ["10.0.0.1"]}}, "hosts"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test", "a.example.test"]}},
     "given twice"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test"], "paths": ["/a/../b"]}}, "paths"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test"], "paths": ["api"]}}, "paths"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test"], "paths": ["/a//b"]}}, "paths"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test"], "parent": {}}},
     "exactly one of gateway or ingressClassName"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test"], "parent": {
        "ingressClassName": "nginx", "gateway": {"name": "web"}}}},
     "exactly one of gateway or ingressClassName"),
    ({"ports": PORTS, "route": {"hosts": ["a.example.test"],
                                "tls": {"issuer": "a", "clusterIssuer": "b"}}},
     "issuer or clusterIssuer, not both"),
    ({"ports": PORTS, "route": {**ROUTE, "tls": {"secretName": "cert"}}},
     "the Gateway listener's"),
])
def test_a_route_that_cannot_work_is_refused_with_the_reason(fields: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_spec(**fields)


# Rendering

def test_route_kind_follows_the_parent_and_the_gateway_api() -> None:
    assert render.route_kind(make_spec(**routed()), gateway_api=True) == render.HTTP_ROUTE
    # A Gateway without the Gateway API: nothing is made in its place.
    assert render.route_kind(make_spec(**routed()), gateway_api=False) is None
    for parent in ({"ingressClassName": "traefik"}, None):
        spec = make_spec(ports=PORTS, route={"hosts": ["a.example.test"], "parent": parent})
        assert render.route_kind(spec, gateway_api=True) == render.INGRESS
    assert render.route_kind(make_spec(ports=PORTS), gateway_api=True) is None


def test_an_http_route_is_attached_to_the_gateway_and_sends_to_the_service(app: AppRef) -> None:
    obj = render.render_http_route(app, make_spec(**routed(paths=["/", "/api"])))
    assert obj is not None
    assert (obj["apiVersion"], obj["kind"]) == ("gateway.networking.k8s.io/v1", "HTTPRoute")
    assert obj["metadata"]["name"] == "flask"
    assert obj["metadata"]["labels"] == render.child_labels(app)
    assert obj["metadata"]["ownerReferences"] == [render.owner_reference(app)]
    assert render.HASH_ANNOTATION in obj["metadata"]["annotations"]
    assert obj["spec"] == {
        "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                        "name": "web", "namespace": "infra", "sectionName": "http"}],
        "hostnames": ["flask.example.test"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}},
                               {"path": {"type": "PathPrefix", "value": "/api"}}],
                   # The Service's port (80), not the container's (5000).
                   "backendRefs": [{"group": "", "kind": "Service", "name": "flask",
                                    "port": 80, "weight": 1}]}]}


def test_an_ingress_has_a_rule_per_host_and_tls_from_cert_manager(app: AppRef) -> None:
    spec = make_spec(ports=PORTS, route={
        "hosts": ["a.example.test", "b.example.test"], "paths": ["/app"],
        "parent": {"ingressClassName": "traefik"}, "tls": {"clusterIssuer": "letsencrypt"}})
    obj = render.render_ingress(app, spec)
    assert obj is not None
    assert (obj["apiVersion"], obj["kind"]) == ("networking.k8s.io/v1", "Ingress")
    assert obj["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    backend = {"service": {"name": "flask", "port": {"number": 80}}}
    assert obj["spec"] == {
        "ingressClassName": "traefik",
        "rules": [{"host": host, "http": {"paths": [
            {"path": "/app", "pathType": "Prefix", "backend": backend}]}}
            for host in ("a.example.test", "b.example.test")],
        "tls": [{"hosts": ["a.example.test", "b.example.test"], "secretName": "flask-tls"}]}


def test_an_ingress_without_parent_uses_the_default_class_and_the_apps_secret(
        app: AppRef) -> None:
    spec = make_spec(ports=PORTS, route={"hosts": ["a.example.test"],
                                         "tls": {"secretName": "a-cert", "issuer": "ca"}})
    obj = render.render_ingress(app, spec)
    assert obj is not None and "ingressClassName" not in obj["spec"]
    assert obj["spec"]["tls"] == [{"hosts": ["a.example.test"], "secretName": "a-cert"}]
    assert obj["metadata"]["annotations"]["cert-manager.io/issuer"] == "ca"


def test_the_route_is_applied_after_the_service_it_sends_to(app: AppRef) -> None:
    desired = render.render_all(app, make_spec(**routed()), gateway_api=True)
    kinds = [o["kind"] for o in desired.objects()]
    assert kinds.index("Service") < kinds.index("HTTPRoute")


def test_route_hosts_reads_both_kinds_as_the_app_asks_for_them(app: AppRef) -> None:
    spec = make_spec(ports=PORTS, route={"hosts": ["a.example.test"], "paths": ["/", "/api/"],
                                         "parent": GATEWAY})
    wanted = render.wanted_hosts(spec)
    assert wanted == [("a.example.test", "/"), ("a.example.test", "/api")]
    http_route = render.render_http_route(app, spec)
    ingress = render.render_ingress(app, spec)
    assert http_route is not None and ingress is not None
    assert render.route_hosts(http_route) == render.route_hosts(ingress) == wanted


# Status

def http_route_status(*conds: tuple[str, str, str], generation: int = 1,
                      section: str | None = "http") -> Obj:
    ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "web",
           "namespace": "infra", **({"sectionName": section} if section else {})}
    return {"parents": [{"parentRef": ref, "controllerName": "example.test/gateway",
                         "conditions": [{"type": t, "status": s, "reason": r,
                                         "message": f"{r} said the gateway",
                                         "observedGeneration": generation,
                                         "lastTransitionTime": "2026-01-01T00:00:00Z"}
                                        for t, s, r in conds]}]}


ACCEPTED = (("Accepted", "True", "Accepted"), ("ResolvedRefs", "True", "ResolvedRefs"))


def observed_route(kind: str, route_status: Obj, generation: int = 1) -> Observed:
    return Observed(route_kind=kind, service={},
                    route={"kind": kind, "metadata": {"generation": generation},
                           "status": route_status})


def test_an_accepted_http_route_is_ready_with_its_external_url(app: AppRef) -> None:
    spec = make_spec(**routed(tls={}, paths=["/app"]))
    assert status.route_progress(app, spec, observed_route(
        "HTTPRoute", http_route_status(*ACCEPTED))) is None
    assert status.route_url(spec) == "https://flask.example.test/app"


@pytest.mark.parametrize("conds, reason, stalled, words", [
    ((("Accepted", "False", "NotAllowedByListeners"),), "NotAllowedByListeners", True,
     "allowedRoutes"),
    ((("Accepted", "False", "NoMatchingParent"),), "NoMatchingParent", True, "no such Gateway"),
    ((("Accepted", "True", "Accepted"), ("ResolvedRefs", "False", "InvalidCertificateRef")),
     "InvalidCertificateRef", True, "TLS Secret is missing"),
    ((("Accepted", "False", "Pending"),), status.ROUTE_PENDING, False, "waiting for Gateway"),
    ((("Accepted", "Unknown", "Pending"),), status.ROUTE_PENDING, False, "waiting for Gateway"),
])
def test_a_gateways_answer_becomes_the_apps_reason(app: AppRef, conds: Any, reason: str,
                                                   stalled: bool, words: str) -> None:
    progress = status.route_progress(app, make_spec(**routed()), observed_route(
        "HTTPRoute", http_route_status(*conds)))
    assert progress is not None and not progress.ready
    assert (progress.reason, progress.stalled) == (reason, stalled)
    assert words in progress.message and "infra/web" in progress.message


def test_an_answer_for_an_older_route_or_another_listener_is_not_taken(app: AppRef) -> None:
    spec = make_spec(**routed())
    for route_status in (http_route_status(*ACCEPTED, generation=1),
                         http_route_status(*ACCEPTED, generation=2, section="https")):
        progress = status.route_progress(app, spec, observed_route(
            "HTTPRoute", route_status, generation=2))
        assert progress is not None and progress.reason == status.ROUTE_PENDING


def test_an_ingress_carries_traffic_once_it_has_an_address(app: AppRef) -> None:
    spec = make_spec(ports=PORTS, route={"hosts": ["a.example.test"]})
    waiting = status.route_progress(app, spec, observed_route("Ingress", {}))
    assert waiting is not None and waiting.reason == status.ROUTE_PENDING
    assert "default class" in waiting.message
    assert status.route_progress(app, spec, observed_route(
        "Ingress", {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}})) is None


def test_a_gateway_without_the_gateway_api_waits_for_it(app: AppRef) -> None:
    progress = status.route_progress(app, make_spec(**routed()), Observed(route_kind=None))
    assert progress is not None and progress.reason == status.GATEWAY_API_MISSING


# The reconciler

def route_in(api: FakeApi, kind: str = "HTTPRoute", name: str = "flask") -> Obj:
    found = api.find(kind, NS, name)
    assert found is not None, f"{kind} {name} is missing"
    return found


def test_an_app_with_a_route_gets_an_http_route_and_its_url_once_accepted() -> None:
    api = FakeApi()
    operator = with_gateway_api(api)
    body = app_body(**routed())
    run(api, body, operator)
    assert route_in(api)["spec"]["hostnames"] == ["flask.example.test"]
    rolled_out(api)
    run(api, body, operator)
    ready = conditions(api)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", status.ROUTE_PENDING)
    assert api.statuses["flask"]["url"] == "http://flask.demo.svc"  # not yet the external one
    api.objects[("HTTPRoute", NS, "flask")]["metadata"]["generation"] = 1
    api.set_status("HTTPRoute", NS, "flask", http_route_status(*ACCEPTED))
    run(api, body, operator)
    assert conditions(api)["Ready"]["status"] == "True"
    assert api.statuses["flask"]["url"] == "http://flask.example.test"
    writes = len(api.writes)
    run(api, body, operator)
    assert len(api.writes) == writes, "a converged App with a route writes nothing"


def test_a_gateway_refusing_the_route_stalls_the_app_with_its_reason() -> None:
    api = FakeApi()
    operator = with_gateway_api(api)
    body = app_body(**routed())
    run(api, body, operator)
    api.set_status("HTTPRoute", NS, "flask", http_route_status(
        ("Accepted", "False", "NotAllowedByListeners")), generation=1)
    run(api, body, operator)
    stalled = conditions(api)["Stalled"]
    assert (stalled["status"], stalled["reason"]) == ("True", "NotAllowedByListeners")


def test_an_edited_route_is_put_back_and_a_deleted_one_made_again() -> None:
    api = FakeApi()
    operator = with_gateway_api(api)
    body = app_body(**routed())
    run(api, body, operator)
    route_in(api)["spec"]["hostnames"] = ["evil.example.test"]
    outcome = run(api, body, operator)
    assert "HTTPRoute flask" in outcome.applied
    assert route_in(api)["spec"]["hostnames"] == ["flask.example.test"]
    del api.objects[("HTTPRoute", NS, "flask")]
    run(api, body, operator)
    assert route_in(api)["spec"]["hostnames"] == ["flask.example.test"]


def test_removing_the_route_deletes_it_and_changing_its_kind_replaces_it() -> None:
    api = FakeApi()
    operator = with_gateway_api(api)
    body = app_body(**routed())
    run(api, body, operator)
    body["spec"]["route"] = {"hosts": ["flask.example.test"],
                             "parent": {"ingressClassName": "traefik"}}
    outcome = run(api, body, operator)
    assert outcome.deleted == ["HTTPRoute flask"]
    assert route_in(api, "Ingress")["spec"]["ingressClassName"] == "traefik"
    del body["spec"]["route"]
    outcome = run(api, body, operator)
    assert outcome.deleted == ["Ingress flask"]
    assert api.find("Ingress", NS, "flask") is None


def test_a_route_of_the_same_name_that_is_not_the_apps_is_never_taken_over() -> None:
    api = FakeApi()
    api.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "flask", "namespace": NS}, "spec": {}})
    outcome = run(api, app_body(ports=PORTS, route={"hosts": ["a.example.test"]}))
    assert outcome.problem is not None and outcome.problem.reason == status.NAME_CONFLICT
    assert route_in(api, "Ingress")["spec"] == {}


def two_apps(api: FakeApi, first: Obj, second: Obj) -> None:
    """`first` routes its host before `second` (its route is older by a second)."""
    run(api, first)
    route_in(api, "Ingress", first["metadata"]["name"])["metadata"][
        "creationTimestamp"] = "2026-01-01T00:00:00Z"


def test_a_host_routed_by_another_app_is_refused_naming_it() -> None:
    api = FakeApi()
    first = app_body("blog", uid="uid-blog", ports=PORTS, route={"hosts": ["a.example.test"]})
    second = app_body("shop", uid="uid-shop", ports=PORTS, route={"hosts": ["a.example.test"]})
    two_apps(api, first, second)
    operator = reconciler(api)
    outcome = run(api, second, operator)
    assert outcome.problem is not None and outcome.problem.reason == status.HOST_CONFLICT
    assert "a.example.test is routed by App blog" in outcome.problem.message
    assert api.find("Ingress", NS, "shop") is None
    assert api.find("Deployment", NS, "shop") is not None, "the rest of the App runs"
    assert operator.waiting() == [(NS, "shop")]
    # The first App gives its host up: the second gets it.
    del first["spec"]["route"]
    run(api, first)
    outcome = run(api, second, operator)
    assert outcome.problem is None and api.find("Ingress", NS, "shop") is not None
    assert operator.waiting() == []


def test_two_routes_made_at_once_leave_the_host_to_the_older() -> None:
    api = FakeApi()
    first = app_body("blog", uid="uid-blog", ports=PORTS, route={"hosts": ["a.example.test"]})
    second = app_body("shop", uid="uid-shop", ports=PORTS, route={"hosts": ["a.example.test"]})
    run(api, first)
    # The second App's route is made while the caches do not show the first one yet.
    hidden = api.objects.pop(("Ingress", NS, "blog"))
    run(api, second)
    api.objects[("Ingress", NS, "blog")] = hidden
    for name, when in (("blog", "2026-01-01T00:00:00Z"), ("shop", "2026-01-01T00:00:01Z")):
        route_in(api, "Ingress", name)["metadata"]["creationTimestamp"] = when
    assert run(api, first).problem is None
    outcome = run(api, second)
    assert outcome.problem is not None and outcome.deleted == ["Ingress shop"]


def test_apps_may_share_a_host_by_paths_in_one_namespace_only() -> None:
    api = FakeApi()
    web = app_body("web", uid="uid-web", ports=PORTS, route={"hosts": ["a.example.test"]})
    api_app = app_body("api", uid="uid-api", ports=PORTS,
                       route={"hosts": ["a.example.test"], "paths": ["/api"]})
    two_apps(api, web, api_app)
    assert run(api, api_app).problem is None
    other = app_body("api", uid="uid-other", namespace="other", ports=PORTS,
                     route={"hosts": ["a.example.test"], "paths": ["/other"]})
    outcome = run(api, other)
    assert outcome.problem is not None and outcome.problem.reason == status.HOST_CONFLICT
    assert "by an App in another namespace" in outcome.problem.message
    assert "web" not in outcome.problem.message.replace("routed", "")


# With create-only applies, run-once Apps and shared claims (the merge of both branches)

def test_a_new_apps_route_is_created_only_if_its_name_is_free_without_a_read() -> None:
    """The route is made like every other child: by an apply the API server refuses if the
    name is taken, not after a GET of its name (one request more for each new App)."""
    api = FakeApi()
    outcome = run(api, app_body(**routed()), with_gateway_api(api))
    assert outcome.problem is None
    assert api.gets == []
    assert route_in(api)["metadata"]["resourceVersion"] != "1"


def test_a_route_name_taken_by_an_object_the_stores_do_not_hold_starts_no_pod() -> None:
    """The create-only apply of the route is refused, its name read, the App Stalled, and
    what was made before goes again (reconcile._undo): the Deployment, applied after the
    route, was never made, so no pod ran for an App in conflict."""
    api = FakeApi()
    stored = api.create({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                         "metadata": {"name": "flask", "namespace": NS}, "spec": {}})
    outcome = run(api, app_body(ports=PORTS, volumes=[{"name": "data", "mountPath": "/d"}],
                                route={"hosts": ["a.example.test"]}))
    assert outcome.problem is not None and outcome.problem.reason == status.NAME_CONFLICT
    assert "Ingress flask (owned by nobody" in outcome.problem.message
    assert ("apply", "Deployment", "flask") not in api.journal
    assert list(api.objects) == [("Ingress", NS, "flask")]
    assert api.find("Ingress", NS, "flask") == stored


def test_an_apps_own_route_the_stores_lost_sight_of_is_applied_again_not_removed() -> None:
    """Its labels taken off by someone: the stores do not hold it, the create-only apply is
    refused, the name is read, and it is the App's (its ownerReference): applied again."""
    api = FakeApi()
    operator = with_gateway_api(api)
    run(api, app_body(**routed()), operator)
    uid = route_in(api)["metadata"]["uid"]
    route_in(api)["metadata"]["labels"] = {}
    outcome = run(api, app_body(generation=2, **routed()), operator)
    assert outcome.problem is None
    assert ("HTTPRoute", "flask") in api.gets
    again = route_in(api)
    assert again["metadata"]["uid"] == uid
    assert again["metadata"]["labels"][render.INSTANCE_LABEL] == "flask"
    assert not [w for w in api.writes if w[0] == "delete"]


def test_a_run_once_app_with_a_route_gets_a_job_made_after_its_route(app: AppRef) -> None:
    desired = render.render_all(app, make_spec(restartPolicy="Never", **routed()),
                                gateway_api=True)
    assert [o["kind"] for o in desired.objects()] == ["Service", "HTTPRoute", "Job"]
    desired = render.render_all(app, make_spec(**routed()), gateway_api=True)
    assert [o["kind"] for o in desired.objects()][-1] == "Deployment"


def test_a_route_beside_a_shared_claim_and_a_dependency() -> None:
    """An App that mounts a claim it does not own and waits for another App still gets its
    route: the route is not the pods', it is made while the pods wait."""
    api = FakeApi()
    api.create({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "shared", "namespace": NS}, "spec": {}})
    operator = with_gateway_api(api)
    outcome = run(api, app_body(
        volumes=[{"name": "data", "mountPath": "/d", "claimName": "shared"}],
        dependsOn=[{"name": "db"}], **routed()), operator)
    assert route_in(api)["spec"]["hostnames"] == ["flask.example.test"]
    deployment = api.find("Deployment", NS, "flask")
    assert deployment is not None and deployment["spec"]["replicas"] == 0
    ready = conditions(api)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", dependencies.WAITING_FOR_DEPENDENCY)
    assert outcome.problem is None
