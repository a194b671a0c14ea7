"""From `docker run` lines and compose files to App resources: the public names, each defined
in the module of what it reads.

Whatever cannot be translated is reported as a warning (never silently dropped); whatever an
App must never do (host paths, privileged mode, host namespaces, devices) refuses the
conversion, and a refusal names every problem at once. Every App produced is validated by the
model (AppSpec) before it is returned.

The converter reads the project's files (single-file bind mounts, compose `configs`, env files)
only through a `SourceFiles`; `DiskFiles` is the one implementation that touches the disk.
Secret values are never read: a compose secret becomes a file taken from a Kubernetes Secret,
and the command that creates that Secret is returned beside the App.

    docker_run.py      `docker run` flags            compose.py          a compose file
    short_syntax.py    -p/-v/--expose and ports:     compose_yaml.py     YAML as Compose reads it
    builder.py         the App builder               compose_profiles.py which services
    mounts.py          what a mount's source is      compose_service.py  one service
    files.py           the project's files           compose_volumes.py  its volumes:
    values.py          names, durations, sizes       compose_secrets.py  secrets:, configs:
    interpolation.py   ${VAR} in compose files       compose_build.py    build: and images
    conversion.py      what is given back            compose_reach.py    services by name
    routes.py          Traefik labels as a route     compose_shared.py   volumes Apps share
                                                     compose_starts.py   depends_on, restart
                                                     compose_sidecars.py network_mode service:
                                                     compose_warnings.py keys not translated
"""

from __future__ import annotations

from app_operator.convert.compose import convert_compose
from app_operator.convert.conversion import Conversion, Refused
from app_operator.convert.docker_run import convert_run
from app_operator.convert.files import DiskFiles, NoFiles, SourceFiles
from app_operator.convert.interpolation import interpolate
from app_operator.convert.values import (
    cpus,
    dns_label,
    image_base,
    memory,
    name_from_image,
    parse_env_file,
    seconds,
)

__all__ = [
    "Conversion", "DiskFiles", "NoFiles", "Refused", "SourceFiles", "convert_compose",
    "convert_run", "cpus", "dns_label", "image_base", "interpolate", "memory",
    "name_from_image", "parse_env_file", "seconds",
]
