"""`app-operator`: the command line.

  app-operator run [--namespace NS ...]          run the operator (all namespaces by default)
  app-operator crd                               print the App CRD
  app-operator render FILE...                    the children the operator would make
  app-operator convert run -- docker run ...     a `docker run` line as an App
  app-operator convert compose FILE              each service of a compose file as an App
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from typing import Any

import kopf


def _run(args: argparse.Namespace) -> int:
    os.environ["APP_OPERATOR_WORKERS"] = str(args.workers)
    os.environ["APP_OPERATOR_RESYNC_SECONDS"] = str(args.resync_seconds)
    os.environ["APP_OPERATOR_NAMESPACES"] = ",".join(args.namespace)
    os.environ["APP_OPERATOR_QPS"] = str(args.qps)
    os.environ["APP_OPERATOR_BURST"] = str(args.burst)
    if args.leader_elect:
        os.environ["APP_OPERATOR_LEADER_ELECTION_NAMESPACE"] = (
            args.leader_election_namespace or os.environ.get("POD_NAMESPACE") or "default")
        os.environ["APP_OPERATOR_LEADER_ELECTION_ID"] = args.leader_election_id
    import app_operator.handlers  # noqa: F401  (registers the handlers)

    # kopf would otherwise look the UID up in /etc/passwd, where an arbitrary non-root UID
    # (the image's 10001, or one a platform assigns) is not listed. (kopf's Identity is a
    # NewType of str.)
    identity: Any = f"app-operator@{socket.gethostname()}"
    kopf.configure(verbose=args.verbose, log_prefix=False)
    if not args.verbose:
        # kopf reports every handled watch event; the operator's own logs say what changed.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    kopf.run(
        identity=identity,
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


def _print_conversions(conversions: list[Any], header: str, strict: bool) -> int:
    from app_operator import yamlout

    warnings = [w for c in conversions for w in c.warnings]
    documents = [yamlout.dump(c.app) for c in conversions]
    sys.stdout.write(header + "---\n".join(documents))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 1 if strict and warnings else 0


def _convert_run(args: argparse.Namespace) -> int:
    import shlex

    from app_operator.convert import Refused, convert_run

    words = list(args.words)
    if words[:1] == ["--"]:
        words = words[1:]
    if len(words) == 1 and " " in words[0]:
        words = shlex.split(words[0])  # the whole command given as one quoted string
    try:
        conversion = convert_run(words, namespace=args.namespace, read_file=_read_text,
                                 environ=os.environ)
    except Refused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    header = f"# app-operator convert run -- {shlex.join(words)}\n"
    return _print_conversions([conversion], header, args.strict)


def _convert_compose(args: argparse.Namespace) -> int:
    from pathlib import Path

    import yaml

    from app_operator import compose_schema
    from app_operator.convert import Refused, convert_compose

    path = Path(args.file)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        print(f"error: {args.file}: {error.strerror or error}", file=sys.stderr)
        return 2
    except yaml.YAMLError as error:
        print(f"error: {args.file} is not valid YAML: {error}", file=sys.stderr)
        return 2
    environ = dict(os.environ)
    dotenv = path.parent / ".env"
    if dotenv.exists():  # Compose reads .env next to the file; the shell wins over it
        from app_operator.convert import parse_env_file

        for entry in parse_env_file(dotenv.read_text(), str(dotenv), []):
            environ.setdefault(entry["name"], entry["value"])
    try:
        schema = compose_schema.load()
    except compose_schema.SchemaUnavailable as error:
        print(f"error: cannot validate {args.file}: {error}", file=sys.stderr)
        return 2
    try:
        conversions = convert_compose(
            document, schema=schema, namespace=args.namespace, environ=environ,
            read_file=lambda name: (path.parent / name).read_text())
    except Refused as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 2
    header = f"# app-operator convert compose {args.file}\n"
    return _print_conversions(conversions, header, args.strict)


def _render(args: argparse.Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    from app_operator import yamlout
    from app_operator.model import AppSpec
    from app_operator.render import AppRef, render_all

    objects = []
    for path in args.files:
        for document in yaml.safe_load_all(_read_text(path)):
            if not document or document.get("kind") != "App":
                continue
            meta = document.get("metadata") or {}
            app = AppRef(name=meta.get("name", ""), namespace=meta.get("namespace") or
                         args.namespace, uid="00000000-0000-0000-0000-000000000000")
            try:
                spec = AppSpec.model_validate(document.get("spec") or {})
            except ValidationError as error:
                print(f"error: {path}: App {app.name}: {error}", file=sys.stderr)
                return 2
            objects.extend(render_all(app, spec).objects())
    sys.stdout.write(yamlout.dump_all(objects))
    return 0


def _read_text(name: str) -> str:
    with open(name, encoding="utf-8") as handle:
        return handle.read()


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
    run.add_argument("--qps", type=float, default=100.0,
                     help="requests per second to the API server, at most, on average; "
                     "0: no limit (default: 100)")
    run.add_argument("--burst", type=int, default=200,
                     help="requests at once above --qps (default: 200)")
    run.add_argument("--leader-elect", action="store_true",
                     help="run as one of several replicas: only the holder of a Lease "
                     "writes (the others wait to take over)")
    run.add_argument("--leader-election-namespace", default=None,
                     help="namespace of the Lease (default: $POD_NAMESPACE)")
    run.add_argument("--leader-election-id", default="app-operator",
                     help="name of the Lease (default: app-operator)")
    run.add_argument("--liveness", default=None, metavar="URL",
                     help="serve a liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    run.set_defaults(handler=_run)
    crd = commands.add_parser("crd", help="print the App CustomResourceDefinition")
    crd.set_defaults(handler=_crd)
    render = commands.add_parser(
        "render", help="print the Deployment, Service and claims the operator would make of "
        "App files (no cluster needed)")
    render.add_argument("files", nargs="+", help="App YAML files")
    render.add_argument("-n", "--namespace", default="default",
                        help="namespace for Apps that name none (default: default)")
    render.set_defaults(handler=_render)
    convert = commands.add_parser(
        "convert", help="print App resources for a `docker run` line or a compose file",
        description="Prints App YAML on stdout, warnings on stderr. Exit codes: 0 converted; "
        "1 converted with warnings (only with --strict); 2 refused, with the reason.")
    sources = convert.add_subparsers(dest="source", required=True)
    for name, handler, help_text in (
        ("run", _convert_run, "app-operator convert run -- docker run -d -p 8080:80 nextcloud"),
        ("compose", _convert_compose, "app-operator convert compose docker-compose.yml"),
    ):
        sub = sources.add_parser(name, help=help_text)
        sub.add_argument("-n", "--namespace", help="put the Apps in this namespace")
        sub.add_argument("--strict", action="store_true",
                         help="exit 1 when anything could not be translated")
        if name == "run":
            sub.add_argument("words", nargs=argparse.REMAINDER,
                             help="the docker run command, after --")
        else:
            sub.add_argument("file", help="the compose file")
        sub.set_defaults(handler=handler)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
