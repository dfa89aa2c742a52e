"""Logs: JSON lines (pretty on a terminal), the standard library's records in the same shape, and
secrets masked wherever they turn up - values, messages, exceptions, headers, URLs."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from bridgeline.log import (
    MIN_CUT_SECRET,
    configure_logging,
    get_logger,
    redact_text,
    register_credentials,
    register_secret,
    shorten,
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("debug", "auto", stream=stream)
    yield stream
    configure_logging("info", "auto")


def test_lines_are_json_objects_with_level_time_and_logger(captured: io.StringIO) -> None:
    get_logger("bridgeline.sync").info("created", entity="jira:version:1", mapping="m", target="CHG1", ms=3.2)
    logging.getLogger("bridgeline.tests.stdlib").warning("port %s busy", 8080)
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["event"] == "created" and first["logger"] == "bridgeline.sync" and first["level"] == "info"
    assert first["target"] == "CHG1" and first["ms"] == 3.2 and first["timestamp"].endswith("Z")
    assert (second["event"], second["logger"], second["level"]) == (
        "port 8080 busy",
        "bridgeline.tests.stdlib",
        "warning",
    )


def test_a_terminal_gets_readable_lines() -> None:
    stream = Terminal()
    configure_logging("info", "auto", stream=stream)
    try:
        get_logger("bridgeline.daemon").info("listening", url="http://127.0.0.1:8080")
    finally:
        configure_logging("info", "auto")
    line = re.sub(r"\x1b\[[0-9;]*m", "", stream.getvalue())  # colours, since it is a terminal
    assert not line.startswith("{") and "listening" in line and "url=http://127.0.0.1:8080" in line


def test_secrets_are_masked_in_values_messages_exceptions_headers_and_urls(captured: io.StringIO) -> None:
    register_secret("hunter2-Qm81")
    register_credentials("ops@example.com", "tok-Lr55-zz")
    log = get_logger("bridgeline.test")
    log.info("login with hunter2-Qm81 failed", password="anything", api_token="x", detail="pw=hunter2-Qm81")
    try:
        raise RuntimeError("server said: bad token tok-Lr55-zz")
    except RuntimeError:
        log.exception("call failed")
    log.warning("sent", headers={"Authorization": "Basic b3BzQGV4YW1wbGUuY29tOnRvay1McjU1LXp6"})
    log.warning("request", url="https://svc:Sup3rS3cret@db.example/x", note="Bearer abcdefghijkl")
    logging.getLogger("httpx").error("HTTP Request failed with hunter2-Qm81 in it")
    text = captured.getvalue()
    for secret in (
        "hunter2-Qm81",
        "tok-Lr55-zz",
        "b3BzQGV4YW1wbGUuY29tOnRvay1McjU1LXp6",
        "Sup3rS3cret",
        "abcdefghijkl",
    ):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["password"] == "***" and lines[0]["event"] == "login with *** failed"
    assert "RuntimeError: server said: bad token ***" in lines[1]["exception"]
    assert lines[3]["url"] == "https://svc:***@db.example/x"


def test_text_is_redacted_before_it_is_shortened() -> None:
    secret = "reflected-Xq93-Lk27-Pz55"
    register_secret(secret)
    remote = "error: " + "." * 485 + secret + " was not accepted"
    cut_first = remote[:500]  # what a cut before redaction leaves: the secret's first 8 characters
    assert secret[:8] in cut_first and secret not in cut_first
    for limit in (200, 497, 500, 505, 520):
        shortened = shorten(remote, limit)
        assert len(shortened) <= limit
        assert secret[:MIN_CUT_SECRET] not in shortened, limit
    assert shorten("short", 500) == "short"
    assert shorten("a" * 600, 500) == "a" * 499 + "…"


def test_a_secret_cut_off_at_the_end_of_a_text_is_masked() -> None:
    secret = "cut-Hw52-Tz18-Qa40"
    register_secret(secret)
    for cut in range(MIN_CUT_SECRET, len(secret)):
        text = "the remote said: token=" + secret[:cut]
        assert redact_text(text) == "the remote said: token=***", cut
        assert redact_text(text + "...") == "the remote said: token=***...", cut
    # fewer characters than that say next to nothing, and are often ordinary words
    assert redact_text("ends with cut-H") == "ends with cut-H"
    assert redact_text(f"{secret[:8]} in the middle stays") == f"{secret[:8]} in the middle stays"
