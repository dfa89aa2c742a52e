"""The demo on the simulators' seeded accounts: what it prints is never garbled by secret masking
(no secret is a word it uses) and never shows a secret (masking still knows every one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bridgeline.demo import demo_settings, run_demo
from bridgeline.log import REDACTED, redact_text


def _demo_secrets(folder: Path) -> list[str]:
    settings = demo_settings(folder, "http://jira", "http://servicenow", "http://remedy")
    found = []
    for section in (settings.jira, settings.servicenow, settings.remedy):
        for name in type(section).model_fields:
            value = getattr(section, name)
            if hasattr(value, "get_secret_value") and value.get_secret_value():
                found.append(value.get_secret_value())
    return found


@pytest.mark.slow
@pytest.mark.long
async def test_the_demo_prints_no_masked_word_and_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "demo"
    assert await run_demo(folder) == 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert "bridgeline demo" in printed and "CHG00300" in printed, printed
    assert REDACTED not in printed, re.findall(rf"\S*{re.escape(REDACTED)}\S*", printed)

    secrets = _demo_secrets(folder)
    assert len(secrets) == 3  # Jira's API token, ServiceNow's and Remedy's passwords
    for secret in secrets:
        # not in the text: neither shown, nor a word of the demo's own that masking would garble
        assert secret not in printed
        # the demo taught the redactor every one of them: a log line would still hide it
        assert redact_text(f"login failed with {secret}") == f"login failed with {REDACTED}"
