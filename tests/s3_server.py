"""A real S3-compatible server for the tests: moto's server mode (Apache-2.0, ``moto[server]`` from PyPI), started
as its own process on 127.0.0.1 once per test session and stopped at the end. Tests that use it carry the
``objectstore`` marker (``pytest -m objectstore``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

# The server checks credentials and permissions (moto's IAM mode): its first AUTHLESS calls create two users, one
# that may do anything in S3 and one that may only read, and every later call must be signed by one of them.
USERS = {"writer": ["s3:*"], "reader": ["s3:GetObject", "s3:ListBucket", "s3:HeadBucket", "s3:HeadObject"]}
AUTHLESS = 3 * len(USERS)  # create_user, create_access_key, put_user_policy per user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the S3 server exited with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the S3 server did not open 127.0.0.1:{port} in {timeout_s} s")


def create_users(endpoint: str) -> dict[str, tuple[str, str]]:
    """The users of :data:`USERS` on a fresh server: name → (access key, secret key)."""
    import boto3

    iam = boto3.client(
        "iam", endpoint_url=endpoint, aws_access_key_id="setup", aws_secret_access_key="setup", region_name="us-east-1"
    )
    keys = {}
    for user, actions in USERS.items():
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(policy))
        keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
    return keys


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> dict:
    """A moto S3 server that lives for the whole test session: ``{"endpoint": "http://127.0.0.1:PORT", "keys":
    {"writer": (key, secret), "reader": (key, secret)}}``."""
    pytest.importorskip("moto", reason="the object-store tests need moto[server] (pip install -e '.[dev]')")
    port = free_port()
    log = Path(tmp_path_factory.mktemp("s3-server")) / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(AUTHLESS)},
        )
    try:
        wait_for_port(port, proc)
        endpoint = f"http://127.0.0.1:{port}"
        yield {"endpoint": endpoint, "keys": create_users(endpoint)}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


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
