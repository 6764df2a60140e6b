"""WARC records as Common Crawl writes them, and the non-HTML payloads, for the scale corpus (:mod:`bench.corpus`).

Every record is its own gzip member (``zlib`` with a gzip header: mtime 0, so the same record gives the same bytes).
A capture is three records, in CC's order and with CC's headers: ``request`` (a CCBot ``GET``), ``response``
(``WARC-Concurrent-To`` the request, ``WARC-Payload-Digest``/``WARC-Block-Digest`` as base32 SHA-1,
``WARC-Identified-Payload-Type``) and ``metadata`` (``fetchTimeMs``, ``charset-detected``; ``WARC-Concurrent-To``
the response); each file starts with a ``warcinfo``. Payloads that are not HTML are synthesized plainly: a one-page
PDF whose text is words of a page, a PNG of noise and gradients, a plain-text notes file, an RSS feed.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

CRAWL_START = datetime(2024, 5, 18, 0, 0, 0, tzinfo=UTC)
SECONDS_PER_CAPTURE = 2
"""Capture ``c`` is dated CRAWL_START + c × 2 s: increasing through the corpus, as a fetcher's log is."""
USER_AGENT = "CCBot/2.0 (https://commoncrawl.org/faq/)"


def record_id(seed: int, capture: int, role: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'lakeforge-corpus/{seed}/{capture}/{role}')}>"


def warc_date(capture: int) -> str:
    return (CRAWL_START + timedelta(seconds=capture * SECONDS_PER_CAPTURE)).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(capture: int) -> str:
    return (CRAWL_START + timedelta(seconds=capture * SECONDS_PER_CAPTURE)).strftime("%a, %d %b %Y %H:%M:%S GMT")


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def ip_address(host: str) -> str:
    h = hashlib.sha1(host.encode()).digest()
    return f"{h[0] % 223 + 1}.{h[1]}.{h[2]}.{h[3] % 254 + 1}"


