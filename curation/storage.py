"""Files that live beside the tables (model files, token shards, mixtures, a trainer's shard cache) on a local disk
or in an S3-compatible object store, through one small interface. Pure Python: boto3 for ``s3a://`` / ``s3://``.

A URI names a place: ``/abs/path`` (or ``file:/abs/path``) or ``s3a://bucket/key`` (``s3://`` is the same place;
Spark and Hadoop read it as ``s3a://``, see :func:`spark_uri`). Writes are whole-object: a local write goes to a
temporary name and is renamed into place, an S3 PUT (or completed multipart upload) is atomic. A *set* of files
becomes visible only when a table row names it (see ``docs/cluster.md``): writers put every file under a key no one
else uses, then commit the row.

Settings come from the standard places, read by the caller (``jobs/``) and passed in: Hadoop's ``fs.s3a.*`` keys
(endpoint, path-style access, access/secret/session keys, region), else boto3's own chain (environment, profile,
instance role). Errors are one line saying what failed and where (:class:`StoreError`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

SCHEMES = ("s3a://", "s3://", "s3n://")


class StoreError(RuntimeError):
    """An object-store or file operation failed; the message is one line: what, where, and what to do."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def is_remote(uri: str) -> bool:
    return uri.startswith(SCHEMES)


def spark_uri(uri: str) -> str:
    """The URI Spark and Hadoop read: ``s3://`` and ``s3n://`` become ``s3a://``; local paths are made absolute."""
    for scheme in ("s3://", "s3n://"):
        if uri.startswith(scheme):
            uri = "s3a://" + uri[len(scheme) :]
    if "://" in uri:
        return uri.rstrip("/") if uri.count("/") > 3 else uri
    return str(Path(uri.removeprefix("file:")).expanduser().resolve())


def join(root: str, *parts: str) -> str:
    """``root/part/part`` for either kind of URI."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts if p)])


def split_bucket(uri: str) -> tuple[str, str]:
    """``s3a://bucket/a/b`` → ``("bucket", "a/b")``."""
    rest = spark_uri(uri)[len("s3a://") :]
    bucket, _, key = rest.partition("/")
    if not bucket:
        raise StoreError("bad_uri", f"{uri}: an object-store URI needs a bucket (s3a://BUCKET/prefix)")
    return bucket, key


@dataclass(frozen=True)
class S3Settings:
    """Where and how to reach the object store; None means "boto3's default" (environment, profile, role)."""

    endpoint: str | None = None
    path_style: bool = False
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    region: str | None = None

    @classmethod
    def from_hadoop(cls, conf: Mapping[str, str]) -> S3Settings:
        """From Hadoop's S3A keys, as given to Spark (``spark.hadoop.fs.s3a.endpoint``) or to Hadoop
        (``fs.s3a.endpoint``). An endpoint without a scheme gets the one ``fs.s3a.connection.ssl.enabled`` says."""

        def get(key: str) -> str | None:
            value = conf.get("spark.hadoop.fs.s3a." + key, conf.get("fs.s3a." + key))
            return value if value not in (None, "") else None

        endpoint = get("endpoint")
        if endpoint and "://" not in endpoint:
            ssl = (get("connection.ssl.enabled") or "true").lower() == "true"
            endpoint = ("https://" if ssl else "http://") + endpoint
        return cls(
            endpoint=endpoint,
            path_style=(get("path.style.access") or "false").lower() == "true",
            access_key=get("access.key"),
            secret_key=get("secret.key"),
            session_token=get("session.token"),
            region=get("endpoint.region") or get("region"),
        )

    def hadoop(self) -> dict[str, str]:
        """The same settings as Spark configuration keys (``spark.hadoop.fs.s3a.*``)."""
        keys = {
            "endpoint": self.endpoint,
            "path.style.access": "true" if self.path_style else None,
            "access.key": self.access_key,
            "secret.key": self.secret_key,
            "session.token": self.session_token,
            "endpoint.region": self.region,
        }
        out = {f"spark.hadoop.fs.s3a.{k}": v for k, v in keys.items() if v is not None}
        if self.endpoint and self.endpoint.startswith("http://"):
            out["spark.hadoop.fs.s3a.connection.ssl.enabled"] = "false"
        if self.session_token:
            out["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
            )
        return out


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class Store:
    """One interface over local files and an S3 bucket. Use :func:`open_store`."""

    def exists(self, uri: str) -> bool:
        raise NotImplementedError

    def read_bytes(self, uri: str) -> bytes:
        raise NotImplementedError

    def write_bytes(self, uri: str, data: bytes) -> None:
        raise NotImplementedError

    def create_exclusive(self, uri: str, data: bytes) -> bool:
        """Write ``uri`` only if nothing is there (atomic); False when something already is."""
        raise NotImplementedError

    def upload(self, local: str | Path, uri: str) -> None:
        raise NotImplementedError

    def download(self, uri: str, local: str | Path) -> None:
        """Copy to ``local`` through a temporary name beside it: ``local`` is whole or absent."""
        raise NotImplementedError

    def list(self, prefix: str) -> Iterator[str]:
        """Every file URI under the folder ``prefix``, sorted."""
        raise NotImplementedError

    def delete(self, uri: str) -> None:
        raise NotImplementedError

    def check_bucket(self, uri: str) -> None:
        """Object stores: fail with one line unless the bucket is there and reachable. Local: nothing to check."""

    def delete_tree(self, prefix: str) -> int:
        n = 0
        for uri in list(self.list(prefix)):
            self.delete(uri)
            n += 1
        return n


