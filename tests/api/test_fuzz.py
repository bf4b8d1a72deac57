"""Schemathesis against the OpenAPI schema, on the in-process app.

Bounded and deterministic (few examples per operation, derandomized), with real
credentials from the factories so that requests get past authentication. Every
response must be free of 5xx and conform to the schema (status, content type,
headers, body); the stateful run follows the schema's links (create → read →
delete) and runs the stateful checks (e.g. a deleted object is gone).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.config import SchemathesisConfig

from neptun.models import AccessToken, ApiKey
from tests.factories import (
    PASSWORD,
    ChatFactory,
    CollectionFactory,
    MessageFactory,
    ProjectChatFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

#: Bounded for CI (the whole file runs in well under 90 s on 2 cores); raise them with
#: ``FUZZ_EXAMPLES`` / ``FUZZ_STATEFUL_EXAMPLES`` for a longer local run.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 12))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", 25))
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Credentials:
    user_id: int
    session: str
    api_key: str
    token: str

    def apply(self, case) -> None:
        """Authenticate ``case`` in its dialect, as the owner of the path's ``user_id``."""
        path = case.operation.path
        if "user_id" in (case.path_parameters or {}):
            case.path_parameters["user_id"] = self.user_id
        if case.headers is None:
            case.headers = {}
        if case.cookies is None:
            case.cookies = {}
        if path.startswith(("/api/users/", "/api/auth/")):
            case.cookies["neptun-session"] = self.session
        elif path.startswith("/api/v1/"):
            case.headers["X-API-Key"] = self.api_key
        else:
            case.headers["Authorization"] = f"Bearer {self.token}"


#: The credentials of the running test (set by the ``credentials`` fixture).
CURRENT: list[Credentials] = []


@pytest.fixture
def credentials(db) -> Credentials:
    user = UserFactory()
    collection = CollectionFactory(owner=user)
    for chat in ChatFactory.create_batch(3, owner=user, collection=collection):
        MessageFactory.create_batch(2, chat=chat)
    ProjectChatFactory(project__owner=user)
    client = APIClient()
    response = client.post(
        "/api/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    CURRENT[:] = [
        Credentials(
            user_id=user.pk,
            session=client.cookies["neptun-session"].value,
            api_key=ApiKey.generate(tenant=user.tenant)[1],
            token=AccessToken.generate(user=user)[1],
        )
    ]
    # Serve through the raw WSGI handler without closing the test's connection after
    # each request, as Django's test client does (it reconnects these on each call,
    # hence after the login above).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield CURRENT[0]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    CURRENT.clear()


# Loaded at import (``schemathesis.pytest.from_fixture`` does not work with pytest 9):
# generating the schema reads no database.
#
# Positive and negative inputs are generated, for the error paths too. Whether an
# invalid input is *rejected* (and a valid one accepted) is left to the dialects' own
# tests: DRF is lenient by design in places (``?offset=x`` reads as 0), and a multipart
# form cannot carry a JSON null. What is checked here: no 5xx, and every response is
# documented (status, content type, headers, body).
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"mode": "all", "deterministic": True, "database": "none"},
        "checks": {
            "negative_data_rejection": {"enabled": False},
            "positive_data_acceptance": {"enabled": False},
        },
        # Sequences follow the schema's own links (neptun.schema.add_links) only: the
        # inferred ones would also "link" a project to linking arbitrary chat ids.
        "phases": {"stateful": {"inference": {"algorithms": []}}},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), config=CONFIG)


@schema.auth(refresh_interval=None)
class DialectAuth:
    """Real credentials of the dialect each operation belongs to.

    As an auth provider (not extra headers) they count as explicit credentials, so
    the ``ignored_auth`` check removes and corrupts them to prove they are enforced.
    """

    def get(self, case, ctx):
        return CURRENT[0] if CURRENT else None  # None while collecting

    def set(self, case, data: Credentials, ctx):
        data.apply(case)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_schema(case, credentials):
    case.call_and_validate()


def test_stateful_sequences_conform(credentials):
    """Create → read → delete sequences along the schema's links, with stateful checks."""
    machine = schema.as_state_machine()
    machine.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
