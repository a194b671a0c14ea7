"""`app-operator`: the command line.

  app-operator run [--namespace NS ...]          run the operator (all namespaces by default)
  app-operator crd                               print the App CRD
  app-operator render FILE...                    the children the operator would make
  app-operator convert run -- docker run ...     a `docker run` line as an App
  app-operator convert compose [FILE]            each service of a compose file as an App

`-` for a file reads standard input. Exit codes: see EXIT_CODES.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf

# One meaning per code, for scripts: argparse already exits 2 on a bad command line.
EXIT_DONE = 0
EXIT_REFUSED = 1  # the input cannot be read, parsed, converted or rendered; the reason is said
EXIT_USAGE = 2  # a bad command line (argparse's own code), or no compose file found
EXIT_WARNINGS = 3  # converted, but something could not be carried over (only with --strict)
EXIT_INTERNAL = 4  # a bug of app-operator: one line, --debug shows the traceback
EXIT_CODES = (
    "exit codes: 0 done; 1 input refused (unreadable, invalid, or not convertible: every "
    "reason is printed); 2 usage error (bad command line, no compose file found); 3 "
    "converted with warnings, only with --strict; 4 internal error (a bug, or a broken "
    "install; --debug shows the traceback)")
# The file names `docker compose` looks for when given none, in its order of preference.
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
# Those it merges into that file: app-operator does not (yet), and says so.
COMPOSE_OVERRIDE_NAMES = ("compose.override.yaml", "compose.override.yml",
                          "docker-compose.override.yml", "docker-compose.override.yaml")


def quiet_probe_failures(record: logging.LogRecord) -> bool:
    """kopf answers a failing liveness probe with 500 by letting its ActivityError reach its
    web server, which logs 30 lines of traceback at each probe; kopf has said why in one line
    before ("Activity 'health' failed permanently: not alive: ...")."""
    error = record.exc_info[1] if record.exc_info else None
    return type(error).__name__ != "ActivityError"


def _run(args: argparse.Namespace) -> int:
    from app_operator.runtime.handlers import RunOptions, Settings  # registers the handlers

    timings = (args.leader_elect_retry_period, args.leader_elect_renew_deadline,
               args.leader_elect_lease_duration)
    if not 0 < timings[0] < timings[1] < timings[2]:
        # Else a leader could still write after a standby took over.
        print("error: leader election needs 0 < --leader-elect-retry-period < "
              "--leader-elect-renew-deadline < --leader-elect-lease-duration (got "
              f"{timings[0]:g}, {timings[1]:g}, {timings[2]:g})", file=sys.stderr)
        return EXIT_USAGE
    # The options reach the startup handler inside kopf's settings, which kopf hands it.
    settings = Settings(app_operator=RunOptions(
        namespaces=list(args.namespace), workers=args.workers,
        resync_seconds=args.resync_seconds, qps=args.qps, burst=args.burst,
        metrics_address=args.metrics_bind_address,
        leader_election_namespace=(
            args.leader_election_namespace or os.environ.get("POD_NAMESPACE") or "default"
        ) if args.leader_elect else None,
        leader_election_id=args.leader_election_id,
        lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline,
        retry_period=args.leader_elect_retry_period))
    # kopf would otherwise look the UID up in /etc/passwd, where an arbitrary non-root UID
    # (the image's 10001, or one a platform assigns) is not listed. (kopf's Identity is a
    # NewType of str.)
    identity: Any = f"app-operator@{socket.gethostname()}"
    kopf.configure(verbose=args.verbose, log_prefix=False)
    if not args.verbose:
        # kopf reports every handled watch event; the operator's own logs say what changed.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
        # kopf says "succeeded" at each liveness probe, and its web server logs each request;
        # a failing probe is logged as an error.
        logging.getLogger("kopf.activities.probe").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.server").addFilter(quiet_probe_failures)
    kopf.run(
        settings=settings,
        identity=identity,
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),
        liveness_endpoint=args.liveness,
    )
    return 0


def _crd(_: argparse.Namespace) -> int:
    from app_operator.core.crd import render_yaml

    sys.stdout.write(render_yaml())
    return 0


def _guarded(handler: Callable[[argparse.Namespace], int]) -> Callable[
        [argparse.Namespace], int]:
    """An error the converter or renderer did not foresee exits 4 with one line (the
    traceback only with --debug), never with a code that means "refused" or "warnings"."""
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except KeyboardInterrupt:
            raise
        except Exception as error:  # the whole point: nothing escapes as a traceback
            if getattr(args, "debug", False):
                import traceback

                traceback.print_exc()
            detail = " ".join(str(error).split())[:300]
            print(f"error: internal error ({type(error).__name__}: {detail}); this is a bug of "
                  "app-operator, please report it" + ("" if getattr(args, "debug", False)
                                                      else " (--debug shows the traceback)"),
                  file=sys.stderr)
            return EXIT_INTERNAL
    return run


def _write_objects(objects: list[dict[str, Any]], output: str, header: str = "") -> None:
    """YAML documents (after a comment header), or JSON as `kubectl get -o json` prints it:
    one object alone, several in a v1 List; either goes to `kubectl apply -f -`."""
    if output == "json":
        import json

        document: Any = objects[0] if len(objects) == 1 else {
            "apiVersion": "v1", "kind": "List", "items": objects}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    from app_operator.core import yamlout

    sys.stdout.write(header + "---\n".join(yamlout.dump(o) for o in objects))


def _print_conversions(conversions: list[Any], header: str, strict: bool, output: str) -> int:
    warnings = [w for c in conversions for w in c.warnings]
    commands = [command for c in conversions for command in c.commands]
    if commands:
        header += "# Before applying, run:\n" + "".join(
            "".join(f"#   {line}\n" for line in command.splitlines()) for command in commands)
    _write_objects([c.app for c in conversions], output, header)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if commands:
        print("before `kubectl apply`, run:", file=sys.stderr)
        for command in commands:
            print(f"  {command}", file=sys.stderr)
    return EXIT_WARNINGS if strict and warnings else EXIT_DONE


def _read_input(name: str) -> str:
    """The text of a file, or of standard input for `-` (as UTF-8 either way)."""
    if name == "-":
        raw = getattr(sys.stdin, "buffer", None)
        return raw.read().decode("utf-8") if raw is not None else sys.stdin.read()
    with open(name, encoding="utf-8") as handle:
        return handle.read()


def _convert_run(args: argparse.Namespace) -> int:
    import shlex

    from app_operator.convert.converter import DiskFiles, Refused, convert_run

    words = list(args.words)
    if words[:1] == ["--"]:
        words = words[1:]
    if words == ["-"]:  # the command on standard input, maybe over lines ending in `\`
        try:
            words = [_read_input("-").replace("\\\n", " ")]
        except UnicodeDecodeError as error:
            print(f"error: standard input is not UTF-8 text: {error}", file=sys.stderr)
            return EXIT_REFUSED
    if not words or words == [""]:
        print("error: give the docker run command after --, or - to read it from standard "
              "input", file=sys.stderr)
        return EXIT_USAGE
    if len(words) == 1 and (" " in words[0] or "\n" in words[0]):
        try:
            words = shlex.split(words[0])  # the whole command given as one quoted string
        except ValueError as error:
            print(f"error: cannot split the command: {error}", file=sys.stderr)
            return EXIT_REFUSED
    try:
        conversion = convert_run(words, namespace=args.namespace, files=DiskFiles(Path.cwd()),
                                 environ=os.environ, dirs_as_files=args.files_from_dirs)
    except Refused as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    header = f"# app-operator convert run -- {shlex.join(words)}\n"
    return _print_conversions([conversion], header, args.strict, args.output)


def find_compose_file(start: Path) -> tuple[Path | None, list[Path]]:
    """The compose file `docker compose` takes when given none: the first of its names in the
    directory, else in the nearest parent that has one; and every candidate of that
    directory (more than one: it warns, as docker compose does)."""
    for directory in (start, *start.parents):
        candidates = [directory / name for name in COMPOSE_FILE_NAMES
                      if (directory / name).is_file()]
        if candidates:
            return candidates[0], candidates
    return None, []


def _convert_compose(args: argparse.Namespace) -> int:
    import yaml

    from app_operator.convert import compose_schema
    from app_operator.convert.converter import (
        DiskFiles,
        Refused,
        convert_compose,
        parse_env_file,
    )

    if args.file is None:
        found, candidates = find_compose_file(Path.cwd())
        if found is None:
            print(f"error: no compose file given, and none of {', '.join(COMPOSE_FILE_NAMES)} "
                  "in this directory or its parents; name one, or - for standard input",
                  file=sys.stderr)
            return EXIT_USAGE
        if len(candidates) > 1:
            print("warning: found several compose files: "
                  f"{', '.join(map(str, candidates))}; using {found}", file=sys.stderr)
        for override in filter(Path.is_file, (found.parent / name
                                              for name in COMPOSE_OVERRIDE_NAMES)):
            # docker compose would merge it; naming both files is not supported yet.
            print(f"warning: {override} is not read (docker compose would merge it into "
                  f"{found.name})", file=sys.stderr)
        args.file = os.path.relpath(found)
    # A compose file on standard input is read as if it were in the current directory, as
    # `docker compose -f -` does: its relative paths and .env are taken from there.
    path = Path.cwd() / "compose.yaml" if args.file == "-" else Path(args.file)
    name = "standard input" if args.file == "-" else args.file
    try:
        document = yaml.safe_load(_read_input(args.file))
    except OSError as error:
        print(f"error: {name}: {error.strerror or error}", file=sys.stderr)
        return EXIT_REFUSED
    except UnicodeDecodeError as error:
        print(f"error: {name} is not UTF-8 text: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        print(f"error: {name} is not valid YAML: {detail}", file=sys.stderr)
        return EXIT_REFUSED
    environ = dict(os.environ)
    dotenv = path.parent / ".env"
    if dotenv.is_file():  # Compose reads .env next to the file; the shell wins over it
        try:
            text = dotenv.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"error: {dotenv}: {error}", file=sys.stderr)
            return EXIT_REFUSED
        for entry in parse_env_file(text, str(dotenv), []):
            environ.setdefault(entry["name"], entry["value"])
    try:
        schema = compose_schema.load()
    except compose_schema.SchemaUnavailable as error:
        print(f"error: cannot validate {name}: {error}", file=sys.stderr)
        return EXIT_INTERNAL  # an install without its pinned schema: not the input's fault
    shown = "" if args.file == "-" else os.path.dirname(args.file)
    try:
        conversions = convert_compose(
            document, schema=schema, namespace=args.namespace, environ=environ,
            files=DiskFiles(path.parent, "" if shown in ("", ".") else shown),
            image_prefix=args.image_prefix, image_tag=args.image_tag,
            dirs_as_files=args.files_from_dirs)
    except Refused as error:
        lines = str(error).splitlines()
        if len(lines) == 1:
            print(f"error: {name}: {lines[0]}", file=sys.stderr)
        else:
            print(f"error: {name} cannot be converted:", file=sys.stderr)
            for line in lines:
                print(f"  {line}", file=sys.stderr)
        return EXIT_REFUSED
    header = f"# app-operator convert compose {args.file}\n"
    return _print_conversions(conversions, header, args.strict, args.output)


def _render(args: argparse.Namespace) -> int:
    import yaml
    from pydantic import ValidationError

    from app_operator.core.model import AppSpec
    from app_operator.core.render import AppRef, render_all

    objects = []
    for path in args.files:
        try:
            documents = list(yaml.safe_load_all(_read_input(path)))
        except OSError as error:
            print(f"error: {path}: {error.strerror or error}", file=sys.stderr)
            return EXIT_REFUSED
        except UnicodeDecodeError as error:
            print(f"error: {path} is not UTF-8 text: {error}", file=sys.stderr)
            return EXIT_REFUSED
        except yaml.YAMLError as error:
            print(f"error: {path} is not valid YAML: {' '.join(str(error).split())}",
                  file=sys.stderr)
            return EXIT_REFUSED
        for number, document in enumerate(documents, 1):
            if document is None:
                continue
            if not isinstance(document, dict):
                print(f"error: {path}: document {number} is not a Kubernetes object",
                      file=sys.stderr)
                return EXIT_REFUSED
            if document.get("kind") != "App":
                continue
            meta = document.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) else None
            if not isinstance(name, str) or not name:
                print(f"error: {path}: document {number}: an App needs metadata.name",
                      file=sys.stderr)
                return EXIT_REFUSED
            namespace = (meta or {}).get("namespace") or args.namespace
            app = AppRef(name=name, namespace=str(namespace),
                         uid="00000000-0000-0000-0000-000000000000")
            try:
                spec = AppSpec.model_validate(document.get("spec") or {})
            except ValidationError as error:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}"
                                     for e in error.errors())
                print(f"error: {path}: App {name}: {problems}", file=sys.stderr)
                return EXIT_REFUSED
            objects.extend(render_all(app, spec).objects())
    _write_objects(objects, args.output)
    return EXIT_DONE


def version() -> str:
    """The installed package's version (pyproject.toml is its one source; release bundles,
    the chart and the image's labels carry the same)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("app-operator")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="app-operator",
        description="Keeps a Deployment, a Service and PersistentVolumeClaims in step with "
        "each App resource.",
        epilog=EXIT_CODES,
    )
    top.add_argument("--version", action="version", version=f"app-operator {version()}")
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
    run.add_argument("--metrics-bind-address", default=":9090", metavar="HOST:PORT",
                     help="serve Prometheus metrics on /metrics there (default :9090); "
                     "0 turns them off")
    run.add_argument("--leader-elect", action="store_true",
                     help="run as one of several replicas: only the holder of a Lease "
                     "writes (the others wait to take over)")
    run.add_argument("--leader-election-namespace", default=None,
                     help="namespace of the Lease (default: $POD_NAMESPACE)")
    run.add_argument("--leader-election-id", default="app-operator",
                     help="name of the Lease (default: app-operator)")
    run.add_argument("--leader-elect-lease-duration", type=float, default=15.0,
                     metavar="SECONDS", help="a standby takes the Lease over once it has not "
                     "seen it renewed for this long (default: 15)")
    run.add_argument("--leader-elect-renew-deadline", type=float, default=10.0,
                     metavar="SECONDS", help="the leader stops writing, and exits, when it "
                     "could not renew the Lease for this long; shorter than the lease "
                     "duration (default: 10)")
    run.add_argument("--leader-elect-retry-period", type=float, default=2.0,
                     metavar="SECONDS", help="how often the Lease is renewed, or tried by a "
                     "standby; shorter than the renew deadline (default: 2)")
    run.add_argument("--liveness", default=None, metavar="URL",
                     help="serve the liveness probe there, e.g. http://0.0.0.0:8080/healthz: "
                     "500 when a worker, informer or the leader election is dead or stuck "
                     "(the readiness probe is /readyz on --metrics-bind-address)")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    run.set_defaults(handler=_run)
    crd = commands.add_parser("crd", help="print the App CustomResourceDefinition")
    crd.set_defaults(handler=_crd)
    render = commands.add_parser(
        "render", help="print the Deployment, Service and claims the operator would make of "
        "App files (no cluster needed)")
    render.add_argument("files", nargs="+", metavar="FILE",
                        help="App YAML files (- reads standard input)")
    render.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml",
                        help="print YAML documents (default) or JSON (several objects in a "
                        "v1 List)")
    render.add_argument("-n", "--namespace", default="default",
                        help="namespace for Apps that name none (default: default)")
    render.add_argument("--debug", action="store_true",
                        help="show the traceback of an internal error")
    render.set_defaults(handler=_guarded(_render))
    render.epilog = EXIT_CODES
    convert = commands.add_parser(
        "convert", help="print App resources for a `docker run` line or a compose file",
        description="Prints App YAML on stdout, warnings and the commands to run first "
        "(docker build and push, kubectl create secret) on stderr.", epilog=EXIT_CODES)
    sources = convert.add_subparsers(dest="source", required=True)
    for name, handler, help_text in (
        ("run", _convert_run, "app-operator convert run -- docker run -d -p 8080:80 nextcloud"),
        ("compose", _convert_compose, "app-operator convert compose [docker-compose.yml]"),
    ):
        sub = sources.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES)
        sub.add_argument("-n", "--namespace", help="put the Apps in this namespace")
        sub.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml",
                         help="print YAML documents (default), with the commands to run first "
                         "as comments, or JSON (several Apps in a v1 List)")
        sub.add_argument("--strict", action="store_true",
                         help="exit 3 when anything could not be translated")
        sub.add_argument("--files-from-dirs", action="store_true",
                         help="mount each file of a bind-mounted directory read-only (a copy "
                         "of it now) instead of refusing the directory")
        sub.add_argument("--debug", action="store_true",
                         help="show the traceback of an internal error")
        if name == "run":
            sub.add_argument("words", nargs=argparse.REMAINDER,
                             help="the docker run command, after -- (or - alone: read it from "
                             "standard input)")
        else:
            sub.add_argument("--image-prefix", metavar="REGISTRY/PATH",
                             help="name the images of services that have `build:` "
                             "REGISTRY/PATH/<service>:TAG and print their docker build and "
                             "push commands")
            sub.add_argument("--image-tag", default="latest", metavar="TAG",
                             help="tag of those images (default: latest)")
            sub.add_argument("file", nargs="?", default=None,
                             help="the compose file; - reads standard input (relative paths "
                             "from the current directory); none: the first of "
                             f"{', '.join(COMPOSE_FILE_NAMES)} in the current directory or "
                             "its nearest parent that has one, as docker compose does")
        sub.set_defaults(handler=_guarded(handler))
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
