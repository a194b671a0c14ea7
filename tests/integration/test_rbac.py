"""RBAC as manifests/ installs it, checked by the API server's own authorizer (kubectl auth
can-i) and by requests: the operator's ServiceAccount is allowed what it needs and denied the
dangerous rest; namespace users bound to the built-in view, edit and admin roles get what
aggregated-roles.yaml gives them on Apps, and no more."""

import json
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.test_routes import install_gateway_api
from tests.kube_helpers import (
    OPERATOR_ACCOUNT,
    Kubectl,
    app_manifest,
    install_without_deployment,
    wait_for,
)

NEEDED = [
    ("get", "apps.appoperator.dev"), ("list", "apps.appoperator.dev"),
    ("watch", "apps.appoperator.dev"), ("patch", "apps.appoperator.dev/status"),
    ("update", "apps.appoperator.dev/finalizers"),
    *[(verb, resource) for resource in ("deployments.apps", "jobs.batch", "services",
                                        "persistentvolumeclaims", "configmaps",
                                        "ingresses.networking.k8s.io",
                                        "httproutes.gateway.networking.k8s.io")
      for verb in ("get", "list", "watch", "create", "patch", "delete")],
    ("create", "events"), ("patch", "events"), ("get", "pods"), ("list", "pods"), ("watch", "pods"),
]
DENIED = [
    ("get", "secrets"), ("list", "secrets"), ("watch", "secrets"),
    ("create", "pods"), ("delete", "pods"), ("patch", "pods"), ("create", "pods/exec"),
    ("create", "pods/attach"), ("create", "pods/portforward"), ("get", "pods/log"),
    ("get", "persistentvolumes"), ("delete", "persistentvolumes"),
    ("update", "apps.appoperator.dev"), ("patch", "apps.appoperator.dev"),
    ("delete", "apps.appoperator.dev"), ("create", "apps.appoperator.dev"),
    ("update", "deployments.apps"), ("delete", "namespaces"), ("list", "nodes"),
    ("create", "serviceaccounts/token"), ("create", "clusterrolebindings"),
    ("escalate", "clusterroles"), ("bind", "clusterroles"), ("impersonate", "users"),
    ("impersonate", "serviceaccounts"), ("create", "customresourcedefinitions"),
    # A route's status is its gateway's; Gateways and ReferenceGrants are their owners'.
    ("patch", "ingresses.networking.k8s.io/status"),
    ("patch", "httproutes.gateway.networking.k8s.io/status"),
    ("get", "gateways.gateway.networking.k8s.io"),
    ("patch", "gateways.gateway.networking.k8s.io"),
    ("create", "referencegrants.gateway.networking.k8s.io"),
    ("*", "*"),
]


@pytest.fixture(scope="module")
def installed(cluster: Kubectl) -> Kubectl:
    """The operator's RBAC installed, and the Gateway API's CRDs: `kubectl auth can-i`
    answers no for a resource the API server does not serve, whatever the rules say."""
    install_without_deployment(cluster)
    install_gateway_api(cluster)
    return cluster


def can_i(cluster: Kubectl, verb: str, resource: str) -> bool:
    resource, _, subresource = resource.partition("/")
    extra = [f"--subresource={subresource}"] if subresource else []
    result = cluster.run("auth", "can-i", verb, resource, *extra, f"--as={OPERATOR_ACCOUNT}",
                         "--all-namespaces", check=False, namespaced=False)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


@pytest.mark.parametrize(("verb", "resource"), NEEDED)
def test_allowed_what_it_needs(installed: Kubectl, verb: str, resource: str) -> None:
    assert can_i(installed, verb, resource)


@pytest.mark.parametrize(("verb", "resource"), DENIED)
def test_denied_the_rest(installed: Kubectl, verb: str, resource: str) -> None:
    assert not can_i(installed, verb, resource)


