"""`app-operator`: the command line.

  app-operator run [--namespace NS ...]          run the operator (all namespaces by default)
  app-operator crd                               print the App CRD
  app-operator render FILE...                    the children the operator would make
  app-operator convert run -- docker run ...     a `docker run` line as an App
  app-operator convert compose [FILE]            each service of a compose file as an App
  app-operator up [-f FILE] [--profile P]        convert, apply, wait until Ready, print URLs
  app-operator down [-f FILE] [--volumes]        delete what up applied (claims kept)

`-` for a file reads standard input. Exit codes: see EXIT_CODES.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf

# One meaning per code, for scripts: argparse already exits 2 on a bad command line.
EXIT_DONE = 0
EXIT_REFUSED = 1  # the input cannot be read, parsed, converted or rendered; the reason is said
EXIT_USAGE = 2  # a bad command line (argparse's own code), or no compose file found
EXIT_WARNINGS = 3  # converted, but something could not be carried over (only with --strict)
EXIT_INTERNAL = 4  # a bug of app-operator: one line, --debug shows the traceback
EXIT_NOT_READY = 5  # up: applied, but not every App was Ready within --timeout
EXIT_CLUSTER = 6  # up, down: no usable kubeconfig, the cluster unreachable or refusing
EXIT_CODES = (
    "exit codes: 0 done; 1 input refused (unreadable, invalid, or not convertible: every "
    "reason is printed); 2 usage error (bad command line, no compose file found); 3 "
    "converted with warnings, only with --strict; 4 internal error (a bug, or a broken "
    "install; --debug shows the traceback); up and down: 5 applied but not Ready within "
    "--timeout (the Apps are named); 6 no usable kubeconfig, or the cluster could not be "
    "reached or refused a request")
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
                                 environ=os.environ, dirs_as_files=args.files_from_dirs,
                                 gateway=args.gateway)
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


@dataclass
class ComposeProject:
    """A compose file converted: its Apps, the parsed document (for the project's name) and
    the file's path (None for standard input)."""

    conversions: list[Any]
    document: dict[str, Any]
    path: Path | None
    environ: dict[str, str]


def _load_compose(args: argparse.Namespace) -> ComposeProject | int:
    """The compose file named (or the one docker compose would take) converted to Apps, or
    the exit code after saying why not: `convert compose` and `up` read it the same way, so
    `up` refuses nothing that `convert` accepts."""
    import yaml

    from app_operator.convert import compose_schema, compose_yaml
    from app_operator.convert.converter import (
        DiskFiles,
        Refused,
        convert_compose,
        parse_env_file,
    )

    if getattr(args, "file_option", None) is not None:
        if args.file is not None and args.file != args.file_option:
            print(f"error: two compose files named ({args.file} and -f {args.file_option}); "
                  "name one", file=sys.stderr)
            return EXIT_USAGE
        args.file = args.file_option
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
        document = compose_yaml.load(_read_input(args.file))
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
    if getattr(args, "project_name", None):  # up's -p: the name the converter sees too
        environ["COMPOSE_PROJECT_NAME"] = args.project_name
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
            dirs_as_files=args.files_from_dirs, profiles=args.profile,
            gateway=args.gateway)
    except Refused as error:
        lines = str(error).splitlines()
        if len(lines) == 1:
            print(f"error: {name}: {lines[0]}", file=sys.stderr)
        else:
            print(f"error: {name} cannot be converted:", file=sys.stderr)
            for line in lines:
                print(f"  {line}", file=sys.stderr)
        return EXIT_REFUSED
    return ComposeProject(conversions, document, None if args.file == "-" else path, environ)


def _convert_compose(args: argparse.Namespace) -> int:
    loaded = _load_compose(args)
    if isinstance(loaded, int):
        return loaded
    header = f"# app-operator convert compose {args.file}\n"
    return _print_conversions(loaded.conversions, header, args.strict, args.output)


