"""bridgeline's own HTTP server: webhooks, health, metrics, status."""

from __future__ import annotations

from bridgeline.server.app import create_app

__all__ = ["create_app"]
