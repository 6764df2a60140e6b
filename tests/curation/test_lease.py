"""The writer lease on the real S3 server (moto): taken with a conditional put, refused to another process, released
only by its holder, cleared when stale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation import lease
from curation.storage import S3Store, StoreError

pytestmark = pytest.mark.objectstore
REPO = Path(__file__).resolve().parents[2]

TAKE = """
import json, sys
from curation import lease
from curation.storage import S3Settings, S3Store
try:
    lease.acquire(S3Store(S3Settings(**json.loads(sys.argv[1]))), sys.argv[2], "other-run", "curate")
except lease.LeaseHeld as e:
    print(json.dumps(e.holder)); sys.exit(3)
"""


def take_in_another_process(settings, root: str) -> subprocess.CompletedProcess:
    args = json.dumps({k: getattr(settings, k) for k in settings.__dataclass_fields__})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", TAKE, args, root], capture_output=True, text=True, env=env)


def test_one_holder_at_a_time(s3_settings, bucket):
    store, root = S3Store(s3_settings), f"s3a://{bucket}/lake"
    assert lease.holder(store, root) is None
    mine = lease.acquire(store, root, "run-1", "dedup")
    assert lease.holder(store, root) == mine and mine["pid"] == os.getpid() and mine["job"] == "dedup"
    assert lease.acquire(store, root, "run-2", "classify")["run_id"] == "run-2"  # this process: taken over

    other = take_in_another_process(s3_settings, root)
    assert other.returncode == 3, other.stderr
    assert json.loads(other.stdout)["run_id"] == "run-2"
    assert lease.release(store, root, "run-1") is False  # not the holder: left alone
    assert lease.release(store, root, "run-2") is True and lease.holder(store, root) is None

    assert take_in_another_process(s3_settings, root).returncode == 0  # free: the other process takes it
    with pytest.raises(lease.LeaseHeld, match="other-run"):
        lease.acquire(store, root, "run-3", "dedup")
    assert lease.clear(store, root)["run_id"] == "other-run" and lease.holder(store, root) is None


def test_a_reader_cannot_take_it(s3_server, bucket):
    from s3_server import settings_for

    with pytest.raises(StoreError, match="permission denied") as e:
        lease.acquire(S3Store(settings_for(s3_server, "reader")), f"s3a://{bucket}/lake", "run-1", "dedup")
    assert e.value.reason == "denied"