def _connect(args: argparse.Namespace) -> Any:
    from app_operator.deploy.cluster import connect

    return connect(args.kubeconfig, args.context, args.namespace)


def _cluster_failure(error: Exception) -> int:
    """Say why the cluster could not be used; the exit code tells a refused input (the API
    server found an object invalid) from a cluster problem."""
    from app_operator.runtime.kube import KubeError

    if isinstance(error, KubeError):
        if error.status in (400, 422):
            print(f"error: the API server refused it: {error.message}", file=sys.stderr)
            return EXIT_REFUSED
        if error.status == 401:
            print("error: the cluster does not accept the kubeconfig's credentials (401 "
                  "Unauthorized): log in again, or choose another --context", file=sys.stderr)
        elif error.status == 0:
            print(f"error: cannot reach the cluster: {error.message}", file=sys.stderr)
        elif error.transient:
            print(f"error: the cluster answered with an error: {error}", file=sys.stderr)
        else:
            print(f"error: the API server refused a request: {error}", file=sys.stderr)
        return EXIT_CLUSTER
    print(f"error: {error}", file=sys.stderr)
    return EXIT_CLUSTER


def _project_name(args: argparse.Namespace, document: Any, path: Path | None,
                  environ: dict[str, str]) -> str | None:
    from app_operator.deploy.project import BadProjectName, project_name

    try:
        return project_name(args.project_name, document, path, environ)
    except BadProjectName as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def _up(args: argparse.Namespace) -> int:
    from app_operator.core import model
    from app_operator.deploy import progress
    from app_operator.deploy.cluster import ClusterError
    from app_operator.deploy.project import selector
    from app_operator.deploy.up import apply_project, describe
    from app_operator.runtime.kube import KubeError

    try:
        cluster = _connect(args)
    except ClusterError as error:
        return _cluster_failure(error)
    args.namespace = cluster.namespace  # secrets' commands name it, as convert -n does
    loaded = _load_compose(args)
    if isinstance(loaded, int):
        return loaded
    project = _project_name(args, loaded.document, loaded.path, loaded.environ)
    if project is None:
        return EXIT_USAGE
    # The file's `name:` names the project up labels what it applies with: not "not used".
    warnings = [w for c in loaded.conversions for w in c.warnings
                if not (w.startswith("name ") and ": not used (each App is named after" in w)]
    commands = [command for c in loaded.conversions for command in c.commands]
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.strict and warnings:
        print("error: not applied: --strict, and the file could not be translated without "
              "warnings", file=sys.stderr)
        return EXIT_WARNINGS
    if commands:
        print("the Apps cannot start before these have run:", file=sys.stderr)
        for command in commands:
            print(f"  {command}", file=sys.stderr)
    try:
        applied = apply_project(cluster, [c.app for c in loaded.conversions], project)
    except (ClusterError, KubeError) as error:
        return _cluster_failure(error)
    done = ", ".join(describe(o) for o in applied.objects) or "nothing"
    print(f"project {project} in namespace {cluster.namespace}: applied {done}",
          file=sys.stderr)
    for stray in applied.strays:
        print(f"warning: App {stray} of project {project} was not applied this time (not in "
              "the file, or its profile is not active): it stays as it was (`app-operator "
              "down` removes the whole project)", file=sys.stderr)
    if applied.refused:
        for what, refusal in applied.refused:
            print(f"error: {what}: the API server refused it: {refusal.message}",
                  file=sys.stderr)
        return EXIT_REFUSED if any(e.status in (400, 422) for _, e in applied.refused) else (
            EXIT_CLUSTER)
    if args.no_wait or not applied.apps:
        return EXIT_DONE
    last: dict[str, Any] = {}

    def poll() -> dict[str, Any]:
        nonlocal last
        try:
            apps = cluster.list(model.API_VERSION, model.KIND, selector(project))
        except KubeError as error:
            if error.transient:
                return last  # shown as it was; the next poll may get through
            raise
        last = {a["metadata"]["name"]: a for a in apps}
        return last

    try:
        states = progress.wait_until_ready(poll, applied.apps, progress.Display(sys.stderr),
                                           args.timeout)
    except KubeError as error:
        return _cluster_failure(error)
    except KeyboardInterrupt:
        print("stopped waiting; the Apps stay applied (`app-operator down` removes them)",
              file=sys.stderr)
        return 130
    late = [s for s in states if not s.ready]
    if late:
        print(f"error: not Ready after {args.timeout:g}s: " + "; ".join(
            f"{s.name} ({s.word}: {s.detail})" for s in late), file=sys.stderr)
        return EXIT_NOT_READY
    for state in states:
        if state.url:
            print(f"{state.name}  {state.url}{_port_forward_hint(state, cluster.namespace)}")
    return EXIT_DONE


