"""``bridgeline config check|show``: is this configuration going to work, and what does it say?

``check`` validates the settings and the mapping set, opens the database, and tests reach and
credentials of every configured system (Jira ``serverInfo`` + ``myself`` + each project, a
ServiceNow Table API read, a Remedy AR-JWT login and logout). It prints one line per check and
exits 1 when anything failed, so it can gate a deployment::

    $ bridgeline config check --config /etc/bridgeline/bridgeline.yaml
      ok    settings          /etc/bridgeline/bridgeline.yaml: jira, servicenow
      ok    mappings          2 mappings in 2 files
      ok    database          postgresql+psycopg://bridgeline:***@db/bridgeline: schema up to date
      ok    jira serverInfo   https://acme.atlassian.net: Jira Cloud 1001.0.0
      FAIL  servicenow table read  credentials refused (401): ...
    1 problem: bridgeline would not work as configured

``show`` prints the settings as bridgeline understands them (file, environment and secret files
merged), secrets masked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml

from bridgeline.config import Settings, load_settings
from bridgeline.errors import BridgelineError, ConfigError
from bridgeline.log import REDACTED, redact_text

if TYPE_CHECKING:
    from bridgeline.server.health import CheckResult


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="check or show the configuration")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="validate settings and mappings; test the database and each system's credentials"
    )
    _config_arg(check)
    check.add_argument("--offline", action="store_true", help="validate only: no database, no remote calls")
    check.add_argument(
        "--timeout", type=float, default=10.0, help="seconds each remote check may take (default 10)"
    )
    check.add_argument("--json", action="store_true", help="machine-readable report")
    check.set_defaults(func=lambda args: cmd_check(args))
    show = sub.add_parser("show", help="print the effective settings (secrets masked)")
    _config_arg(show)
    show.set_defaults(func=lambda args: cmd_show(args))


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help="YAML configuration file (default: $BRIDGELINE_CONFIG; environment overrides it)",
    )


# -- check ---------------------------------------------------------------------------------------


def check_settings(path: Path | None) -> tuple[Settings | None, CheckResult]:
    from bridgeline.server.health import CheckResult

    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return None, CheckResult("settings", "", False, redact_text(str(exc)))
    systems = [s for s in ("jira", "servicenow", "remedy") if getattr(settings, s) is not None]
    where = str(path) if path is not None else "environment"
    detail = f"{where}: {', '.join(systems) if systems else 'no system configured'}"
    return settings, CheckResult("settings", "", bool(systems), detail)


def check_mappings(settings: Settings) -> list[CheckResult]:
    from bridgeline.mapping import MappingSetError, load_mapping_set
    from bridgeline.server.health import CheckResult
    from bridgeline.sync.service import mapping_problems

    try:
        mappings = load_mapping_set(settings.mappings)
    except MappingSetError as exc:
        listed = "\n".join(str(p) for p in exc.problems)
        return [CheckResult("mappings", "", False, f"{len(exc.problems)} problem(s):\n{listed}")]
    except ConfigError as exc:
        return [CheckResult("mappings", "", False, str(exc))]
    problems = mapping_problems(settings, mappings)
    if len(mappings) == 0:
        return [CheckResult("mappings", "", False, problems[0])]
    results = [
        CheckResult(
            "mappings",
            "",
            True,
            f"{len(mappings)} mapping(s) in {len(mappings.files)} file(s): "
            + ", ".join(m.name for m in mappings.mappings),
        )
    ]
    names = {m.name for m in mappings.mappings}
    for problem in problems:
        name = next((n for n in names if problem.startswith(f"mapping {n!r} ")), "")
        results.append(CheckResult("mappings", name, False, problem))
    return results


async def check_database(settings: Settings) -> CheckResult:
    import sqlalchemy as sa

    from bridgeline.server.health import CheckResult
    from bridgeline.store import Store, redact_url
    from bridgeline.store.migrate import current_revision, head_revision

    shown = redact_url(settings.database_url)
    url = sa.engine.make_url(settings.database_url)
    if url.drivername.startswith("sqlite") and url.database not in (None, "", ":memory:"):
        file = Path(url.database or "")
        if not file.exists():  # opening it would create it: say what will happen instead
            folder = file.resolve().parent
            if not folder.is_dir():
                return CheckResult("database", "", False, f"{shown}: the folder {folder} does not exist")
            detail = f"{shown}: a new database will be created at first start"
            return CheckResult("database", "", True, detail)
    try:
        store = await Store.open(settings.database_url, migrate=False)
    except (BridgelineError, ValueError) as exc:
        return CheckResult("database", "", False, f"{shown}: {exc}")
    try:
        if not await store.ping():
            return CheckResult("database", "", False, f"{shown}: cannot connect", transient=True)
        async with store.engine.connect() as conn:
            revision = await conn.run_sync(current_revision)
        head = head_revision()
        if revision == head:
            state = "schema up to date"
        elif settings.migrate_on_start:
            state = f"schema at {revision or 'none'}; it is migrated to {head} at start"
        else:
            return CheckResult(
                "database",
                "",
                False,
                f"{shown}: schema at {revision or 'none'}, newest {head}; run `bridgeline db upgrade` "
                "(migrate_on_start is off)",
            )
        return CheckResult("database", "", True, f"{shown}: {state}")
    finally:
        await store.close()


async def run_checks(path: Path | None, *, offline: bool = False, timeout: float = 10.0) -> list[CheckResult]:
    """Every check, in the order a person would fix things."""
    from bridgeline.server.health import check_connections

    settings, first = check_settings(path)
    results = [first]
    if settings is None:
        return results
    from bridgeline.daemon import protect_secrets

    protect_secrets(settings)
    results.extend(check_mappings(settings))
    if offline:
        return [_redacted(r) for r in results]
    results.append(await check_database(settings))
    results.extend(await check_connections(settings, timeout=timeout))
    return [_redacted(r) for r in results]


def _redacted(r: CheckResult) -> CheckResult:
    from bridgeline.server.health import CheckResult

    return CheckResult(r.system, r.check, r.ok, redact_text(r.detail), r.ms, r.transient)


def print_report(results: list[CheckResult], out: IO[str]) -> int:
    width = max(len(_name(r)) for r in results)
    for r in results:
        lines = r.detail.splitlines() or [""]
        timing = f"  ({r.ms:.0f} ms)" if r.ms else ""
        print(f"  {'ok  ' if r.ok else 'FAIL'}  {_name(r).ljust(width)}  {lines[0]}{timing}", file=out)
        for more in lines[1:]:
            print(f"        {''.ljust(width)}  {more}", file=out)
    failed = sum(1 for r in results if not r.ok)
    if failed:
        plural = "s" if failed != 1 else ""
        print(f"{failed} problem{plural}: bridgeline would not work as configured", file=out)
    else:
        print(f"all {len(results)} checks passed", file=out)
    return 1 if failed else 0


def _name(r: CheckResult) -> str:
    return f"{r.system} {r.check}".strip()


def cmd_check(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    results = asyncio.run(run_checks(args.config, offline=args.offline, timeout=args.timeout))
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2), file=out)
        return 1 if any(not r.ok for r in results) else 0
    print(f"bridgeline config check: {args.config or 'environment'}", file=out)
    return print_report(results, out)


# -- show ----------------------------------------------------------------------------------------


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, every secret replaced (the database password too)."""
    from bridgeline.store import redact_url

    data: dict[str, Any] = settings.model_dump(mode="json")

    def walk(model: Any, node: dict[str, Any]) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if hasattr(value, "get_secret_value"):
                node[name] = REDACTED
            elif hasattr(type(value), "model_fields") and isinstance(node.get(name), dict):
                walk(value, node[name])
            elif isinstance(value, dict) and isinstance(node.get(name), dict):  # pipelines by name
                for key, item in value.items():
                    if hasattr(type(item), "model_fields") and isinstance(node[name].get(key), dict):
                        walk(item, node[name][key])

    walk(settings, data)
    data["database_url"] = redact_url(settings.database_url)
    return data


def cmd_show(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    settings = load_settings(args.config)
    out.write(yaml.safe_dump(masked(settings), sort_keys=False, allow_unicode=True))
    return 0