# Namespace users and Apps, through the built-in user-facing roles (manifests/aggregated-roles
# .yaml aggregates into them). Creating an App runs code in the namespace: `edit` and `admin`
# may, `view` may only read. Nobody but the operator writes the status.
APPS = "apps.appoperator.dev"
READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
ROLE_RULES: list[tuple[str, str, str, bool]] = [
    *[(role, verb, APPS, True) for role in ("view", "edit", "admin") for verb in READ],
    *[("view", verb, APPS, False) for verb in WRITE],
    *[(role, verb, APPS, True) for role in ("edit", "admin") for verb in WRITE],
    *[(role, verb, f"{APPS}/status", True) for role in ("view", "edit", "admin")
      for verb in READ],
    *[(role, verb, f"{APPS}/status", False) for role in ("view", "edit", "admin")
      for verb in ("update", "patch")],
    *[(role, "get", f"{APPS}/scale", True) for role in ("view", "edit", "admin")],
    *[("view", verb, f"{APPS}/scale", False) for verb in ("update", "patch")],
    *[(role, verb, f"{APPS}/scale", True) for role in ("edit", "admin")
      for verb in ("update", "patch")],
]


def user_of(namespace: str, role: str) -> str:
    return f"system:serviceaccount:{namespace}:{role}-user"


def aggregated(cluster: Kubectl, role: str) -> bool:
    """The clusterrole-aggregation controller has copied our rules into the built-in role."""
    rules = json.loads(cluster("get", "clusterrole", role, "-o", "json")).get("rules") or []
    want = {"view": "watch", "edit": "deletecollection", "admin": "deletecollection"}[role]
    return any("appoperator.dev" in r.get("apiGroups", []) and "apps" in r.get("resources", [])
               and want in r.get("verbs", []) for r in rules)


@pytest.fixture(scope="module")
def tenants(installed: Kubectl) -> Iterator[str]:
    """A namespace with three ServiceAccounts, bound to view, edit and admin there."""
    namespace = f"t-rbac-roles-{uuid.uuid4().hex[:5]}"
    installed("create", "namespace", namespace)
    kubectl = installed.in_namespace(namespace)
    try:
        for role in ("view", "edit", "admin"):
            kubectl("create", "serviceaccount", f"{role}-user")
            kubectl("create", "rolebinding", f"{role}-user", f"--clusterrole={role}",
                    f"--serviceaccount={namespace}:{role}-user")
            wait_for(f"App rules aggregated into {role}", lambda r=role: aggregated(installed, r))
        yield namespace
    finally:
        installed.run("delete", "namespace", namespace, "--wait=false", check=False)


def can_i_in(cluster: Kubectl, user: str, namespace: str, verb: str, resource: str) -> bool:
    resource, _, subresource = resource.partition("/")
    extra = [f"--subresource={subresource}"] if subresource else []
    result = cluster.run("auth", "can-i", verb, resource, *extra, f"--as={user}",
                         f"--namespace={namespace}", check=False, namespaced=False)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


@pytest.mark.parametrize(("role", "verb", "resource", "allowed"), ROLE_RULES)
def test_built_in_roles_cover_apps(installed: Kubectl, tenants: str, role: str, verb: str,
                                   resource: str, allowed: bool) -> None:
    assert can_i_in(installed, user_of(tenants, role), tenants, verb, resource) is allowed


@pytest.mark.parametrize("role", ["view", "edit", "admin"])
def test_roles_stop_at_their_namespace(installed: Kubectl, tenants: str, role: str) -> None:
    user = user_of(tenants, role)
    assert not can_i_in(installed, user, "default", "list", APPS)
    assert not can_i_in(installed, user, "default", "create", APPS)


def test_an_editor_runs_an_app_and_a_viewer_only_reads_it(installed: Kubectl,
                                                           tenants: str) -> None:
    namespace = installed.in_namespace(tenants)
    editor = namespace.as_user(user_of(tenants, "edit"))
    viewer = namespace.as_user(user_of(tenants, "view"))
    editor.apply(app_manifest("edited"))
    editor("scale", "app/edited", "--replicas=2")
    app = viewer.get("app", "edited")
    assert app is not None and app["spec"]["replicas"] == 2
    assert [a["metadata"]["name"] for a in viewer.items("apps")] == ["edited"]
    refused = viewer.run("apply", "-f", "-", stdin=json.dumps(app_manifest("viewed")),
                         check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
    refused = viewer.run("scale", "app/edited", "--replicas=3", check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
    refused = editor.run("patch", "app", "edited", "--subresource=status", "--type=merge",
                         "-p", '{"status": {"observedGeneration": 99}}', check=False)
    assert refused.returncode != 0 and "forbidden" in refused.stderr.lower(), refused.stderr
    editor("delete", "app", "edited")
