"""Building WARC test inputs: records, gzip members, broken files, a loopback HTTP server.

Shared by every test folder: ``import warcgen`` works from any test module (tests/curation/..., tests/jobs, ...)
because ``tests/conftest.py`` has no package around it, so pytest's default "prepend" import mode puts
``tests/`` on ``sys.path`` before any test module is imported. This module uses the standard library
only; it never imports ``curation``, so Spark tests can import it without pulling the reader in.

Record ids: ``warc_record(n)`` gives ``<urn:uuid:00000000-0000-4000-8000-{n:012d}>``, ``small_warc_gz`` uses
the ``22222222-`` prefix, and the well-formed records inside :func:`bad_inputs` use ``bad00000-``, so files
built from different helpers never share a ``doc_id``.
"""

from __future__ import annotations

import gzip
import http.server
import os
import random
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

__all__ = [
    "BAD_INPUT_LIMITS",
    "EXPECTED_BAD",
    "EXPECTED_BAD_STATUS",
    "bad_inputs",
    "chunked",
    "closed_port_url",
    "gz",
    "http_response",
    "incompressible_html",
    "member",
    "no_proxy_env",
    "paths_gz",
    "serve",
    "small_warc_gz",
    "warc_record",
    "warcinfo",
    "write_gzip_bomb",
]

# ------------------------------------------------------------------------------------------ records


