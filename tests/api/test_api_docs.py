"""Who may read /api/schema/ and /api/docs/: the ``API_DOCS_ACCESS`` decision."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import override_settings

from tests.factories import PASSWORD, UserFactory

PATHS = ("/api/schema/", "/api/docs/")


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
@override_settings(API_DOCS_ACCESS="staff")
def test_staff_mode_refuses_anonymous_and_non_staff(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}

    user = UserFactory()
    client.login(email=user.email, password=PASSWORD)
    response = client.get(path)
    assert response.status_code == 403
    assert response.json() == {"detail": "The API docs are for staff: log in at /admin/ first."}


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
@override_settings(API_DOCS_ACCESS="staff")
def test_staff_mode_serves_a_logged_in_staff_member(client, path):
    staff = UserFactory(is_staff=True)
    client.login(email=staff.email, password=PASSWORD)
    response = client.get(path)
    assert response.status_code == 200
    assert b"openapi" in response.content or b"swagger-ui" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
@override_settings(API_DOCS_ACCESS="off")
def test_off_mode_is_a_404_even_for_staff(client, path):
    staff = UserFactory(is_staff=True)
    client.login(email=staff.email, password=PASSWORD)
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
@pytest.mark.parametrize("path", PATHS)
@override_settings(API_DOCS_ACCESS="public")
def test_public_mode_needs_no_login(client, path):
    assert client.get(path).status_code == 200


def _access_for(**environ: str) -> str:
    """API_DOCS_ACCESS as the base settings compute it from this environment."""
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.pop("API_DOCS_ACCESS", None)
    env.update(environ, DJANGO_SETTINGS_MODULE="neptun.settings.base")
    code = "from django.conf import settings; print(settings.API_DOCS_ACCESS)"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-500:]
    return out.stdout.strip()


def test_defaults_follow_debug():
    assert _access_for(DEBUG="1") == "public"
    assert _access_for(DEBUG="0", SECRET_KEY="x" * 50) == "staff"
    assert _access_for(DEBUG="0", SECRET_KEY="x" * 50, API_DOCS_ACCESS="public") == "public"


def test_an_unknown_value_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(DEBUG="1", API_DOCS_ACCESS="everyone", DJANGO_SETTINGS_MODULE="neptun.settings.base")
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "API_DOCS_ACCESS must be public, staff or off" in out.stderr