def _port_forward_hint(state: Any, namespace: str) -> str:
    """An App's URL is the in-cluster address; from the machine running `up`, a port-forward
    reaches it."""
    from urllib.parse import urlsplit

    url = urlsplit(state.url)
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    if port is None:
        return ""
    local = port if port >= 1024 else 8000 + port  # no root needed on this machine's side
    return (f"  (from here: kubectl -n {namespace} port-forward svc/{state.name} "
            f"{local}:{port}, then {url.scheme}://localhost:{local})")


def _down(args: argparse.Namespace) -> int:
    import yaml

    from app_operator.convert import compose_yaml
    from app_operator.deploy.cluster import ClusterError
    from app_operator.deploy.down import remove_project
    from app_operator.runtime.kube import KubeError

    document: Any = None
    path: Path | None = None
    if args.project_name is None:  # the name is read from the file, as docker compose does
        path = Path(args.file) if args.file else find_compose_file(Path.cwd())[0]
        if path is not None:
            try:
                document = compose_yaml.load(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
                print(f"error: {path}: {' '.join(str(error).split())} (or name the project "
                      "with -p)", file=sys.stderr)
                return EXIT_REFUSED
    project = _project_name(args, document, path, dict(os.environ))
    if project is None:
        return EXIT_USAGE
    try:
        cluster = _connect(args)
        removal = remove_project(cluster, project, volumes=args.volumes)
    except (ClusterError, KubeError) as error:
        return _cluster_failure(error)
    where = f"project {project} in namespace {cluster.namespace}"
    if not removal.deleted:
        print(f"{where}: no App or other object to remove", file=sys.stderr)
    else:
        print(f"{where}: deleted {', '.join(removal.deleted)}", file=sys.stderr)
    if removal.deleted_claims:
        print(f"deleted claims (their data is gone): {', '.join(removal.deleted_claims)}",
              file=sys.stderr)
    if removal.kept_claims:
        print(f"kept claims (with their data): {', '.join(removal.kept_claims)}; "
              "`app-operator down --volumes` deletes them", file=sys.stderr)
    for skipped in removal.skipped:
        print(f"warning: not looked at: {skipped}", file=sys.stderr)
    return EXIT_DONE


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
            # Offline there is no cluster to ask: a route to a Gateway is shown as the
            # HTTPRoute it becomes where the Gateway API is installed.
            objects.extend(render_all(app, spec, gateway_api=True).objects())
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
                     "events have a bucket of this size of their own; 0: no limit "
                     "(default: 100)")
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
        _add_gateway_option(sub)
        if name == "run":
            sub.add_argument("words", nargs=argparse.REMAINDER,
                             help="the docker run command, after -- (or - alone: read it from "
                             "standard input)")
        else:
            _add_compose_options(sub)
            sub.add_argument("file", nargs="?", default=None,
                             help="the compose file; - reads standard input (relative paths "
                             "from the current directory); none: the first of "
                             f"{', '.join(COMPOSE_FILE_NAMES)} in the current directory or "
                             "its nearest parent that has one, as docker compose does")
            sub.add_argument("-f", "--file", dest="file_option", default=None,
                             metavar="FILE", help="the compose file, as `docker compose -f` "
                             "and `app-operator up -f` take it (the same as naming it)")
        sub.set_defaults(handler=_guarded(handler))
    _add_up_and_down(commands)
    return top


