"""curation.warc.streams: opening sources, sniffing them, and decompressing with offsets and limits."""

from __future__ import annotations

import gzip
import io
import random
from pathlib import Path

import pytest

from curation.warc.streams import (
    CHUNK,
    StreamFault,
    WarcByteStream,
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


def stream_of(
    data: bytes,
    *,
    gzipped: bool,
    max_bytes: int = 1 << 40,
    max_ratio: float = 200.0,
    ratio_floor: int = 1 << 20,
    step: int | None = None,
) -> WarcByteStream:
    raw = io.BytesIO(data) if step is None else Trickle(data, step)
    return WarcByteStream(raw, gzipped=gzipped, max_bytes=max_bytes, max_ratio=max_ratio, ratio_floor=ratio_floor)


def read_all(s: WarcByteStream, n: int = 4096) -> bytes:
    out = bytearray()
    while chunk := s.read(n):
        out += chunk
    return bytes(out)


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


def test_s3_without_boto3_is_a_fault():
    try:
        import boto3  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("boto3 is installed: this checks the message given without it")
    e = fault(lambda: open_source("s3://some-bucket/some.warc.gz"))
    assert e.reason == "s3_error" and "boto3" in e.message


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


# ---------------------------------------------------------------------------------- WarcByteStream


def _members(n: int, size: int = 3000) -> list[bytes]:
    rng = random.Random(7)
    return [f"WARC/1.1 member {i}\r\n".encode() + rng.randbytes(size).hex().encode() for i in range(n)]


@pytest.mark.parametrize("step", [None, 3, 100_000], ids=["bytesio", "3-byte-reads", "big-reads"])
def test_gzip_members_map_to_stored_offsets(step):
    payloads = _members(4)
    compressed = [gzip.compress(p, mtime=0) for p in payloads]
    data = b"".join(compressed)
    s = stream_of(data, gzipped=True, step=step)
    assert read_all(s, 777) == b"".join(payloads)
    upos = spos = 0
    for p, c in zip(payloads, compressed, strict=True):
        assert s.stored_offset(upos) == spos
        assert s.stored_offset(upos + 1) is None  # not a member start
        upos += len(p)
        spos += len(c)
    assert s.stored_end == s.stored_read == len(data)
    assert s.pos == s.tell() == upos
    assert s.read(10) == b""  # stays at the end


def test_plain_stream_offsets_are_positions():
    data = b"".join(_members(3))
    s = stream_of(data, gzipped=False)
    assert read_all(s) == data
    assert s.stored_offset(12345) == 12345
    assert s.stored_end == len(data) and not s.seekable() and s.readable()


def test_read_honours_n_and_readinto_works():
    payload = b"".join(_members(2))
    s = stream_of(gzip.compress(payload), gzipped=True)
    assert s.read(5) == payload[:5]
    buffered = io.BufferedReader(s, buffer_size=1000)
    assert buffered.read() == payload[5:]


def test_read_minus_one_returns_what_is_buffered():
    payload = b"x" * (3 * CHUNK)
    s = stream_of(gzip.compress(payload), gzipped=True)
    first = s.read(-1)
    assert 0 < len(first) <= CHUNK
    assert first + read_all(s) == payload


def test_truncated_gzip():
    payloads = _members(3)
    data = b"".join(gzip.compress(p) for p in payloads)
    last_start = len(data) - len(gzip.compress(payloads[2]))
    s = stream_of(data[:-50], gzipped=True)
    e = fault(lambda: read_all(s))
    assert e.reason == "truncated_gzip"
    assert e.offset == last_start
    assert s.stored_end == last_start  # end of the last complete member


def test_trailing_garbage_versus_corrupt_member():
    good = b"".join(gzip.compress(p) for p in _members(2))
    e = fault(lambda: read_all(stream_of(good + b"\x00" * 64, gzipped=True)))
    assert (e.reason, e.offset) == ("trailing_garbage", len(good))
    broken = bytearray(gzip.compress(_members(1)[0]))
    broken[15:40] = b"\xff" * 25
    e = fault(lambda: read_all(stream_of(good + bytes(broken), gzipped=True)))
    assert (e.reason, e.offset) == ("corrupt_gzip", len(good))


def test_corrupt_first_member():
    broken = bytearray(gzip.compress(_members(1)[0]))
    broken[15:40] = b"\xff" * 25
    e = fault(lambda: read_all(stream_of(bytes(broken), gzipped=True)))
    assert (e.reason, e.offset) == ("corrupt_gzip", 0)


def test_decompression_limit():
    payload = b"".join(_members(5))
    for gzipped, data in [(True, gzip.compress(payload)), (False, payload)]:
        s = stream_of(data, gzipped=gzipped, max_bytes=10_000)
        e = fault(lambda s=s: read_all(s))
        assert e.reason == "decompression_limit"
        assert s.pos <= 10_000 + CHUNK


def test_ratio_guard_needs_both_floor_and_ratio():
    zeros = gzip.compress(bytes(5 << 20))  # ratio ~1000
    e = fault(lambda: read_all(stream_of(zeros, gzipped=True, max_ratio=50, ratio_floor=1 << 20)))
    assert (e.reason, e.offset) == ("decompression_bomb", 0)
    # below the floor the ratio is not checked; with a high enough ratio allowance nothing trips
    assert len(read_all(stream_of(zeros, gzipped=True, max_ratio=50, ratio_floor=6 << 20))) == 5 << 20
    assert len(read_all(stream_of(zeros, gzipped=True, max_ratio=5000, ratio_floor=1 << 20))) == 5 << 20


def test_ratio_is_per_member():
    # many members that each expand 100x: the file expands 100x, but no single member passes the floor
    member = gzip.compress(bytes(200_000))
    s = stream_of(member * 30, gzipped=True, max_ratio=50, ratio_floor=1 << 20)
    assert len(read_all(s)) == 30 * 200_000
