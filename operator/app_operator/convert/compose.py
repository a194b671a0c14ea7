"""A compose file as Apps: validated against the Compose specification, interpolated,
each service converted, then what holds between services (reaching each other by name)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app_operator.convert.builder import Builder
from app_operator.convert.compose_build import check_image_prefix
from app_operator.convert.compose_profiles import active_profiles, enabled_services
from app_operator.convert.compose_project import Project
from app_operator.convert.compose_proxy import without_the_proxy
from app_operator.convert.compose_reach import reach_by_name
from app_operator.convert.compose_service import compose_service, resolve_extends
from app_operator.convert.compose_shared import share_volumes
from app_operator.convert.compose_sidecars import fold_sidecars
from app_operator.convert.compose_starts import plan_starts
from app_operator.convert.compose_warnings import top_level_warnings
from app_operator.convert.conversion import Conversion, Refused
from app_operator.convert.files import NoFiles, SourceFiles
from app_operator.convert.interpolation import interpolate


def _describe_schema_error(error: Any) -> str:
    """jsonschema's message, made precise: the deepest failing alternative of an anyOf, and
    the unknown keys themselves for additionalProperties."""
    import jsonschema

    if error.context:
        error = jsonschema.exceptions.best_match(error.context)
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        unknown = [key for key in error.instance if key not in known
                   and not any(re.search(p, key) for p in patterns)]
        return f"{where}: unknown key {', '.join(map(repr, unknown))} (a typo?)"
    return f"{where}: {error.message}"


def _validate_compose(document: Any, schema: Mapping[str, Any]) -> None:
    import jsonschema  # only the compose converter needs it

    validator_class = jsonschema.validators.validator_for(schema,
                                                          jsonschema.Draft7Validator)
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_describe_schema_error(error)}" for error in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise Refused("the file does not follow the Compose specification:\n"
                      + "\n".join(lines) + more)


def _as_compose_reads_it(document: dict[str, Any]) -> dict[str, Any]:
    """What Docker Compose accepts that the Compose schema does not: a service key left empty
    (`environment:` with nothing under it) is absent; and `restart: no` read by a YAML 1.1
    reader (PyYAML's safe_load, not compose_yaml.load) as the boolean False is "no"."""
    services = document.get("services")
    if not isinstance(services, dict):
        return document
    cleaned: dict[str, Any] = {}
    for name, service in services.items():
        if isinstance(service, dict):
            service = {key: value for key, value in service.items() if value is not None}
            if service.get("restart") is False:
                service["restart"] = "no"
        cleaned[name] = service
    return {**document, "services": cleaned}


def _project_name(document: Mapping[str, Any], environ: Mapping[str, str],
                  files: SourceFiles) -> str | None:
    """Compose's project name: the file's `name:`, else COMPOSE_PROJECT_NAME, else the name
    of the compose file's directory (known only when the files are on disk)."""
    base = getattr(files, "base", None)
    name = document.get("name") or environ.get("COMPOSE_PROJECT_NAME") or (
        base.name if isinstance(base, Path) else None)
    return str(name) if name else None


def convert_compose(document: Any, *, schema: Mapping[str, Any] | None,
                    namespace: str | None = None, files: SourceFiles | None = None,
                    environ: Mapping[str, str] | None = None, image_prefix: str | None = None,
                    image_tag: str = "latest", dirs_as_files: bool = False,
                    profiles: Sequence[str] = (), gateway: str | None = None
                    ) -> list[Conversion]:
    """Every service of a compose file as an App. Problems in any service refuse the file,
    listing them all. Paths in the file are read from `files` (the compose file's
    directory); `image_prefix` names the images of services that are built; `profiles` are
    the active Compose profiles (`--profile`, with COMPOSE_PROFILES from `environ`);
    `gateway` (NAME or NAMESPACE/NAME) the Gateway that routes made from Traefik labels attach
    to, else they are Ingresses of the cluster's default class."""
    if not isinstance(document, dict):
        raise Refused("the file is not a compose file: its top level must be a mapping")
    if image_prefix is not None:
        check_image_prefix(image_prefix, image_tag)
        image_prefix = image_prefix.rstrip("/")
    if "services" not in document and document and all(
            isinstance(v, dict) and ("image" in v or "build" in v) for v in document.values()):
        raise Refused("the file is in the Compose file format 1 (services at the top level, "
                      f"here {', '.join(map(str, document))}), which docker compose no longer "
                      "reads: put them under `services:`")
    warnings: list[str] = []
    document = interpolate(document, environ or {}, warnings)
    document = _as_compose_reads_it(document)
    if schema is not None:
        _validate_compose(document, schema)
    every_service = document.get("services") or {}
    if not every_service:
        raise Refused("the file has no services")
    every_service = without_the_proxy(every_service, warnings)
    if not every_service:
        raise Refused("the file has no services but its reverse proxy")
    services = enabled_services(every_service, active_profiles(profiles, environ or {}),
                                warnings)
    project = Project(document=document, files=files or NoFiles(), environ=environ or {},
                      namespace=namespace, image_prefix=image_prefix, image_tag=image_tag,
                      dirs_as_files=dirs_as_files)
    builders: dict[str, Builder] = {}
    problems: list[str] = []
    names: dict[str, str] = {}
    resolved: dict[str, dict[str, Any]] = {}
    for name in services:
        try:
            service = resolved[name] = resolve_extends(name, every_service)
            builder = compose_service(name, service, project)
        except Refused as error:
            problems.append(f"{name}: {error}")
            continue
        if builder.name in names:
            problems.append(f"{name}: becomes App {builder.name}, like service "
                            f"{names[builder.name]}")
        names[builder.name] = name
        builders[name] = builder
    folded = fold_sidecars(builders, resolved, every_service, problems)
    reach_by_name(builders)
    cycle = plan_starts(builders, resolved, every_service, folded)
    if cycle:
        problems.append(cycle)
    claims = share_volumes(builders, document.get("volumes") or {},
                           _project_name(document, environ or {}, project.files), namespace,
                           warnings)
    conversions = [Conversion(app=claim) for claim in claims]
    for builder in builders.values():
        builder.gateway = gateway
        try:
            conversions.append(builder.build(namespace))
        except Refused as error:
            problems.append(str(error))
    if problems:
        raise Refused("\n".join(problems))
    top_level_warnings(project, warnings, shared_claims=bool(claims))
    conversions[0].warnings[:0] = warnings
    return conversions

