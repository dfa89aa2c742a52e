"""The neutral deployment report every source is parsed into."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

STATES = ("started", "succeeded", "failed", "rolled_back")
_TAG = re.compile(r"^(?:refs/tags/)?(.+)$")


class NotADeployment(ValueError):
    """The payload is not a deployment report this endpoint takes; the message says what to fix."""


class Ignored(Exception):
    """A valid delivery that reports nothing bridgeline acts on (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class Deployment:
    """A release (project + version name or id) or a change, deployed to an environment."""

    source: str  # bridgeline | github | gitlab
    environment: str
    state: str  # one of STATES
    run_id: str
    run_url: str | None = None
    commit: str | None = None
    project: str | None = None
    version: str | None = None
    version_id: str | None = None
    change: str | None = None

    @property
    def entity(self) -> str:
        """The inbox entity of the release: every report of it is processed under one claim."""
        if self.change:
            return f"deployment:change:{self.change}"
        if self.version_id:
            return f"deployment:version:{self.version_id}"
        return f"deployment:release:{self.project}:{self.version}"


def text(value: Any, name: str, *, required: bool = True, limit: int = 255) -> str | None:
    """A string field of a payload (numbers accepted), or a :class:`NotADeployment` naming it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise NotADeployment(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise NotADeployment(f"{name} must be a string")
    result = str(value).strip()
    if len(result) > limit:
        raise NotADeployment(f"{name} is longer than {limit} characters")
    return result


def url(value: Any, name: str) -> str | None:
    found = text(value, name, required=False, limit=1000)
    if found is not None and not found.startswith(("http://", "https://")):
        raise NotADeployment(f"{name} must be an http(s) URL")
    return found


def version_of_ref(ref: str) -> str:
    """The release a deployed ref names: ``refs/tags/v1.4.0`` -> ``v1.4.0`` (the gate also tries
    ``1.4.0``)."""
    m = _TAG.match(ref.strip())
    return m.group(1) if m else ref.strip()
