"""`kubectl get` of Apps in a cluster that also has Argo CD's Application CRD (issue 22, 6).

Argo CD's Application has the short names `app` and `apps`, the very words of this CRD's
singular and plural: which resource `kubectl get app` means then depends on kubectl's version.
The App CRD has a short name of its own, `appop`, and `apps.appoperator.dev` is never
ambiguous; these tests run both against the real API server with Argo CD's real CRD (from its
Go module, as tests/gitops gets it) installed beside this one.

Argo CD's CRD is left in place when it was there before (tests/gitops installs it and leaves
it for other sessions on the shared cluster) and removed when this module installed it, so
that a run of this module alone leaves the cluster as it found it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.gitops.test_install_examples import ARGO_CD, install_crds
from tests.kube_helpers import Kubectl, app_manifest, wait_for

# A cold module cache downloads the Argo CD module (56 MB) on first use.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

ARGO_CRD = "applications.argoproj.io"


@pytest.fixture(scope="module")
def argocd_crd(cluster: Kubectl) -> Iterator[None]:
    present_before = cluster.get("customresourcedefinition", ARGO_CRD) is not None
    install_crds(cluster, ARGO_CD)
    yield
    if not present_before:
        cluster.run("delete", "customresourcedefinition", ARGO_CRD, "--wait=false",
                    check=False)


def names(kubectl: Kubectl, resource: str) -> list[str]:
    return kubectl("get", resource, "-o", "name").split()


def application(name: str, namespace: str) -> dict[str, object]:
    """An Argo CD Application as its CRD accepts it (no Argo CD controller runs)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name},
        "spec": {"project": "default",
                 "source": {"repoURL": "https://example.com/guestbook.git", "path": ".",
                            "targetRevision": "HEAD"},
                 "destination": {"server": "https://kubernetes.default.svc",
                                 "namespace": namespace}},
    }


def test_apps_by_short_name_and_full_name_beside_argocd(
        argocd_crd: None, kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(app_manifest("web"))
    kubectl.apply(application("guestbook", namespace))
    ours = ["app.appoperator.dev/web"]
    argos = ["application.argoproj.io/guestbook"]
    # The short name is new to kubectl's discovery cache, which it refreshes on a miss.
    wait_for("`kubectl get appop` to list the App",
             lambda: kubectl.run("get", "appop", "-o", "name", check=False).stdout.split()
             == ours, timeout=60)
    assert names(kubectl, "apps.appoperator.dev") == ours
    assert names(kubectl, "app.appoperator.dev") == ours
    assert names(kubectl, "appop/web") == ours
    assert names(kubectl, "applications.argoproj.io") == argos
    assert names(kubectl, "application") == argos
    # kubectl 1.36 (the tests' version-matched one) takes the exact singular and plural of this
    # CRD over Argo CD's short names: the tests that say `kubectl get app` keep meaning Apps with
    # Argo CD's CRD installed. Older kubectl may not: the docs name `appop` and the full form.
    assert names(kubectl, "app") == ours
    assert names(kubectl, "apps") == ours


def test_the_crd_says_its_short_name_to_discovery(argocd_crd: None, cluster: Kubectl) -> None:
    resources = cluster("api-resources", "--api-group=appoperator.dev", "--no-headers").split()
    assert resources[:3] == ["apps", "appop", "appoperator.dev/v1alpha1"]
    argo = cluster("api-resources", "--api-group=argoproj.io", "--no-headers").split()
    assert "app,apps" in argo  # the collision this short name avoids is real
