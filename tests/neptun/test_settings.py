"""The environment decides DEBUG and the secret: development without a key, production with."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
PROBE = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'neptun.settings.base'; "
    "django.setup(); from django.conf import settings; "
    "print(settings.DEBUG, settings.SECRET_KEY.startswith('insecure-dev'))"
)


def probe(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "out"),
    [
        ({}, "True True"),  # a developer's machine
        ({"SECRET_KEY": "k" * 50}, "False False"),  # a deployment
        ({"SECRET_KEY": "k" * 50, "DEBUG": "1"}, "True False"),
    ],
)
def test_debug_follows_the_secret(env, out):
    result = probe(**env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == out


def test_debug_off_without_a_secret_refuses_to_start():
    result = probe(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"TRUSTED_PROXIES": "10.0.0.1,not-an-address"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXY_COUNT": "-1"}, "TRUSTED_PROXY_COUNT"),
        (
            {"TRUSTED_PROXIES": "10.0.0.0/8", "TRUSTED_PROXY_COUNT": "1"},
            "TRUSTED_PROXIES or TRUSTED_PROXY_COUNT, not both",
        ),
    ],
)
def test_a_wrong_trusted_proxy_setting_refuses_to_start(env, error):
    result = probe(**env)
    assert result.returncode != 0
    assert error in result.stderr


PROXY_PROBE = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'neptun.settings.base'; "
    "django.setup(); from django.conf import settings as s; "
    "print(s.TRUSTED_PROXIES, s.TRUSTED_PROXY_COUNT)"
)


def proxy_probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTED_PROXY")}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", PROXY_PROBE],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_trusted_proxies_are_off_by_default_and_read_from_the_environment():
    assert proxy_probe() == "[] 0"
    assert proxy_probe(TRUSTED_PROXIES="10.0.0.0/8,192.0.2.1") == "['10.0.0.0/8', '192.0.2.1'] 0"
    assert proxy_probe(TRUSTED_PROXY_COUNT="2") == "[] 2"


@pytest.mark.parametrize("rate", ["60", "sixty/min", "60/fortnight", "60 per min"])
def test_a_malformed_message_rate_refuses_to_start(rate):
    result = probe(MESSAGE_RATE=rate)
    assert result.returncode != 0
    assert "MESSAGE_RATE must look like 60/min" in result.stderr


@pytest.mark.parametrize("rate", ["", "100/s", "60/min", "1000/hour", "5000/day"])
def test_a_well_formed_or_empty_message_rate_starts(rate):
    assert probe(MESSAGE_RATE=rate).returncode == 0
