"""The ``bridgeline`` command.

::

    bridgeline run --config config/bridgeline.yaml     # the daemon
    bridgeline demo [--serve] [--fresh]                # everything on embedded simulators
    bridgeline sim jira|servicenow|remedy ...          # a simulator on its own
    bridgeline mappings validate|test|preview|schema   # mapping tooling
    bridgeline db upgrade                              # schema migrations
    bridgeline dlq list|show|replay|drop               # dead letters
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridgeline import __version__
from bridgeline.errors import BridgelineError, ConfigError
from bridgeline.sim._cli import port_number


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help="YAML configuration file (default: $BRIDGELINE_CONFIG; environment overrides it)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridgeline",
        description="Jira releases become ITIL change requests; the CAB's answers come back to Jira.",
    )
    parser.add_argument("--version", action="version", version=f"bridgeline {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run the daemon: poll, serve webhooks, sync")
    _config_arg(run)
    run.set_defaults(func=_cmd_run)

    demo = sub.add_parser("demo", help="run bridgeline against embedded simulators and show what it did")
    demo.add_argument(
        "--dir", type=Path, default=Path(".demo"), help="where the demo keeps its state (default .demo)"
    )
    demo.add_argument("--fresh", action="store_true", help="forget the previous run's state and start over")
    demo.add_argument("--serve", action="store_true", help="keep running with live updates until Ctrl-C")
    demo.add_argument(
        "--port",
        type=port_number,
        default=0,
        help="port of bridgeline's own server with --serve (default: free)",
    )
    demo.set_defaults(func=_cmd_demo)

    sim = sub.add_parser("sim", help="serve a simulator of Jira, ServiceNow or Remedy")
    sim_sub = sim.add_subparsers(dest="system", metavar="SYSTEM", required=True)
    _register_simulators(sim_sub)

    mappings = sub.add_parser("mappings", help="validate, test, preview mappings; write their JSON Schema")
    _register_mappings(mappings)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to the newest schema")
    _config_arg(upgrade)
    upgrade.set_defaults(func=_cmd_db_upgrade)

    from bridgeline.commands import register_all

    register_all(sub)

    dlq = sub.add_parser("dlq", help="dead letters: entities that failed for good")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    for name, helptext in (
        ("list", "list dead letters"),
        ("show", "show one with its last error"),
        ("replay", "retry one (or --all)"),
        ("drop", "forget one (or --all)"),
    ):
        p = dlq_sub.add_parser(name, help=helptext)
        _config_arg(p)
        if name != "list":
            p.add_argument("entity", nargs="?", help="entity, e.g. jira:version:10042")
        if name in ("replay", "drop"):
            p.add_argument("--all", action="store_true", help="every dead letter")
        p.set_defaults(func=_cmd_dlq, action=name)
    return parser


def _register_simulators(sim_sub: Any) -> None:
    import importlib

    for name in ("jira", "servicenow", "remedy"):
        try:
            module = importlib.import_module(f"bridgeline.sim.{name}.cli")
        except ImportError:  # pragma: no cover
            continue
        module.register(sim_sub)


def _register_mappings(parser: argparse.ArgumentParser) -> None:
    from bridgeline.mapping.cli import register

    sub = parser.add_subparsers(dest="mappings_command", metavar="ACTION", required=True)
    chosen: dict[str, Path | None] = {}
    register(sub, fetcher=lambda kind, ident: _fetch_context(chosen.get("config"), kind, ident))
    # preview --version/--issue reads Jira live, with the daemon's configuration
    preview = sub.choices["preview"]
    _config_arg(preview)
    show = preview.get_default("func")

    def run_preview(args: argparse.Namespace) -> int:
        chosen["config"] = args.config
        return int(show(args))

    preview.set_defaults(func=run_preview)


def _fetch_context(config: Path | None, kind: str, ident: str) -> dict[str, Any]:
    """A Jira version or issue read live, as the mapping context the engine would build."""
    from bridgeline.config import load_settings
    from bridgeline.connectors.jira import JiraClient
    from bridgeline.mapping import issue_context, version_context
    from bridgeline.model import utcnow

    settings = load_settings(config)
    if settings.jira is None:
        raise ConfigError("preview --version/--issue reads Jira: the configuration has no 'jira:' section")

    async def read() -> dict[str, Any]:
        jira = JiraClient.from_settings(settings.jira)
        try:
            if kind == "version":
                version = await jira.version(ident)
                project = await jira.project(str(version.get("projectId")))
                issues = await jira.search_all(f"fixVersion = {ident} ORDER BY key ASC")
                return version_context(version, project, issues, utcnow())
            issue = await jira.issue(ident)
            project_id = str((issue.get("fields") or {}).get("project", {}).get("id"))
            return issue_context(issue, await jira.project(project_id), utcnow())
        finally:
            await jira.aclose()

    return asyncio.run(read())


def _settings(args: argparse.Namespace) -> Any:
    from bridgeline.config import load_settings

    return load_settings(args.config)


def _cmd_run(args: argparse.Namespace) -> int:
    from bridgeline.daemon import run_daemon, run_loop

    settings = _settings(args)
    return run_loop(run_daemon(settings))


def _cmd_demo(args: argparse.Namespace) -> int:
    from bridgeline.demo import run_demo

    return asyncio.run(run_demo(args.dir, fresh=args.fresh, serve=args.serve, port=args.port))


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bridgeline.store import Store, redact_url

    settings = _settings(args)

    async def go() -> None:
        store = await Store.open(settings.database_url, migrate=True)
        await store.close()

    asyncio.run(go())
    print(f"database at {redact_url(settings.database_url)} is at the newest schema")
    return 0


def cli_user() -> str:
    """Who runs this command, for the audit log: ``cli:alex@build-01``."""
    import getpass
    import os
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's user without a name
        user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def _cmd_dlq(args: argparse.Namespace) -> int:
    from bridgeline.daemon import protect_secrets
    from bridgeline.log import redact_text, shorten
    from bridgeline.store import Store

    settings = _settings(args)
    protect_secrets(settings)  # a last error is shown redacted, as on the status page

    async def go() -> int:
        store = await Store.open(settings.database_url, migrate=settings.migrate_on_start, create=False)
        try:
            if args.action == "list":
                rows = await store.inbox_rows(state="dead", limit=1000)
                if not rows:
                    print("no dead letters")
                for r in rows:
                    when = f"{r.updated_at:%Y-%m-%d %H:%M:%S}Z"
                    print(f"{r.entity}\t{r.attempts} attempts\t{when}\t{shorten(r.last_error or '', 100)}")
                return 0
            targets: list[str]
            if getattr(args, "all", False):
                targets = [r.entity for r in await store.inbox_rows(state="dead", limit=100000)]
            elif args.entity:
                targets = [args.entity]
            else:
                print("name an entity (see `bridgeline dlq list`) or use --all", file=sys.stderr)
                return 2
            if args.action == "show":
                row = await store.inbox_row(targets[0])
                if row is None:
                    print(f"{targets[0]}: not in the inbox", file=sys.stderr)
                    return 1
                print(f"entity:      {row.entity}")
                print(f"state:       {row.state}")
                print(f"attempts:    {row.attempts}")
                print(f"first seen:  {row.received_at:%Y-%m-%d %H:%M:%S}Z")
                print(f"last try:    {row.updated_at:%Y-%m-%d %H:%M:%S}Z")
                print(f"last error:  {redact_text(row.last_error or '-')}")
                return 0
            failed = 0
            who = cli_user()
            for entity in targets:
                act = store.replay if args.action == "replay" else store.drop
                done = await act(entity, asked_by=who)
                verb = "queued again" if args.action == "replay" else "dropped"
                print(f"{entity}: {verb}" if done else f"{entity}: not a dead letter")
                failed += not done
            return 1 if failed else 0
        finally:
            await store.close()

    return asyncio.run(go())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except ConfigError as exc:
        print(f"bridgeline: configuration problem:\n{exc}", file=sys.stderr)
        return 2
    except BridgelineError as exc:
        print(f"bridgeline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
