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


COOKIE_404 = {"statusCode": 404, "statusMessage": "Not Found", "data": {"message": "Not Found"}}
DETAIL_404 = {"detail": "Not Found"}


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete", "put"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        # The Neptun cookie dialect: /api/users/, /api/auth/ and the rest of /api/.
        ("/api/auth/me", COOKIE_404),
        ("/api/auth/login/", COOKIE_404),
        ("/api/users/1", COOKIE_404),
        ("/api/users/1/nothing-here", COOKIE_404),
        ("/api/", COOKIE_404),
        ("/api", COOKIE_404),
        ("/api/no-such-thing", COOKIE_404),
        # The v1 dialect.
        ("/api/v1", DETAIL_404),
        ("/api/v1/", DETAIL_404),
        ("/api/v1/nothing-here", DETAIL_404),
        # The conversations dialect.
        ("/api/chat/nothing-here", DETAIL_404),
        ("/api/chat", DETAIL_404),
        ("/api/collections/nothing-here", DETAIL_404),
        ("/api/files/nothing-here", DETAIL_404),
    ],
)
def test_unknown_api_paths_are_json_in_the_dialects_shape(
    client, settings, path, body, method, debug
):
    """Whatever DEBUG says and whatever the method: never Django's HTML 404 (nor a
    CSRF 403 page for an unsafe method)."""
    settings.DEBUG = debug
    response = getattr(client, method)(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


def test_home_page_links_docs_admin_and_healthz(client, settings):
    settings.DEBUG = True
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    for href in ('href="/api/docs/"', 'href="/admin/"', 'href="/healthz"'):
        assert href in html


def test_admin_view_site_link_leads_to_the_home_page(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert '<a href="/">View site</a>' in response.content.decode()
    assert admin_client.get("/").status_code == 200


@pytest.mark.parametrize("path", ["/api/docs", "/api/schema"])
def test_api_paths_missing_their_slash_still_redirect(client, path):
    response = client.get(path)

    assert response.status_code == 301
    assert response["Location"] == path + "/"
