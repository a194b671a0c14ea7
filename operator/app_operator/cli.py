"""`app-operator`: the command line.

  app-operator run [--namespace NS ...]   run the operator (all namespaces by default)
  app-operator crd                        print the App CRD
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import kopf


def _run(args: argparse.Namespace) -> int:
    os.environ["APP_OPERATOR_WORKERS"] = str(args.workers)
    os.environ["APP_OPERATOR_RESYNC_SECONDS"] = str(args.resync_seconds)
    import app_operator.handlers  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=args.verbose, log_prefix=False)
    if not args.verbose:
        # kopf reports every handled watch event; the operator's own logs say what changed.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    kopf.run(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),
        liveness_endpoint=args.liveness,
    )
    return 0


def _crd(_: argparse.Namespace) -> int:
    from app_operator.crd import render_yaml

    sys.stdout.write(render_yaml())
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="app-operator",
        description="Keeps a Deployment, a Service and PersistentVolumeClaims in step with "
        "each App resource.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the operator")
    run.add_argument("-n", "--namespace", action="append", default=[],
                     help="watch only this namespace (repeatable; default: all namespaces)")
    run.add_argument("--workers", type=int, default=8,
                     help="Apps reconciled in parallel (default: 8)")
    run.add_argument("--resync-seconds", type=float, default=300.0,
                     help="reconcile every App at least this often (default: 300)")
    run.add_argument("--liveness", default=None, metavar="URL",
                     help="serve a liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    run.set_defaults(handler=_run)
    crd = commands.add_parser("crd", help="print the App CustomResourceDefinition")
    crd.set_defaults(handler=_crd)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