def gzip_member(data: bytes, level: int = 6) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    """One uncompressed WARC/1.0 record: the headers (Content-Length put in after WARC-Record-ID), the block."""
    lines = ["WARC/1.0"]
    for name, value in headers:
        lines.append(f"{name}: {value}")
        if name == "WARC-Record-ID":
            lines.append(f"Content-Length: {len(block)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + block + b"\r\n\r\n"


def warcinfo(seed: int, index: int, filename: str) -> bytes:
    fields = (
        "isPartOf: LAKEFORGE-CORPUS\r\n"
        "publisher: lakeforge bench.corpus (synthetic, from ../shared/data)\r\n"
        f"description: scale corpus file {index}, seed {seed}\r\n"
        "software: lakeforge bench.corpus\r\n"
        "format: WARC File Format 1.0\r\n"
    ).encode()
    return record(
        [
            ("WARC-Type", "warcinfo"),
            ("WARC-Date", warc_date(0)),
            ("WARC-Record-ID", record_id(seed, -1 - index, "warcinfo")),
            ("Content-Type", "application/warc-fields"),
            ("WARC-Filename", filename),
            ("WARC-Block-Digest", sha1_b32(fields)),
        ],
        fields,
    )


def capture_records(
    seed: int,
    capture: int,
    info_id: str,
    url: str,
    content_type: str,
    identified: str,
    payload: bytes,
    rng: random.Random,
) -> list[bytes]:
    """The request, response and metadata records of one capture (uncompressed)."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    date = warc_date(capture)
    ip = ip_address(parts.hostname or "")
    req_id, resp_id = record_id(seed, capture, "request"), record_id(seed, capture, "response")
    request = (
        f"GET {path} HTTP/1.1\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: br,gzip\r\n"
        f"Host: {parts.netloc}\r\nConnection: Keep-Alive\r\n\r\n"
    ).encode("utf-8", errors="replace")
    http = (
        f"HTTP/1.1 200 OK\r\nDate: {http_date(capture)}\r\nServer: Apache\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode("latin-1", errors="replace")
    response = http + payload
    charset = content_type.lower().partition("charset=")[2].strip(" \"';") or "UTF-8"
    meta = f"fetchTimeMs: {rng.randint(40, 2500)}\r\ncharset-detected: {charset.upper()}\r\n".encode()
    return [
        record(
            [
                ("WARC-Type", "request"),
                ("WARC-Date", date),
                ("WARC-Record-ID", req_id),
                ("Content-Type", "application/http; msgtype=request"),
                ("WARC-Warcinfo-ID", info_id),
                ("WARC-IP-Address", ip),
                ("WARC-Target-URI", url),
                ("WARC-Block-Digest", sha1_b32(request)),
            ],
            request,
        ),
        record(
            [
                ("WARC-Type", "response"),
                ("WARC-Date", date),
                ("WARC-Record-ID", resp_id),
                ("Content-Type", "application/http; msgtype=response"),
                ("WARC-Warcinfo-ID", info_id),
                ("WARC-Concurrent-To", req_id),
                ("WARC-IP-Address", ip),
                ("WARC-Target-URI", url),
                ("WARC-Payload-Digest", sha1_b32(payload)),
                ("WARC-Block-Digest", sha1_b32(response)),
                ("WARC-Identified-Payload-Type", identified),
            ],
            response,
        ),
        record(
            [
                ("WARC-Type", "metadata"),
                ("WARC-Date", date),
                ("WARC-Record-ID", record_id(seed, capture, "metadata")),
                ("Content-Type", "application/warc-fields"),
                ("WARC-Warcinfo-ID", info_id),
                ("WARC-Concurrent-To", resp_id),
                ("WARC-Target-URI", url),
                ("WARC-Block-Digest", sha1_b32(meta)),
            ],
            meta,
        ),
    ]


# ------------------------------------------------------------------------------------------- non-HTML payloads


def _ascii_words(words: list[str], n: int, rng: random.Random) -> list[str]:
    pool = [w for w in words if w.isascii() and w.isprintable()] or ["lorem", "ipsum", "dolor", "sit", "amet"]
    return [rng.choice(pool) for _ in range(n)]


def pdf(words: list[str], rng: random.Random) -> bytes:
    """A valid one-page PDF 1.4: Helvetica text lines of words drawn from ``words`` (a Flate content stream)."""
    lines = [" ".join(_ascii_words(words, 12, rng)) for _ in range(rng.randint(40, 400))]
    ops = ["BT /F1 10 Tf 12 TL 50 800 Td"]
    for line in lines:
        esc = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({esc}) '")
    ops.append("ET")
    stream = zlib.compress("\n".join(ops).encode("latin-1", errors="replace"))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def png(rng: random.Random) -> bytes:
    """A valid 8-bit RGB PNG, 32–320 px a side: gradients with noise (compresses like a small photo would not,
    which is the point: it is bytes a reader must skip)."""
    w, h = rng.randint(32, 320), rng.randint(32, 320)
    noise = rng.randbytes(w * h * 3)
    rows = []
    for y in range(h):
        row = bytearray(noise[y * w * 3 : (y + 1) * w * 3])
        for x in range(0, w * 3, 3):
            row[x] = (row[x] & 0x1F) + (x * 255 // (w * 3)) & 0xFF
            row[x + 1] = (row[x + 1] & 0x1F) + (y * 200 // h) & 0xFF
        rows.append(b"\x00" + bytes(row))
    raw = zlib.compress(b"".join(rows), 6)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


def plain_text(words: list[str], rng: random.Random) -> bytes:
    """A plain-text file (notes, a licence, a robots-like rule list): lines of words and a few ``Disallow`` rules."""
    lines = [f"Disallow: /{w.lower()}/" for w in _ascii_words(words, rng.randint(2, 12), rng)]
    lines += [" ".join(_ascii_words(words, rng.randint(5, 15), rng)) for _ in range(rng.randint(5, 60))]
    return ("User-agent: *\n" + "\n".join(lines) + "\n").encode()


def rss(words: list[str], host: str, rng: random.Random) -> bytes:
    """An RSS 2.0 feed of 5–20 items titled with words drawn from ``words``."""
    items = []
    for i in range(rng.randint(5, 20)):
        title = " ".join(_ascii_words(words, rng.randint(4, 10), rng)).replace("&", "&amp;").replace("<", "&lt;")
        items.append(f"<item><title>{title}</title><link>https://{host}/post/{i}</link></item>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{host}</title><link>https://{host}/</link>{''.join(items)}</channel></rss>\n"
    ).encode()
