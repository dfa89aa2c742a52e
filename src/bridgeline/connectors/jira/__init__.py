"""Jira: the REST client (Cloud and Data Center), change detection, webhook parsing."""

from __future__ import annotations

from bridgeline.connectors.jira.changes import JiraChanges, PollResult, parse_jira_time
from bridgeline.connectors.jira.client import JiraClient, jira_error_parser, text_to_adf

__all__ = ["JiraChanges", "JiraClient", "PollResult", "jira_error_parser", "parse_jira_time", "text_to_adf"]
