"""``bridgeline jira ...``: set up and check the Jira side.

::

    bridgeline jira check -c bridgeline.yaml
    bridgeline jira register-webhook --url https://bridgeline.example.com -c bridgeline.yaml [--dry-run]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from bridgeline.errors import AuthenticationFailed, BridgelineError, ConfigError, NotFound


def register(subparsers: Any) -> None:
    jira = subparsers.add_parser("jira", help="Jira: check the connection, register the webhook")
    sub = jira.add_subparsers(dest="jira_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="log in, show the deployment, the account and the projects")
    _config_arg(check)
    check.set_defaults(func=_cmd_check)

    reg = sub.add_parser(
        "register-webhook",
        help="register bridgeline's webhook in Jira (or update the one registered for the URL)",
        description=(
            "Registers POST <url> for issue, comment and version events of the configured projects, "
            "signed with jira.webhook_secret. Running it again updates the same registration."
        ),
    )
    _config_arg(reg)
    reg.add_argument(
        "--url",
        required=True,
        help="where Jira reaches bridgeline: https://bridgeline.example.com (/webhooks/jira is added)",
    )
    reg.add_argument("--name", default="bridgeline", help="the webhook's name in Jira (default bridgeline)")
    reg.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    reg.set_defaults(func=_cmd_register_webhook)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help="YAML configuration file (default: $BRIDGELINE_CONFIG; environment overrides it)",
    )


def _jira_settings(args: argparse.Namespace) -> Any:
    from bridgeline.config import load_settings

    settings = load_settings(args.config)
    if settings.jira is None:
        raise ConfigError("there is no 'jira:' section in the configuration")
    return settings.jira


def _cmd_register_webhook(args: argparse.Namespace) -> int:
    from bridgeline.connectors.jira import JiraClient, WebhookSpec, ensure_webhook
    from bridgeline.connectors.jira.admin import webhook_url

    settings = _jira_settings(args)
    url = webhook_url(args.url)
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url must be an http(s) address, not {args.url!r}")
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    if not settings.projects:
        raise ConfigError("jira.projects is empty: the webhook would send every project's events")
    spec = WebhookSpec(url=url, projects=settings.projects, secret=secret, name=args.name)

    async def go() -> int:
        jira = JiraClient.from_settings(settings)
        try:
            try:
                outcome = await ensure_webhook(jira, spec, dry_run=args.dry_run)
            except AuthenticationFailed as exc:
                raise BridgelineError(
                    f"{exc}\nRegistering a webhook needs a Jira administrator: run this with an admin "
                    "account's credentials (BRIDGELINE_JIRA__EMAIL / BRIDGELINE_JIRA__API_TOKEN)."
                ) from exc
        finally:
            await jira.aclose()
        hook = outcome.webhook
        print(f"{outcome.action}: {hook.get('name', spec.name)} -> {hook.get('url', spec.url)}")
        if hook.get("self"):
            print(f"  registration: {hook['self']}")
        print(f"  events:       {', '.join(spec.events)}")
        print(f"  filter:       {spec.body()['filters']['issue-related-events-section']}")
        print(f"  signed:       {'yes (jira.webhook_secret)' if secret else 'NO - set jira.webhook_secret'}")
        if outcome.differences:
            print(f"  changed:      {', '.join(outcome.differences)}")
        for other in outcome.duplicates:
            print(f"  warning: another registration sends to the same URL: {other.get('self') or other}")
        return 0

    return asyncio.run(go())


def _cmd_check(args: argparse.Namespace) -> int:
    from bridgeline.connectors.jira import JiraClient

    settings = _jira_settings(args)

    async def go() -> int:
        jira = JiraClient.from_settings(settings)
        problems = 0
        try:
            deployment = await jira.detect()
            info = jira.server_info or {}
            print(
                f"Jira:        {settings.url} ({info.get('deploymentType', '?')} {info.get('version', '')})"
            )
            print(f"API:         {await jira.api()} ({deployment})")
            me = await jira.myself()
            who = me.get("emailAddress") or me.get("name") or me.get("accountId")
            print(f"account:     {me.get('displayName')} <{who}>, time zone {me.get('timeZone', '?')}")
            for key in settings.projects:
                try:
                    versions = await jira.project_versions(key)
                except NotFound:
                    print(f"project {key}: NOT FOUND or not visible to this account")
                    problems += 1
                    continue
                open_ = sum(1 for v in versions if not v.get("released") and not v.get("archived"))
                print(f"project {key}: {len(versions)} versions, {open_} unreleased")
            try:
                hooks = await jira.webhooks()
                mine = [h for h in hooks if str(h.get("url", "")).rstrip("/").endswith("/webhooks/jira")]
                print(f"webhooks:    {len(mine)} registered for bridgeline (of {len(hooks)})")
            except AuthenticationFailed:
                print("webhooks:    not visible (the account is not a Jira administrator)")
        finally:
            await jira.aclose()
        return 1 if problems else 0

    return asyncio.run(go())
