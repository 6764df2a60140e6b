"""curation.warc.bodies: undoing chunked transfer coding and gzip/deflate/br content coding, capped."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest
from warcgen import chunked

from curation.warc.bodies import dechunk, decode_body

HTML = b"<!doctype html><html><body>" + b"Hello, archive! " * 100 + b"</body></html>"


# ---------------------------------------------------------------------------------------- dechunk


def test_dechunk_valid():
    assert dechunk(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n") == b"Wikipedia"
    assert dechunk(chunked(HTML)) == HTML
    assert dechunk(chunked(HTML, size=0xAB)) == HTML  # upper-case hex sizes
    assert dechunk(chunked(HTML, ext=True)) == HTML  # chunk extensions ignored
    assert dechunk(b"0\r\n\r\n") == b""


def test_dechunk_trailer_after_last_chunk_is_ignored():
    assert dechunk(b"3\r\nabc\r\n0\r\nX-Trailer: yes\r\n\r\n") == b"abc"


def test_dechunk_invalid():
    assert dechunk(b"zz\r\nabc\r\n0\r\n\r\n") is None  # size is not hex
    assert dechunk(HTML) is None  # not chunked at all
    assert dechunk(b"3abc") is None  # no line end


def test_dechunk_keeps_a_last_chunk_cut_short():
    full = chunked(HTML, size=500)
    assert dechunk(full[:300]) == HTML[: 300 - len(b"1F4\r\n")]


# ------------------------------------------------------------------------------------- decode_body


def test_plain_body_is_returned_as_is():
    assert decode_body(HTML, None, None, 1 << 20) == (HTML, False)
    assert decode_body(HTML, "identity", "identity", 1 << 20) == (HTML, False)


def test_chunked_body():
    assert decode_body(chunked(HTML), "chunked", None, 1 << 20) == (HTML, False)
    assert decode_body(chunked(HTML), " Chunked ", None, 1 << 20) == (HTML, False)


def test_empty_chunked_body_decodes_to_nothing():
    assert decode_body(b"0\r\n\r\n", "chunked", None, 1 << 20) == (b"", False)


def test_invalid_chunked_body_is_kept_as_stored():
    assert decode_body(HTML, "chunked", None, 1 << 20) == (HTML, False)


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "GZIP", " gzip "])
def test_gzip_content_encoding(encoding):
    assert decode_body(gzip.compress(HTML), None, encoding, 1 << 20) == (HTML, False)


def test_gzip_declared_with_zlib_wrapper_is_decoded():
    assert decode_body(zlib.compress(HTML), None, "gzip", 1 << 20) == (HTML, False)


def test_chunked_then_gzip():
    assert decode_body(chunked(gzip.compress(HTML), size=64), "chunked", "gzip", 1 << 20) == (HTML, False)


def test_declared_gzip_but_plain_bytes_is_unchanged():
    # ClueWeb decodes bodies but keeps "Content-Encoding: gzip"
    assert decode_body(HTML, None, "gzip", 1 << 20) == (HTML, False)
    assert decode_body(HTML, None, "deflate", 1 << 20) == (HTML, False)
    assert decode_body(HTML, None, "br", 1 << 20) == (HTML, False)


def test_deflate_zlib_and_raw():
    assert decode_body(zlib.compress(HTML), None, "deflate", 1 << 20) == (HTML, False)
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw_deflate = raw.compress(HTML) + raw.flush()
    assert decode_body(raw_deflate, None, "deflate", 1 << 20) == (HTML, False)


def test_brotli():
    brotli = pytest.importorskip("brotli")
    assert decode_body(brotli.compress(HTML), None, "br", 1 << 20) == (HTML, False)
    body, truncated = decode_body(brotli.compress(HTML), None, "br", 100)
    assert (body, truncated) == (HTML[:100], True)


def test_cap_on_plain_and_chunked():
    assert decode_body(HTML, None, None, 100) == (HTML[:100], True)
    assert decode_body(HTML, None, None, len(HTML)) == (HTML, False)  # exactly the cap is not cut
    assert decode_body(chunked(HTML), "chunked", None, 50) == (HTML[:50], True)


def test_cap_bounds_a_compressed_bomb():
    bomb = gzip.compress(bytes(50 << 20))  # 50 MiB of zeros in ~50 KiB
    body, truncated = decode_body(bomb, None, "gzip", 1000)
    assert body == bytes(1000) and truncated is True


def test_cap_on_gzip_exact_and_over():
    data = random.Random(3).randbytes(5000)
    packed = gzip.compress(data)
    assert decode_body(packed, None, "gzip", 5000) == (data, False)
    assert decode_body(packed, None, "gzip", 4999) == (data[:4999], True)
