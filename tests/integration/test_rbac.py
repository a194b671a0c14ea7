"""The operator's ServiceAccount, as manifests/ installs it: allowed what it needs, denied
the dangerous rest. Checked by the API server's own authorizer (kubectl auth can-i)."""

import pytest

from tests.kube_helpers import OPERATOR_ACCOUNT, Kubectl, install_without_deployment

NEEDED = [
    ("get", "apps.appoperator.dev"), ("list", "apps.appoperator.dev"),
    ("watch", "apps.appoperator.dev"), ("patch", "apps.appoperator.dev/status"),
    ("update", "apps.appoperator.dev/finalizers"),
    *[(verb, resource) for resource in ("deployments.apps", "services", "persistentvolumeclaims",
                                        "configmaps")
      for verb in ("get", "list", "watch", "create", "patch", "delete")],
    ("create", "events"),
]
DENIED = [
    ("get", "secrets"), ("list", "secrets"), ("watch", "secrets"),
    ("create", "pods"), ("create", "pods/exec"), ("create", "pods/attach"),
    ("get", "persistentvolumes"), ("delete", "persistentvolumes"),
    ("update", "apps.appoperator.dev"), ("patch", "apps.appoperator.dev"),
    ("delete", "apps.appoperator.dev"), ("create", "apps.appoperator.dev"),
    ("update", "deployments.apps"), ("delete", "namespaces"), ("list", "nodes"),
    ("create", "serviceaccounts/token"), ("create", "clusterrolebindings"),
    ("escalate", "clusterroles"), ("bind", "clusterroles"), ("impersonate", "users"),
    ("impersonate", "serviceaccounts"), ("create", "customresourcedefinitions"),
    ("*", "*"),
]


@pytest.fixture(scope="module")
def installed(cluster: Kubectl) -> Kubectl:
    install_without_deployment(cluster)
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
