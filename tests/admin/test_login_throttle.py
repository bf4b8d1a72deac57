"""``/admin/login/`` is throttled per client address, like the API's login."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.settings import api_settings

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
BYSTANDER = "198.51.100.9"
LOGIN = "/admin/login/?next=/admin/"


def _limit() -> int:
    rates = api_settings.DEFAULT_THROTTLE_RATES
    return int((rates.get("admin_login") or rates["login"]).split("/")[0])


@pytest.fixture
def staff(db):
    return UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


def _login(client: Client, email: str, password: str, addr: str):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=addr)


def test_wrong_passwords_are_throttled_and_then_the_right_one_is_refused(staff):
    client = Client()
    limit = _limit()
    assert limit < 30
    for attempt in range(limit):
        response = _login(client, staff.email, "wrong", ATTACKER)
        assert response.status_code == 200, attempt
        assert "Please enter the correct email" in response.content.decode()
    response = _login(client, staff.email, PASSWORD, ATTACKER)
    # The admin's own page, with the error where the form shows its errors.
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert 'class="errornote"' in html
    assert "Too many login attempts from your address." in html
    assert 'id="id_password"' in html  # the login form again
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still not logged in


def test_showing_the_page_is_not_an_attempt_and_other_addresses_are_not_affected(staff):
    for _ in range(_limit() + 5):
        assert Client().get(LOGIN, REMOTE_ADDR=ATTACKER).status_code == 200
    assert _login(Client(), staff.email, PASSWORD, ATTACKER).status_code == 302
    for _ in range(_limit() + 1):
        _login(Client(), staff.email, "wrong", ATTACKER)
    assert _login(Client(), staff.email, PASSWORD, ATTACKER).status_code == 429
    client = Client()
    response = _login(client, staff.email, PASSWORD, BYSTANDER)
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_throttled_page_is_the_login_page_for_an_unknown_email_too(db):
    UserFactory(is_staff=True)
    for _ in range(_limit()):
        _login(Client(), "nobody@example.com", "wrong", ATTACKER)
    response = _login(Client(), "nobody@example.com", "wrong", ATTACKER)
    assert response.status_code == 429
    assert "Too many login attempts" in response.content.decode()
