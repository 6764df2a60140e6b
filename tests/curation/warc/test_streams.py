"""curation.warc.streams: opening sources, sniffing them, counting stored bytes."""

from __future__ import annotations

import gzip
import io
import random
import sys
from pathlib import Path

import pytest

from curation.warc.streams import (
    StreamFault,
    _Prefixed,
    commoncrawl_https,
    open_source,
    sniff,
)

WARC_HEAD = b"WARC/1.1\r\nWARC-Type: warcinfo\r\nContent-Length: 0\r\n\r\n\r\n\r\n"


class Trickle(io.RawIOBase):
    """A real forward-only stream that hands out at most ``step`` bytes per read, like a slow socket."""

    def __init__(self, data: bytes, step: int):
        self._data = data
        self._step = step
        self._pos = 0
        self.reads = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        n = self._step if n is None or n < 0 else min(n, self._step)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


def fault(fn) -> StreamFault:
    with pytest.raises(StreamFault) as info:
        fn()
    return info.value


# ------------------------------------------------------------------------------------ open_source


def test_open_local_file_and_file_uri(tmp_path: Path):
    p = tmp_path / "a.warc"
    p.write_bytes(b"WARC/1.0 hello")
    with open_source(str(p)) as fh:
        assert fh.read() == b"WARC/1.0 hello"
    with open_source(f"file://{p}") as fh:
        assert fh.read() == b"WARC/1.0 hello"


def test_open_missing_and_directory(tmp_path: Path):
    e = fault(lambda: open_source(str(tmp_path / "missing.warc.gz")))
    assert e.reason == "input_not_found" and "missing.warc.gz" in e.message
    assert fault(lambda: open_source(str(tmp_path))).reason == "input_not_found"


def test_open_unsupported_scheme():
    e = fault(lambda: open_source("ftp://example.com/x.warc.gz"))
    assert e.reason == "unsupported_scheme"
    assert str(e).startswith("unsupported_scheme: ")


def test_commoncrawl_s3_maps_to_https():
    key = "crawl-data/CC-MAIN-2024-22/segments/1/warc/x.warc.gz"
    assert commoncrawl_https(f"s3://commoncrawl/{key}") == f"https://data.commoncrawl.org/{key}"
    assert commoncrawl_https("s3://other-bucket/x") == "s3://other-bucket/x"
    assert commoncrawl_https("/local/x.warc.gz") == "/local/x.warc.gz"


def test_s3_without_boto3_is_a_fault(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # what `import boto3` meets when it is not installed
    e = fault(lambda: open_source("s3://some-bucket/some.warc.gz"))
    assert e.reason == "s3_error" and "boto3" in e.message


@pytest.mark.objectstore
def test_s3_inputs_read_through_the_given_settings(shared_data, s3_server, s3_settings, bucket):
    """A real WARC uploaded to the S3 server reads back the same records as the local file; a missing key and a
    user who may not read are the usual one-line faults."""
    from s3_server import settings_for

    from curation.config import IngestConfig
    from curation.storage import S3Settings, S3Store
    from curation.warc import read_file

    local = next(iter(sorted((shared_data / "warc").rglob("*.warc.gz"))))
    S3Store(s3_settings).upload(local, f"s3a://{bucket}/crawl/{local.name}")
    cfg = IngestConfig()

    def pages(uri, s3=None):
        return [(r["url"], r["payload_digest"]) for k, r in read_file(uri, cfg, "t", None, s3) if k == "page"]

    want = pages(str(local))
    assert want and pages(f"s3://{bucket}/crawl/{local.name}", s3_settings) == want
    assert pages(f"s3a://{bucket}/crawl/{local.name}", s3_settings) == want
    assert fault(lambda: open_source(f"s3://{bucket}/crawl/none.warc.gz", s3=s3_settings)).reason == "input_not_found"
    denied = S3Settings(s3_settings.endpoint, True, "AKIAWRONG", "x", None, "us-east-1")
    assert fault(lambda: open_source(f"s3://{bucket}/crawl/{local.name}", s3=denied)).reason == "s3_error"
    reader = settings_for(s3_server, "reader")
    assert open_source(f"s3://{bucket}/crawl/{local.name}", s3=reader).read(2) == b"\x1f\x8b"


# ------------------------------------------------------------------------------------------ sniff


def test_sniff_plain_and_gzipped_warc():
    kind, gzipped, s = sniff(io.BytesIO(WARC_HEAD * 3))
    assert (kind, gzipped) == ("warc", False)
    assert s.read() == WARC_HEAD * 3  # nothing lost to sniffing
    data = gzip.compress(WARC_HEAD) * 2
    kind, gzipped, s = sniff(io.BytesIO(data))
    assert (kind, gzipped) == ("warc", True)
    assert s.read() == data


def test_sniff_leading_blank_lines_are_tolerated():
    kind, _, _ = sniff(io.BytesIO(b"\r\n\r\n" + WARC_HEAD))
    assert kind == "warc"


def test_sniff_real_arc(shared_data: Path):
    raw = (shared_data / "warc/warcio/example.arc.gz").read_bytes()
    kind, gzipped, s = sniff(io.BytesIO(raw))
    assert (kind, gzipped) == ("arc", True)
    assert s.read() == raw


def test_sniff_slow_stream_reads_until_it_has_enough():
    data = WARC_HEAD * 4
    src = Trickle(data, step=5)
    kind, gzipped, s = sniff(src)
    assert (kind, gzipped) == ("warc", False)
    assert src.reads > 10  # it kept reading past the first 5 bytes
    out = bytearray()
    while chunk := s.read(1000):
        out += chunk
    assert bytes(out) == data
    assert s.count == len(data)


def test_sniff_faults():
    assert fault(lambda: sniff(io.BytesIO(b""))).reason == "empty_file"
    e = fault(lambda: sniff(io.BytesIO(b"<html>not a warc</html>")))
    assert e.reason == "not_a_warc" and "<html>" in e.message
    assert fault(lambda: sniff(io.BytesIO(gzip.compress(b"")))).reason == "not_a_warc"
    assert fault(lambda: sniff(io.BytesIO(gzip.compress(b"plain text")))).reason == "not_a_warc"
    bad = b"\x1f\x8b" + random.Random(1).randbytes(200)
    assert fault(lambda: sniff(io.BytesIO(bad))).reason == "corrupt_gzip"


def test_prefixed_readinto():
    _, _, s = sniff(io.BytesIO(WARC_HEAD + b"tail"))
    buf = bytearray(10)
    assert s.readinto(buf) == 10 and bytes(buf) == WARC_HEAD[:10]
    assert s.read() == WARC_HEAD[10:] + b"tail"


def test_prefixed_counts_and_only_answers_where_it_is():
    p = _Prefixed(b"abc", io.BytesIO(b"defgh"))
    assert p.read(2) == b"ab" and p.tell() == 2 and p.seek(0, io.SEEK_CUR) == 2 and p.seek(2) == 2
    assert p.read() == b"cdefgh" and p.count == 8
    with pytest.raises(io.UnsupportedOperation):
        p.seek(0)