def _add_gateway_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--gateway", default=None, metavar="[NAMESPACE/]NAME",
                     help="routes made of Traefik labels attach to this Gateway (an HTTPRoute); "
                     "default: an Ingress of the cluster's default ingress class")


def _add_compose_options(sub: argparse.ArgumentParser) -> None:
    """What `convert compose` and `up` both take, so that they read a file the same way."""
    sub.add_argument("--image-prefix", metavar="REGISTRY/PATH",
                     help="name the images of services that have `build:` "
                     "REGISTRY/PATH/<service>:TAG and print their docker build and "
                     "push commands")
    sub.add_argument("--image-tag", default="latest", metavar="TAG",
                     help="tag of those images (default: latest)")
    sub.add_argument("--profile", action="append", default=[], metavar="NAME",
                     help="also convert the services of this compose profile (repeatable; * "
                     "for all; default: $COMPOSE_PROFILES, comma-separated, from the shell "
                     "or the file's .env); services with "
                     "`profiles:` are left out unless one of theirs is named, as docker "
                     "compose does")


def _add_cluster_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("-n", "--namespace", default=None,
                     help="the namespace (default: the kubeconfig context's, else default)")
    sub.add_argument("--context", default=None,
                     help="the kubeconfig context (default: the current one)")
    sub.add_argument("--kubeconfig", default=None, metavar="FILE",
                     help="the kubeconfig (default: $KUBECONFIG, else ~/.kube/config)")
    sub.add_argument("-p", "--project-name", default=None, metavar="NAME",
                     help="the project's name, which labels what up applies (default: "
                     "$COMPOSE_PROJECT_NAME, else the file's `name:`, else the compose "
                     "file's directory, as docker compose names it)")
    sub.add_argument("--debug", action="store_true",
                     help="show the traceback of an internal error")


def _add_up_and_down(commands: Any) -> None:
    up = commands.add_parser(
        "up", help="convert a compose file, apply its Apps and wait until they are Ready",
        description="Converts the compose file as `convert compose` does, applies every App "
        "to the cluster (server-side apply, field manager app-operator-cli), each labelled "
        "appoperator.dev/project=<project>, then shows what each App waits for until all "
        "are Ready, and prints their URLs. Needs the operator running for the namespace.",
        epilog=EXIT_CODES)
    up.add_argument("-f", "--file", default=None,
                    help="the compose file; - reads standard input; none: the one docker "
                    "compose would take")
    _add_compose_options(up)
    _add_gateway_option(up)
    up.add_argument("--files-from-dirs", action="store_true",
                    help="mount each file of a bind-mounted directory read-only (a copy of it "
                    "now) instead of refusing the directory")
    up.add_argument("--strict", action="store_true",
                    help="apply nothing, and exit 3, when anything could not be translated")
    up.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                    help="wait this long for every App to be Ready, then exit 5 naming those "
                    "that are not (default: 300)")
    up.add_argument("--no-wait", action="store_true",
                    help="apply and exit, without waiting for the Apps to be Ready")
    _add_cluster_options(up)
    up.set_defaults(handler=_guarded(_up))
    down = commands.add_parser(
        "down", help="delete what `up` applied; claims are kept unless --volumes",
        description="Deletes the project's Apps (their Deployments and Services go with "
        "them) and the other objects `up` applied, found by their appoperator.dev/project "
        "label, from any machine. Claims, and the data in them, are kept and listed, "
        "unless --volumes.", epilog=EXIT_CODES)
    down.add_argument("-f", "--file", default=None,
                      help="the compose file, read only for the project's name (its `name:` "
                      "or its directory)")
    down.add_argument("-v", "--volumes", action="store_true",
                      help="delete the project's claims too, and the data in them")
    _add_cluster_options(down)
    down.set_defaults(handler=_guarded(_down))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
