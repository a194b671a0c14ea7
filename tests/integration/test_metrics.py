"""The operator's Prometheus metrics, scraped while it works: the names controller-runtime
uses, and values that follow what happens."""

from __future__ import annotations

from pathlib import Path

from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    free_port,
    scrape,
    wait_for,
    wait_ready,
    wait_stalled,
)


def test_metrics_follow_the_reconciles_and_the_apps(kubectl: Kubectl, namespace: str,
                                                   tmp_path: Path) -> None:
    port = free_port()
    operator = OperatorProcess(kubectl.kubeconfig, [namespace], tmp_path / "operator.log",
                               extra_args=("--metrics-bind-address", f"127.0.0.1:{port}"))
    operator.start()
    try:
        before = scrape(port)
        assert before['controller_runtime_max_concurrent_reconciles{controller="app"}'] == 8
        kubectl.apply(app_manifest())
        wait_ready(kubectl)
        # A foreign Service of the second App's name: it stalls (NameConflict).
        kubectl("create", "service", "clusterip", "taken", "--tcp=80:80")
        kubectl.apply(app_manifest("taken"))
        wait_stalled(kubectl, "taken", "NameConflict")

        def counted() -> dict[str, float] | None:
            now = scrape(port)
            stalled = now.get('app_operator_apps{condition="Stalled",status="True"}')
            ready = now.get('app_operator_apps{condition="Ready",status="True"}')
            return now if stalled == 1 and ready == 1 else None

        after = wait_for("the gauges to count one Ready and one Stalled App", counted)
        success = 'controller_runtime_reconcile_total{controller="app",result="success"}'
        requeue = 'controller_runtime_reconcile_total{controller="app",result="requeue"}'
        assert after[success] > before.get(success, 0)
        assert after[requeue] >= 1
        assert after['workqueue_adds_total{name="app"}'] > 0
        assert after['controller_runtime_reconcile_time_seconds_count{controller="app"}'] > 0
        assert after['workqueue_queue_duration_seconds_count{name="app"}'] > 0
        assert after['workqueue_retries_total{name="app"}'] >= 1
        assert any(key.startswith('rest_client_requests_total{code="200"') for key in after)
        assert after['controller_runtime_active_workers{controller="app"}'] >= 0
    finally:
        operator.stop()
