"""The server section's settings: a public URL that is one, proxies from the environment."""

from __future__ import annotations

import os

import pytest

from bridgeline.config import load_settings, settings_from_values
from bridgeline.errors import ConfigError


def test_public_url_must_be_an_http_url_with_a_host() -> None:
    wrong = {
        "bridgeline.example.com": "server.public_url: 'bridgeline.example.com' has no scheme: write https://",
        "ftp://bridgeline.example.com": "is not an http:// or https:// URL",
        "https:///status": "names no host: write https://host.example.com",
    }
    for value, message in wrong.items():
        with pytest.raises(ConfigError) as refused:
            settings_from_values({"server": {"public_url": value}})
        assert message in str(refused.value), value
    url = settings_from_values(
        {"server": {"public_url": "https://bridgeline.example.com/"}}
    ).server.public_url
    assert url == "https://bridgeline.example.com"


def test_trusted_proxies_come_from_the_environment_as_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):  # only this test's own variables
        if name.upper().startswith("BRIDGELINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BRIDGELINE_SERVER__TRUSTED_PROXIES", "10.0.0.1, 10.0.0.2")
    assert load_settings().server.trusted_proxies == ["10.0.0.1", "10.0.0.2"]
    monkeypatch.setenv("BRIDGELINE_SERVER__TRUSTED_PROXIES", '["*"]')
    assert load_settings().server.trusted_proxies == ["*"]
