"""Deployment reports from pipelines, parsed into one neutral shape: a connector per source.

- :mod:`.own`: bridgeline's own small JSON (``POST /webhooks/deployments``, a pipeline token);
- :mod:`.github`: GitHub's ``deployment_status`` webhook (``X-Hub-Signature-256``);
- :mod:`.gitlab`: GitLab's deployment events (``X-Gitlab-Token``).

Each parser returns a :class:`Deployment`, or raises :class:`NotADeployment` with a sentence for
the sender (a malformed payload) or :class:`Ignored` (a valid delivery that reports nothing
bridgeline acts on, such as GitHub's ``queued``). Parsers make no calls: the engine reads the
change itself.
"""

from __future__ import annotations

from bridgeline.connectors.deployments._model import STATES, Deployment, Ignored, NotADeployment

__all__ = ["STATES", "Deployment", "Ignored", "NotADeployment"]
