"""Unknown API paths answer JSON in the dialect's shape, never an HTML page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/users/1/nothing-here",
            {"statusCode": 404, "statusMessage": "Not Found", "data": {"message": "Not Found"}},
        ),
        ("/api/v1/nothing-here", {"detail"}),
        ("/api/chat/nothing-here", {"detail"}),
    ],
)
def test_unknown_api_path_is_json_404(client, settings, path, body):
    settings.DEBUG = False
    response = client.get(path)
    assert response.status_code == 404
    if isinstance(body, set):
        assert set(response.json()) == body
    else:
        assert response.json() == body


def test_unknown_html_path_is_not_json(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "json" not in response["Content-Type"]


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
