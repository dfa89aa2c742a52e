"""Shared fixtures: the test database URL (SQLite always, PostgreSQL where configured)."""

from __future__ import annotations

import os

POSTGRES_URL = os.environ.get("BRIDGELINE_TEST_DATABASE_URL")
