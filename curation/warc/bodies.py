"""Decoding an HTTP body as archived: chunked transfer coding, then gzip/deflate/br content coding.

Archives disagree on whether bodies are stored decoded (Common Crawl decodes and renames the header
to ``X-Crawler-Content-Encoding``; ClueWeb decodes but keeps ``Content-Encoding: gzip``). So every
step falls back to the bytes it was given when they do not decode: a lying header never loses a page.
Output is bounded by ``cap`` so a compressed body cannot expand without limit.
"""

from __future__ import annotations

import zlib


def dechunk(data: bytes) -> bytes | None:
    """Undo ``Transfer-Encoding: chunked``; None when ``data`` is not validly chunked."""
    out = bytearray()
    pos = 0
    n = len(data)
    while pos < n:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_field = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return None
        if size == 0:
            return bytes(out)
        start = eol + 2
        if start + size > n:  # last chunk cut short (capped or truncated record): keep what is there
            out += data[start:]
            return bytes(out)
        out += data[start : start + size]
        pos = start + size + 2
    return bytes(out)


def _inflate(data: bytes, wbits: int, cap: int) -> tuple[bytes, bool]:
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, cap + 1)
    return out[:cap], len(out) > cap or bool(d.unconsumed_tail)


def decode_body(raw: bytes, transfer_encoding: str | None, content_encoding: str | None, cap: int):
    """Return (body, truncated): the decoded body cut to ``cap`` bytes, and whether it was cut."""
    body = raw
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        dechunked = dechunk(raw)
        body = raw if dechunked is None else dechunked  # not `or`: an empty chunked body is b""
    enc = (content_encoding or "").strip().lower()
    try:
        if enc in ("gzip", "x-gzip"):
            return _inflate(body, 47, cap)  # 32 + 15: gzip or zlib header, auto-detected
        if enc == "deflate":
            try:
                return _inflate(body, 15, cap)
            except zlib.error:
                return _inflate(body, -15, cap)  # raw deflate, as some servers send it
        if enc == "br":
            import brotli  # optional: comes with trafilatura's dependencies

            out = brotli.decompress(body)
            return out[:cap], len(out) > cap
    except Exception:  # noqa: BLE001 - not actually encoded as declared: keep the bytes as stored
        pass
    return body[:cap], len(body) > cap
