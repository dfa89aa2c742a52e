"""The store's round trips one at a time: CPU per operation on SQLite and PostgreSQL.

What a webhooked release costs in the database, operation by operation: storing a delivery's
event (``enqueue``), claiming and completing an entity, reading a link, saving a link with its
audit row and the event it gives rise to. CPU is this process's (the event loop and any driver
thread), so a PostgreSQL server's own work is not in it; each operation runs ``--repeat`` times
after a warm-up, on a fresh database.

    python -m bench.bench_store [--repeat 1000] [--database sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench._db import Database, each_database
from bridgeline.model import AuditEntry, EntityRef, Event, Link, Snapshot, TargetRef
from bridgeline.store import Store


def _link(n: int) -> Link:
    return Link(
        mapping="bench",
        key=f"jira:version:{n}",
        source=EntityRef("jira", "version", str(n)),
        target=TargetRef("servicenow", "change_request", f"sys{n}", f"CHG{n:07d}"),
        correlation_id=f"bridgeline:bench:jira:version:{n}",
        pushed=Snapshot.of({"short_description": f"PAY {n}", "state": "-5"}),
    )


async def _measure(repeat: int, op: Callable[[int], Awaitable[Any]]) -> float:
    """CPU milliseconds per call of ``op(n)``, after a warm-up of 50 calls."""
    for n in range(50):
        await op(-1 - n)
    began = time.process_time()
    for n in range(repeat):
        await op(n)
    return round((time.process_time() - began) / repeat * 1000, 3)


async def _run(url: str, repeat: int) -> dict[str, float]:
    store = await Store.open(url)
    try:

        async def enqueue(n: int) -> None:
            await store.enqueue([Event(EntityRef("jira", "version", str(n)), delivery_id=f"d{n}")])

        async def claim_and_complete(n: int) -> None:
            for claim in await store.claim("bench", limit=1, lease_seconds=60):
                await store.complete(claim)

        async def read_link(n: int) -> None:
            await store.get_link("bench", f"jira:version:{n}")

        async def record(n: int) -> None:
            link = _link(n)
            await store.record(
                link=link,
                audit=[AuditEntry(action="create", entity=link.key, mapping="bench", target_id=f"sys{n}")],
                events=[Event(EntityRef("servicenow", "change_request", link.target.id), source="create")],
            )

        return {
            "enqueue one event": await _measure(repeat, enqueue),
            "claim and complete one entity": await _measure(repeat, claim_and_complete),
            "read one link": await _measure(repeat, read_link),
            "record a link, its audit row and its event": await _measure(repeat, record),
        }
    finally:
        await store.close()


def run(workdir: Path, repeat: int, databases: list[str]) -> dict[str, Any]:
    def measure(name: str, server: str | None) -> dict[str, float]:
        folder = workdir / name
        folder.mkdir(parents=True, exist_ok=True)
        with Database.postgres(server) if name == "postgres" and server else Database.sqlite(folder) as db:
            return asyncio.run(_run(db.url, repeat))

    return each_database(databases, measure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=1000)
    parser.add_argument("--database", action="append", choices=("sqlite", "postgres"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bridgeline-bench-") as tmp:
        result = run(Path(tmp), args.repeat, args.database or ["sqlite", "postgres"])
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
