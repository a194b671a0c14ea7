"""Prometheus metrics, under the names controller-runtime gives them, so the dashboards and
alerts people already have for Kubernetes controllers work for this one too.

  controller_runtime_reconcile_total{controller,result}     success | error | requeue
  controller_runtime_reconcile_errors_total{controller}
  controller_runtime_reconcile_time_seconds{controller}     histogram
  controller_runtime_active_workers{controller}
  controller_runtime_max_concurrent_reconciles{controller}
  workqueue_depth{name}, workqueue_adds_total{name}, workqueue_retries_total{name}
  workqueue_queue_duration_seconds{name}                    histogram: added → handed out
  workqueue_work_duration_seconds{name}                     histogram: handed out → done
  rest_client_requests_total{code,method}                   every request to the API server
  leader_election_master_status{name}                       1 while this replica leads
  app_operator_informer_restarts_total{kind,reason}         lists again: expired | silent | error
  app_operator_apps{condition,status}                       Apps by their conditions, now

`app-operator run --metrics-bind-address HOST:PORT` serves them on /metrics (default :9090;
0 turns them off), and the readiness probe's answer on /readyz (runtime/health.py): kopf
serves one endpoint, the liveness probe's, and this server is the operator's other one.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTROLLER = "app"
REGISTRY = CollectorRegistry()
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

reconcile_total = Counter("controller_runtime_reconcile_total",
                          "Total number of reconciliations per controller",
                          ["controller", "result"], registry=REGISTRY)
reconcile_errors = Counter("controller_runtime_reconcile_errors_total",
                           "Total number of reconciliation errors per controller",
                           ["controller"], registry=REGISTRY)
reconcile_time = Histogram("controller_runtime_reconcile_time_seconds",
                           "Length of time per reconciliation per controller", ["controller"],
                           buckets=_BUCKETS, registry=REGISTRY)
active_workers = Gauge("controller_runtime_active_workers",
                       "Number of currently used workers per controller", ["controller"],
                       registry=REGISTRY)
max_workers = Gauge("controller_runtime_max_concurrent_reconciles",
                    "Maximum number of concurrent reconciles per controller", ["controller"],
                    registry=REGISTRY)
queue_depth = Gauge("workqueue_depth", "Current depth of workqueue", ["name"],
                    registry=REGISTRY)
queue_adds = Counter("workqueue_adds_total", "Total number of adds handled by workqueue",
                     ["name"], registry=REGISTRY)
queue_retries = Counter("workqueue_retries_total",
                        "Total number of retries handled by workqueue", ["name"],
                        registry=REGISTRY)
queue_duration = Histogram("workqueue_queue_duration_seconds",
                           "How long in seconds an item stays in workqueue before being "
                           "requested", ["name"], buckets=_BUCKETS, registry=REGISTRY)
work_duration = Histogram("workqueue_work_duration_seconds",
                          "How long in seconds processing an item from workqueue takes",
                          ["name"], buckets=_BUCKETS, registry=REGISTRY)
requests_total = Counter("rest_client_requests_total",
                         "Number of HTTP requests, partitioned by status code and method",
                         ["code", "method"], registry=REGISTRY)
leader = Gauge("leader_election_master_status",
               "Gauge of if the reporting system is master of the relevant lease, 0 "
               "indicates backup, 1 indicates master", ["name"], registry=REGISTRY)

informer_restarts = Counter("app_operator_informer_restarts_total",
                            "Watches that ended in a failure, after which the informer lists "
                            "again: expired (410 Gone), silent (no word past the watch's "
                            "timeout), error (any other)", ["kind", "reason"],
                            registry=REGISTRY)
ignored_objects = Gauge("app_operator_ignored_objects",
                        "Objects that carry the operator's labels but are no App's child (no "
                        "controller ownerReference to an App under the child's name, nor a "
                        "claim's annotations): anyone may set a label, so the caches keep only "
                        "their name and labels", ["kind"], registry=REGISTRY)


class AppConditions(Collector):
    """app_operator_apps{condition,status}: counted from the Apps' store at each scrape."""

    def __init__(self, apps: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self.apps = apps

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("app_operator_apps", "Apps by condition and its status",
                                   labels=["condition", "status"])
        counts: Tally[tuple[str, str]] = Tally()
        for app in self.apps():
            for condition in (app.get("status") or {}).get("conditions") or []:
                counts[(str(condition.get("type")), str(condition.get("status")))] += 1
        for condition in ("Ready", "Reconciling", "Stalled"):
            for status in ("True", "False", "Unknown"):
                family.add_metric([condition, status], counts.get((condition, status), 0))
        yield family


def watch_apps(apps: Callable[[], Iterable[dict[str, Any]]]) -> None:
    REGISTRY.register(AppConditions(apps))


# A probe's answer: whether it passes, and a JSON body that says why.
Probe = Callable[[], tuple[bool, dict[str, Any]]]
log = logging.getLogger("app_operator.metrics")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never holds the process up


class _Server6(_Server):
    address_family = socket.AF_INET6  # "[::]:9090"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A probe every few seconds is not news."""


def app(readiness: Probe | None = None) -> Callable[..., Iterable[bytes]]:
    """The WSGI application: /readyz answers 200 or 503 with the probe's JSON body, anything
    else is prometheus_client's (/metrics)."""
    metrics_app = make_wsgi_app(REGISTRY)

    def serve_request(environ: dict[str, Any],
                      start_response: Callable[..., Any]) -> Iterable[bytes]:
        if readiness is None or environ.get("PATH_INFO") != "/readyz":
            answer: Iterable[bytes] = metrics_app(environ, start_response)
            return answer
        try:
            ok, body = readiness()
        except Exception as error:  # the probe fails, the server does not
            log.exception("the readiness probe failed")
            ok, body = False, {"problems": [f"internal error: {type(error).__name__}: "
                                            f"{error}"]}
        data = json.dumps(body, sort_keys=True).encode() + b"\n"
        start_response("200 OK" if ok else "503 Service Unavailable",
                       [("Content-Type", "application/json"),
                        ("Content-Length", str(len(data)))])
        return [data]
    return serve_request


def serve(address: str, readiness: Probe | None = None) -> None:
    """Serve /metrics, and /readyz when `readiness` is given, on HOST:PORT (":9090" is every
    address), from a thread of its own."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    server_class = _Server6 if ":" in host else _Server
    server = make_server(host, int(port), app(readiness), server_class=server_class,
                         handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