def http_response(
    body: bytes, content_type: str | None = "text/html", status: str = "200 OK", extra: tuple[str, ...] = ()
) -> bytes:
    """An HTTP/1.1 response (status line, headers, Content-Length, body) as a WARC response block."""
    lines = [f"HTTP/1.1 {status}"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    lines += list(extra)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def warc_record(
    n: int,
    body: bytes | None = None,
    *,
    block: bytes | None = None,
    rtype: str = "response",
    url: str | None = None,
    block_type: str = "application/http;msgtype=response",
    record_id: str | None = "auto",
    extra: tuple[str, ...] = (),
    content_length: int | None = None,
    date: str | None = None,
) -> bytes:
    """One WARC/1.1 record. ``block`` overrides the HTTP response built from ``body``.

    Defaults: body ``<!doctype html>...page {n}...``, URL ``http://example.com/page/{n}``, record id
    ``<urn:uuid:00000000-0000-4000-8000-{n:012d}>`` (``record_id=None`` leaves the header out), date
    ``2024-05-{1 + n % 28}T12:00:00Z``. ``content_length`` overrides the declared block length.
    """
    if block is None:
        body = body if body is not None else f"<!doctype html><html><body>page {n}</body></html>".encode()
        block = http_response(body)
    lines = ["WARC/1.1", f"WARC-Type: {rtype}"]
    if record_id == "auto":
        record_id = f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>"
    if record_id is not None:
        lines.append(f"WARC-Record-ID: {record_id}")
    lines += [
        f"WARC-Target-URI: {url or f'http://example.com/page/{n}'}",
        f"WARC-Date: {date or f'2024-05-{1 + n % 28:02d}T12:00:00Z'}",
        f"Content-Type: {block_type}",
        *extra,
        f"Content-Length: {len(block) if content_length is None else content_length}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def warcinfo(part_of: str) -> bytes:
    """A warcinfo record whose ``isPartOf`` field names the crawl (e.g. ``CC-MAIN-2024-10``)."""
    block = f"software: lakeforge-tests\r\nisPartOf: {part_of}\r\n".encode()
    lines = [
        "WARC/1.1",
        "WARC-Type: warcinfo",
        "WARC-Record-ID: <urn:uuid:11111111-0000-4000-8000-000000000000>",
        "WARC-Date: 2024-05-01T00:00:00Z",
        "Content-Type: application/warc-fields",
        f"Content-Length: {len(block)}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def gz(*records: bytes) -> bytes:
    """One gzip member per record, as Common Crawl writes them."""
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def incompressible_html(size: int, seed: int = 0) -> bytes:
    """HTML of about ``size`` bytes that compresses only ~2× (hex of random bytes), like real pages."""
    filler = random.Random(seed).randbytes(size // 2).hex().encode()
    return b"<!doctype html><html><body>" + filler + b"</body></html>"


def member(data: bytes, offset: int, length: int) -> bytes:
    """Decompress exactly one gzip member at data[offset:offset+length]; fail if it is not exactly one."""
    d = zlib.decompressobj(31)
    out = d.decompress(data[offset : offset + length])
    assert d.eof, f"bytes {offset}+{length} do not hold a complete gzip member"
    assert d.unused_data == b"", f"bytes {offset}+{length} run past the end of one gzip member"
    return out


def chunked(data: bytes, size: int = 100, ext: bool = False) -> bytes:
    """``data`` in HTTP chunked transfer coding, ``size`` bytes a chunk (``ext`` adds chunk extensions)."""
    out = bytearray()
    for i in range(0, len(data), size):
        part = data[i : i + size]
        out += f"{len(part):X}{';name=value' if ext else ''}\r\n".encode() + part + b"\r\n"
    return bytes(out) + b"0\r\n\r\n"


def small_warc_gz(n: int = 4) -> bytes:
    """A valid .warc.gz of ``n`` HTML responses (``http://example.net/{i}``, ids ``22222222-…``)."""
    return gz(
        *(
            warc_record(
                i,
                f"<!doctype html><html><body>served page {i}</body></html>".encode(),
                url=f"http://example.net/{i}",
                record_id=f"<urn:uuid:22222222-0000-4000-8000-{i:012d}>",
                date=f"2024-05-{1 + i % 9:02d}T00:00:00Z",
            )
            for i in range(n)
        )
    )


def paths_gz(path: Path, entries: list[str]) -> Path:
    """Write ``entries`` one a line as a gzipped ``warc.paths`` list at ``path``; returns ``path``."""
    path = Path(path)
    path.write_bytes(gzip.compress("".join(f"{e}\n" for e in entries).encode(), mtime=0))
    return path


def write_gzip_bomb(
    path: Path,
    good: bytes | None = None,
    *,
    zeros_mib: int = 300,
    declared_length: int = 3_000_000_000,
    record_id: str = "<urn:uuid:b0b0b0b0-0000-4000-8000-000000000000>",
    url: str = "http://bomb.example/",
) -> int:
    """Write a gzip bomb to ``path``; returns the stored offset of the bomb member.

    First one gzip member holding ``good`` (default ``warc_record(0)``), then one member whose WARC
    header declares ``declared_length`` bytes and whose body is ``zeros_mib`` MiB of zeros: a valid gzip
    member (CRC and size right) of about 4.5 KiB per MiB, written in ~0.2 s per 300 MiB with ~2 MiB of memory.
    """
    good = warc_record(0) if good is None else good
    header = (
        f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Record-ID: {record_id}\r\n"
        f"WARC-Target-URI: {url}\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n"
        f"Content-Type: application/http;msgtype=response\r\nContent-Length: {declared_length}\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    ).encode()
    # Raw deflate pieces that each end in a full flush (byte-aligned, no back-references across them)
    # can be concatenated; so 1 MiB of zeros is compressed once and its bytes written ``zeros_mib`` times.
    head = zlib.compressobj(1, zlib.DEFLATED, -15)
    head_bytes = head.compress(header) + head.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(1 << 20)
    block = zlib.compressobj(1, zlib.DEFLATED, -15)
    zeros_bytes = block.compress(zeros) + block.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(header)
    for _ in range(zeros_mib):
        crc = zlib.crc32(zeros, crc)
    size = len(header) + zeros_mib * len(zeros)
    with open(path, "wb") as fh:
        fh.write(gz(good))
        bomb_at = fh.tell()
        fh.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")  # gzip header: deflate, no flags, mtime 0
        fh.write(head_bytes)
        for _ in range(zeros_mib):
            fh.write(zeros_bytes)
        fh.write(zlib.compressobj(1, zlib.DEFLATED, -15).flush(zlib.Z_FINISH))  # an empty final block
        fh.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return bomb_at


# --------------------------------------------------------------------------------------- bad inputs

#: IngestConfig keyword arguments under which the files of :func:`bad_inputs` give ``EXPECTED_BAD``.
BAD_INPUT_LIMITS = dict(max_record_bytes=2 * 2**20, max_payload_bytes=2**20, max_compression_ratio=50)

#: name → (pages written, reasons the file's error rows may carry), under ``IngestConfig(**BAD_INPUT_LIMITS)``.
#: Every file gives exactly one error row; file statuses are in ``EXPECTED_BAD_STATUS`` (oversize_record is
#: "complete": its error is record-level and the records after it are read). Pages come from well-formed
#: records with unique ids (``<urn:uuid:bad00000-…>``) and URLs ``http://bad-inputs.example/<name>/<i>``.
EXPECTED_BAD: dict[str, tuple[int, set[str]]] = {
    "empty": (0, {"empty_file"}),
    "garbage": (0, {"not_a_warc", "corrupt_gzip"}),
    "not_a_warc": (0, {"not_a_warc"}),
    "gzip_bomb": (1, {"decompression_bomb"}),
    "oversize_record": (2, {"record_too_large"}),
    "truncated_plain": (2, {"truncated_record"}),
    "missing": (0, {"input_not_found"}),
}


#: name → the file row's status under ``IngestConfig(**BAD_INPUT_LIMITS)``.
EXPECTED_BAD_STATUS: dict[str, str] = {
    "empty": "failed",
    "garbage": "failed",
    "not_a_warc": "failed",
    "gzip_bomb": "partial",
    "oversize_record": "complete",
    "truncated_plain": "partial",
    "missing": "failed",
}


def _bad_record(name: str, i: int, n: int, body: bytes | None = None) -> bytes:
    return warc_record(
        n,
        body if body is not None else f"<!doctype html><html><body>{name} page {i}</body></html>".encode(),
        url=f"http://bad-inputs.example/{name}/{i}",
        record_id=f"<urn:uuid:bad00000-0000-4000-8000-{n:012d}>",
    )


def bad_inputs(directory: Path) -> dict[str, Path]:
    """Write one faulty file per ``EXPECTED_BAD`` name into ``directory`` (created if needed).

    empty           empty.warc.gz: 0 bytes
    garbage         garbage.warc.gz: ``random.Random(0).randbytes(5000)``
    not_a_warc      not-a-warc.warc: a small HTML page
    gzip_bomb       gzip-bomb.warc.gz: one good HTML response, then a member declaring 3,000,000,000 bytes
                    holding ~300 MiB of zeros (~1 MiB on disk)
    oversize_record oversize-record.warc.gz: good response, a response with a ~3 MB random-hex HTML body,
                    good response
    truncated_plain truncated.warc: uncompressed, 3 HTML responses, cut in the middle of the last one
    missing         nothing-here.warc.gz: a path in ``directory`` that does not exist

    Takes well under 2 s; returns name → path.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    out["empty"] = d / "empty.warc.gz"
    out["empty"].write_bytes(b"")

    out["garbage"] = d / "garbage.warc.gz"
    out["garbage"].write_bytes(random.Random(0).randbytes(5000))

    out["not_a_warc"] = d / "not-a-warc.warc"
    out["not_a_warc"].write_text(
        "<!doctype html>\n<html><head><title>Not a WARC</title></head>\n"
        "<body><p>This is a web page saved under a .warc name.</p></body></html>\n"
    )

    out["gzip_bomb"] = d / "gzip-bomb.warc.gz"
    write_gzip_bomb(
        out["gzip_bomb"],
        _bad_record("gzip_bomb", 0, 100),
        record_id="<urn:uuid:bad00000-0000-4000-8000-000000000101>",
        url="http://bad-inputs.example/gzip_bomb/bomb",
    )

    out["oversize_record"] = d / "oversize-record.warc.gz"
    big = _bad_record("oversize_record", 1, 201, incompressible_html(3_000_000))
    out["oversize_record"].write_bytes(
        gz(_bad_record("oversize_record", 0, 200), big, _bad_record("oversize_record", 2, 202))
    )

    out["truncated_plain"] = d / "truncated.warc"
    records = [_bad_record("truncated_plain", i, 300 + i, incompressible_html(400, seed=i)) for i in range(3)]
    cut = len(records[0]) + len(records[1]) + len(records[2]) // 2
    out["truncated_plain"].write_bytes(b"".join(records)[:cut])

    out["missing"] = d / "nothing-here.warc.gz"
    if out["missing"].exists():
        raise FileExistsError(f"{out['missing']} exists; bad_inputs needs it absent")

    assert set(out) == set(EXPECTED_BAD)
    return out


# ------------------------------------------------------------------------------------ loopback HTTP


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) from a daemon thread.

    Yields the base URL ``http://127.0.0.1:PORT/`` (trailing slash: append file names); shuts the server
    down on exit. No Range support (SimpleHTTPRequestHandler). urllib honours ``*_proxy`` variables, so a
    reader in another process needs ``no_proxy_env()`` in its environment if a proxy is configured.
    """
    handler = partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port_url(path: str = "x.warc.gz") -> str:
    """``http://127.0.0.1:PORT/<path>`` on a port that was just free and that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{path}"


def no_proxy_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``no_proxy`` / ``NO_PROXY`` values that keep the current ones and add 127.0.0.1 and localhost."""
    env = os.environ if environ is None else environ
    return {
        name: ",".join(filter(None, [env.get(name), "127.0.0.1", "localhost"])) for name in ("no_proxy", "NO_PROXY")
    }
