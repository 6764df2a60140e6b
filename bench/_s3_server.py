"""A local S3-compatible server for the benches and the tests: moto's server mode (Apache-2.0, ``moto[server]`` from
PyPI) as its own process on 127.0.0.1, with moto's IAM checks on. Used by ``bench/deploy.py`` and by the tests' pytest
plugin (``tests/s3_server.py``), so neither imports the other.

The server's first AUTHLESS calls create two users, one that may do anything in S3 and one that may only read; every
later call must be signed by one of them. Every request the server answers is one line of its access log (werkzeug's):
with ``watch=True`` they are also parsed as they come, stamped with this machine's clock (``S3Server.requests``), so a
caller can count the requests made between two instants."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

USERS = {"writer": ["s3:*"], "reader": ["s3:GetObject", "s3:ListBucket", "s3:HeadBucket", "s3:HeadObject"]}
AUTHLESS = 3 * len(USERS)  # create_user, create_access_key, put_user_policy per user

# werkzeug's access log line: 127.0.0.1 - - [07/Dec/2026 01:33:00] "PUT /bucket/key HTTP/1.1" 200 -
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<target>\S+) HTTP/[0-9.]+" (?P<status>\d{3})')


@dataclass(frozen=True)
class Request:
    at: float  # time.time() when the log line was read
    method: str
    target: str  # path and query, path-style: /bucket/key?query
    status: int

    @property
    def kind(self) -> str:
        """GET, PUT, HEAD, DELETE, POST, or LIST (a GET on a bucket: a listing)."""
        path, _, query = self.target.partition("?")
        if self.method == "GET" and path.strip("/").count("/") == 0:
            return "LIST"
        return self.method


@dataclass
class S3Server:
    endpoint: str
    keys: dict[str, tuple[str, str]]
    log: Path
    proc: subprocess.Popen
    requests: list[Request] = field(default_factory=list)
    _reader: threading.Thread | None = None

    def env(self, user: str = "writer") -> dict[str, str]:
        """The standard AWS environment variables that point lakeforge (and boto3) at this server as ``user``."""
        key, secret = self.keys[user]
        return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self, user: str = "writer"):
        import boto3

        key, secret = self.keys[user]
        region = "us-east-1"
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name=region
        )

    def between(self, t0: float, t1: float) -> list[Request]:
        """The requests whose log line was read in [t0, t1)."""
        return [r for r in list(self.requests) if t0 <= r.at < t1]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)


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


def _follow(stream, log: Path, requests: list[Request]) -> None:
    """Copy the server's output to ``log`` and parse each request line as it comes."""
    with open(log, "w", encoding="utf-8") as out:
        for line in stream:
            now = time.time()
            out.write(line)
            m = _REQUEST.search(_ANSI.sub("", line))
            if m:
                requests.append(Request(now, m["method"], m["target"], int(m["status"])))
    stream.close()


def start(log: Path, watch: bool = False) -> S3Server:
    """A fresh server with the users of :data:`USERS`; its output goes to ``log``. ``watch``: also collect every
    request in ``S3Server.requests`` (a thread reads the output as it comes)."""
    port = free_port()
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(AUTHLESS), "PYTHONUNBUFFERED": "1"}
    requests: list[Request] = []
    reader = None
    if watch:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, errors="replace"
        )
        reader = threading.Thread(target=_follow, args=(proc.stdout, log, requests), daemon=True)
        reader.start()
    else:
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_for_port(port, proc)
        endpoint = f"http://127.0.0.1:{port}"
        keys = create_users(endpoint)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return S3Server(endpoint, keys, log, proc, requests, reader)