class LocalStore(Store):
    @staticmethod
    def _p(uri: str) -> Path:
        return Path(uri.removeprefix("file:"))

    def exists(self, uri):
        return self._p(uri).exists()

    def read_bytes(self, uri):
        try:
            return self._p(uri).read_bytes()
        except FileNotFoundError:
            raise StoreError("not_found", f"{uri}: no such file") from None

    def write_bytes(self, uri, data):
        path = self._p(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def create_exclusive(self, uri, data):
        path = self._p(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return True

    def upload(self, local, uri):
        path = self._p(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        shutil.copyfile(local, tmp)
        os.replace(tmp, path)

    def download(self, uri, local):
        self.upload(self._p(uri), str(local))

    def list(self, prefix):
        base = self._p(prefix)
        if not base.is_dir():
            return iter(())
        return iter(sorted(str(p) for p in base.rglob("*") if p.is_file() and not p.name.endswith(".tmp")))

    def delete(self, uri):
        self._p(uri).unlink(missing_ok=True)


class S3Store(Store):
    """An S3 bucket (AWS or any S3-compatible server) through boto3."""

    def __init__(self, settings: S3Settings):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StoreError("no_boto3", "object storage needs boto3: pip install 'lakeforge[s3]'") from None
        config = Config(
            s3={"addressing_style": "path" if settings.path_style else "auto"},
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self.settings = settings
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.endpoint,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            aws_session_token=settings.session_token,
            region_name=settings.region or ("us-east-1" if settings.endpoint else None),
            config=config,
        )

    def call(self, what: str, uri: str, fn, *args, **kwargs):
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        try:
            return fn(*args, **kwargs)
        except EndpointConnectionError:
            raise StoreError(
                "unreachable", f"{what} {uri}: cannot reach the object store at {self.settings.endpoint or 'AWS'}"
            ) from None
        except NoCredentialsError:
            raise StoreError(
                "no_credentials",
                f"{what} {uri}: no credentials (set fs.s3a.access.key/secret.key, AWS_ACCESS_KEY_ID or a profile)",
            ) from None
        except ClientError as e:
            raise _client_error(what, uri, e) from None

    def exists(self, uri):
        bucket, key = split_bucket(uri)
        try:
            self.call("checking", uri, self.client.head_object, Bucket=bucket, Key=key)
            return True
        except StoreError as e:
            if e.reason == "not_found":
                return False
            raise

    def check_bucket(self, uri: str) -> None:
        """Raise a one-line :class:`StoreError` unless the bucket of ``uri`` exists and these credentials reach it."""
        bucket, _ = split_bucket(uri)
        try:
            self.call("opening", f"s3a://{bucket}", self.client.head_bucket, Bucket=bucket)
        except StoreError as e:
            if e.reason == "not_found":
                raise StoreError("no_bucket", f"opening s3a://{bucket}: the bucket does not exist") from None
            if e.reason != "denied":
                raise
            # HEAD answers a bare 403 for bad keys and for missing rights alike; a listing's error says which
            self.call("opening", f"s3a://{bucket}", self.client.list_objects_v2, Bucket=bucket, MaxKeys=1)

    def read_bytes(self, uri):
        bucket, key = split_bucket(uri)
        return self.call("reading", uri, self.client.get_object, Bucket=bucket, Key=key)["Body"].read()

    def write_bytes(self, uri, data):
        bucket, key = split_bucket(uri)
        self.call("writing", uri, self.client.put_object, Bucket=bucket, Key=key, Body=data)

    def create_exclusive(self, uri, data):
        from botocore.exceptions import ClientError

        bucket, key = split_bucket(uri)
        try:
            self.client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
            return True
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise _client_error("writing", uri, e) from None

    def upload(self, local, uri):
        bucket, key = split_bucket(uri)
        self.call("writing", uri, self.client.upload_file, str(local), bucket, key)

    def download(self, uri, local):
        bucket, key = split_bucket(uri)
        local = Path(local)
        local.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{local.name}.", suffix=".part", dir=local.parent)
        os.close(fd)
        try:
            self.call("reading", uri, self.client.download_file, bucket, key, tmp)
            os.replace(tmp, local)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def list(self, prefix):
        bucket, key = split_bucket(prefix)
        key = key.rstrip("/") + "/" if key else ""
        pages = self.call(
            "listing",
            prefix,
            lambda: list(self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)),
        )
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        return iter(f"s3a://{bucket}/{k}" for k in keys)

    def delete(self, uri):
        bucket, key = split_bucket(uri)
        self.call("deleting", uri, self.client.delete_object, Bucket=bucket, Key=key)


def _client_error(what: str, uri: str, e) -> StoreError:
    err = e.response.get("Error", {})
    code, status = err.get("Code", ""), e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "NoSuchBucket":
        return StoreError("no_bucket", f"{what} {uri}: the bucket does not exist")
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"):
        return StoreError("bad_credentials", f"{what} {uri}: the object store refused the credentials ({code})")
    if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
        return StoreError("denied", f"{what} {uri}: permission denied ({code or status})")
    if code in ("NoSuchKey", "404", "NotFound"):
        return StoreError("not_found", f"{what} {uri}: no such object")
    return StoreError("s3_error", f"{what} {uri}: {code or status}: {err.get('Message', '')}".rstrip(": "))


def open_store(uri: str, settings: S3Settings | None = None) -> Store:
    """The store that holds ``uri``: :class:`S3Store` for ``s3a://``/``s3://``, else :class:`LocalStore`."""
    if is_remote(uri):
        return S3Store(settings or S3Settings())
    if "://" in uri and not uri.startswith("file:"):
        raise StoreError("unsupported_scheme", f"{uri}: only local paths and s3a:// (or s3://) URIs are supported")
    return LocalStore()
