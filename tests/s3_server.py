"""A real S3-compatible server for the tests: moto's server mode (Apache-2.0, ``moto[server]`` from PyPI), started
as its own process on 127.0.0.1 once per test session and stopped at the end. Tests that use it carry the
``objectstore`` marker (``pytest -m objectstore``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

# The server itself lives in bench/_s3_server.py (the deploy bench starts it too); these names stay importable here.
from bench._s3_server import AUTHLESS, USERS, create_users, free_port, start, wait_for_port  # noqa: F401


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> dict:
    """A moto S3 server that lives for the whole test session: ``{"endpoint": "http://127.0.0.1:PORT", "keys":
    {"writer": (key, secret), "reader": (key, secret)}}``."""
    pytest.importorskip("moto", reason="the object-store tests need moto[server] (pip install -e '.[dev]')")
    server = start(Path(tmp_path_factory.mktemp("s3-server")) / "server.log")
    try:
        yield {"endpoint": server.endpoint, "keys": server.keys}
    finally:
        server.stop()


def settings_for(server: dict, user: str = "writer"):
    """How to reach the test server as ``user`` (path-style), as lakeforge's :class:`S3Settings`."""
    from curation.storage import S3Settings

    key, secret = server["keys"][user]
    return S3Settings(
        endpoint=server["endpoint"], path_style=True, access_key=key, secret_key=secret, region="us-east-1"
    )


@pytest.fixture(scope="session")
def s3_settings(s3_server):
    """The test server as the user who may write anything."""
    return settings_for(s3_server)


@pytest.fixture
def bucket(s3_settings) -> str:
    """A new, empty bucket on the test server; its name."""
    from curation.storage import S3Store

    name = f"lf-{uuid.uuid4().hex[:12]}"
    S3Store(s3_settings).client.create_bucket(Bucket=name)
    return name
