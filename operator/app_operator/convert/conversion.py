"""What a conversion gives back, and the one way it says no."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Refused(Exception):
    """The input cannot become an App; the message says why and what to do instead."""


@dataclass
class Conversion:
    """An App manifest, what could not be carried over, and the commands to run before
    applying it (building and pushing images, creating Secrets). A compose file's volume
    that several Apps share is a Conversion too, whose `app` is the PersistentVolumeClaim
    they mount (`kind` tells them apart): every object to apply, in order."""

    app: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
