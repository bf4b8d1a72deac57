"""A real S3 API on loopback for the storage tests: moto's server mode, started once
per session on a free port of 127.0.0.1, and a fresh bucket per test that
``default_storage`` (django-storages' S3 backend on boto3, as in production) uses.

Nothing here needs credentials or the network; the rest of the suite never starts
the server and keeps the local file system.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

REGION = "us-east-1"
#: moto accepts any key; these only have to be set so boto3 looks for no others.
ACCESS_KEY = "neptun-test"
SECRET_KEY = "neptun-test-secret"  # moto takes any key


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_storage_settings(*, bucket: str, endpoint: str) -> dict[str, Any]:
    """``STORAGES["default"]`` as ``neptun.settings.base`` builds it from ``AWS_*``."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
            "signature_version": "s3v4",
            "file_overwrite": False,
        },
    }


@dataclass
class Bucket:
    """The test's bucket, seen with a client of its own (not the storage's)."""

    name: str
    endpoint: str
    client: Any
    #: every request the storage's client sent: (operation, inside a transaction?).
    #: An upload's PutObject may run on one of s3transfer's threads, whose database
    #: connection is its own; the HeadObject that picks the name before every upload
    #: runs on the caller's thread, so an upload inside a transaction still shows.
    requests: list[tuple[str, bool]] = field(default_factory=list)

    def objects(self, prefix: str = "") -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        )
        return {entry["Key"] for page in pages for entry in page.get("Contents", ())}

    def put(self, key: str, body: bytes = b"blob") -> str:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)
        return key

    def deny_delete(self, *keys: str) -> None:
        """A bucket policy refusing ``s3:DeleteObject`` on these keys: moto then
        answers them in ``DeleteObjects``'s ``Errors`` (AccessDenied), the others
        are deleted — a real partial failure."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:DeleteObject",
                    "Resource": [f"arn:aws:s3:::{self.name}/{key}" for key in keys],
                },
            ],
        }
        self.client.put_bucket_policy(Bucket=self.name, Policy=json.dumps(policy))

    def allow_delete(self) -> None:
        self.client.delete_bucket_policy(Bucket=self.name)

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.requests if op == operation)

    def record(self, *, event_name: str, **_: Any) -> None:
        self.requests.append((event_name.rsplit(".", 1)[-1], connection.in_atomic_block))


def make_bucket(endpoint: str) -> Bucket:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    name = f"neptun-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return Bucket(name=name, endpoint=endpoint, client=client)


def use_bucket(settings, bucket: Bucket) -> None:
    """Point ``default_storage`` at ``bucket`` and record its client's requests."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage_settings(bucket=bucket.name, endpoint=bucket.endpoint),
    }
    default_storage.connection.meta.client.meta.events.register("before-send.s3", bucket.record)


@pytest.fixture
def s3(settings, moto_endpoint) -> Bucket:
    bucket = make_bucket(moto_endpoint)
    use_bucket(settings, bucket)
    return bucket
