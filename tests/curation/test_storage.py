"""curation.storage on a local folder and on the real S3-compatible server the tests start (moto, with
credentials and permissions checked): the same operations give the same bytes, and every failure is one line."""

from __future__ import annotations

import pytest
from s3_server import free_port, settings_for

from curation.storage import (
    LocalStore,
    S3Settings,
    S3Store,
    StoreError,
    join,
    open_store,
    sha256_file,
    spark_uri,
    split_bucket,
)


def test_uris():
    assert spark_uri("s3://b/lake") == "s3a://b/lake"
    assert spark_uri("s3n://b/lake/") == "s3a://b/lake"
    assert spark_uri("s3a://b/lake") == "s3a://b/lake"
    assert spark_uri("file:/tmp/x/../y") == "/tmp/y"
    assert join("s3a://b/lake/", "models", "/tox/") == "s3a://b/lake/models/tox"
    assert split_bucket("s3://b/a/b.bin") == ("b", "a/b.bin")
    with pytest.raises(StoreError, match="needs a bucket"):
        split_bucket("s3a:///x")
    with pytest.raises(StoreError, match="only local paths and s3a"):
        open_store("gs://b/x")


def test_settings_from_hadoop_keys_and_back():
    conf = {
        "spark.hadoop.fs.s3a.endpoint": "127.0.0.1:9000",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "fs.s3a.access.key": "AK",
        "spark.hadoop.fs.s3a.secret.key": "SK",
        "spark.hadoop.fs.s3a.endpoint.region": "eu-west-1",
    }
    s = S3Settings.from_hadoop(conf)
    assert s == S3Settings("http://127.0.0.1:9000", True, "AK", "SK", None, "eu-west-1")
    assert S3Settings.from_hadoop(s.hadoop()) == s
    assert S3Settings.from_hadoop({"fs.s3a.endpoint": "s3.example.com"}).endpoint == "https://s3.example.com"
    assert S3Settings.from_hadoop({}) == S3Settings()


def _exercise(store, root: str, tmp_path):
    """Write, read, list, upload, download, exclusive create and delete under ``root``; return what was seen."""
    store.write_bytes(join(root, "a", "one.bin"), b"one")
    tmp_path.mkdir(parents=True)
    src = tmp_path / "src.bin"
    src.write_bytes(bytes(range(256)) * 4096)
    store.upload(src, join(root, "a", "b", "two.bin"))
    assert store.exists(join(root, "a", "one.bin")) and not store.exists(join(root, "a", "none.bin"))
    listed = [u.removeprefix(root) for u in store.list(join(root, "a"))]
    got = tmp_path / "got" / "two.bin"
    store.download(join(root, "a", "b", "two.bin"), got)
    first = store.create_exclusive(join(root, "lock"), b"me")
    second = store.create_exclusive(join(root, "lock"), b"you")
    seen = dict(
        listed=listed,
        one=store.read_bytes(join(root, "a", "one.bin")),
        same=sha256_file(got) == sha256_file(src),
        leftovers=sorted(p.name for p in got.parent.iterdir()),
        exclusive=(first, second, store.read_bytes(join(root, "lock"))),
    )
    assert store.delete_tree(join(root, "a")) == 2
    assert list(store.list(join(root, "a"))) == []
    with pytest.raises(StoreError) as e:
        store.read_bytes(join(root, "a", "one.bin"))
    assert e.value.reason == "not_found"
    return seen


@pytest.mark.objectstore
def test_local_and_s3_stores_behave_alike(tmp_path, s3_settings, bucket):
    local = _exercise(LocalStore(), str(tmp_path / "lake"), tmp_path / "l")
    remote = _exercise(open_store(f"s3://{bucket}/lake", s3_settings), f"s3a://{bucket}/lake", tmp_path / "r")
    assert local == remote
    assert local["listed"] == ["/a/b/two.bin", "/a/one.bin"]
    assert local["exclusive"] == (True, False, b"me") and local["same"] and local["leftovers"] == ["two.bin"]


@pytest.mark.objectstore
def test_failures_are_one_line_with_the_reason(s3_server, s3_settings, bucket, tmp_path):
    def reason(fn) -> str:
        with pytest.raises(StoreError) as e:
            fn()
        assert "\n" not in str(e.value) and "s3a://" in str(e.value)
        return e.value.reason

    S3Store(s3_settings).write_bytes(f"s3a://{bucket}/x", b"x")
    reader = S3Store(settings_for(s3_server, "reader"))
    assert reader.read_bytes(f"s3a://{bucket}/x") == b"x"
    assert reason(lambda: reader.write_bytes(f"s3a://{bucket}/y", b"y")) == "denied"
    wrong = S3Store(S3Settings(s3_settings.endpoint, True, "AKIAWRONG", "wrong", None, "us-east-1"))
    assert reason(lambda: wrong.read_bytes(f"s3a://{bucket}/x")) == "bad_credentials"
    assert reason(lambda: S3Store(s3_settings).check_bucket("s3a://no-such-bucket-here/lake")) == "no_bucket"
    S3Store(s3_settings).check_bucket(f"s3a://{bucket}/lake")  # there: no error
    closed = S3Store(S3Settings(f"http://127.0.0.1:{free_port()}", True, "a", "b", None, "us-east-1"))
    assert reason(lambda: closed.write_bytes(f"s3a://{bucket}/x", b"x")) == "unreachable"
