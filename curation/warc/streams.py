"""Opening WARC inputs as byte streams, and decompressing them with hard limits.

Everything here is forward-only, so an http(s) or s3 body streams exactly like a local file: a WARC
is never held in memory. Faults are raised as :class:`StreamFault` with a machine-readable ``reason``;
the record reader turns them into quarantine rows.

Why decompress in Python instead of letting fastwarc do it: we need (1) the compressed offset and
length of every gzip member, so a row can point at the exact bytes to re-read (what Common Crawl's
index calls offset/length), (2) hard limits that stop a gzip bomb after a bounded amount of work,
and (3) an error when the stream ends inside a member (fastwarc ends silently). zlib does the work
either way; the Python layer only moves 64 KiB chunks.
"""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

CHUNK = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"


class StreamFault(Exception):
    """A file or stream that cannot be read (further). ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str, offset: int | None = None):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.offset = offset


# ---------------------------------------------------------------------------------------------- sources


def commoncrawl_https(uri: str) -> str:
    """``s3://commoncrawl/KEY`` → ``https://data.commoncrawl.org/KEY`` (same bytes, no credentials)."""
    prefix = "s3://commoncrawl/"
    return "https://data.commoncrawl.org/" + uri[len(prefix) :] if uri.startswith(prefix) else uri


def open_source(uri: str, *, timeout_s: float = 60.0, retries: int = 3) -> io.RawIOBase:
    """Open a local path, ``http(s)://`` URL or ``s3://`` URI for streaming reads.

    Raises StreamFault: ``input_not_found``, ``permission_denied``, ``http_<status>``, ``unreachable``,
    ``s3_error`` or ``unsupported_scheme``.
    """
    uri = commoncrawl_https(uri)
    if uri.startswith(("http://", "https://")):
        return _open_http(uri, timeout_s, retries)
    if uri.startswith("s3://"):
        return _open_s3(uri)
    if "://" in uri and not uri.startswith("file://"):
        raise StreamFault("unsupported_scheme", f"cannot open {uri}: only local paths, http(s):// and s3://")
    path = Path(uri.removeprefix("file://"))
    try:
        return open(path, "rb", buffering=0)  # noqa: SIM115 - caller closes
    except FileNotFoundError:
        raise StreamFault("input_not_found", f"no such file: {path}") from None
    except IsADirectoryError:
        raise StreamFault("input_not_found", f"is a directory, not a file: {path}") from None
    except PermissionError:
        raise StreamFault("permission_denied", f"not readable: {path}") from None


def _open_http(url: str, timeout_s: float, retries: int) -> io.RawIOBase:
    last: Exception | None = None
    for attempt in range(max(1, retries)):
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "lakeforge/0.1 (+ingest)"})
            return urllib.request.urlopen(req, timeout=timeout_s)  # noqa: S310 - URLs are the user's inputs
        except urllib.error.HTTPError as e:
            if e.code < 500:
                raise StreamFault(f"http_{e.code}", f"{url}: HTTP {e.code} {e.reason}") from None
            last = e
        except (urllib.error.URLError, OSError) as e:
            last = e
        time.sleep(min(8.0, 0.5 * 2**attempt))
    if isinstance(last, urllib.error.HTTPError):
        raise StreamFault(f"http_{last.code}", f"{url}: HTTP {last.code} after {retries} attempts")
    raise StreamFault("unreachable", f"{url}: {getattr(last, 'reason', last)} (after {retries} attempts)")


def _open_s3(uri: str) -> io.RawIOBase:
    try:
        import boto3
    except ImportError:
        raise StreamFault("s3_error", f"{uri}: reading s3:// needs boto3 (pip install 'lakeforge[s3]')") from None
    bucket, _, key = uri[len("s3://") :].partition("/")
    try:
        return boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    except Exception as e:  # botocore raises many types; all mean the same to us
        raise StreamFault("s3_error", f"{uri}: {e}") from None


# ------------------------------------------------------------------------------------------- readers


class _Prefixed(io.RawIOBase):
    """``prefix`` bytes, then the rest of ``raw``: lets us sniff a stream that cannot seek back."""

    def __init__(self, prefix: bytes, raw):
        self._prefix = prefix
        self._raw = raw
        self.count = 0  # bytes handed out

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            out = self._prefix if n < 0 else self._prefix[:n]
            self._prefix = self._prefix[len(out) :]
        else:
            out = self._raw.read() if n < 0 else self._raw.read(n)
        self.count += len(out)
        return out

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class WarcByteStream(io.RawIOBase):
    """Decompressed bytes of a (possibly gzip-member-per-record) file, forward only, with limits.

    ``stored_offset(pos)`` maps an uncompressed position that starts a gzip member to the member's
    offset in the stored file; ``stored_end`` is the stored offset just past the last complete member.
    """

    def __init__(self, raw, *, gzipped: bool, max_bytes: int, max_ratio: float, ratio_floor: int):
        self._raw = raw
        self.gzipped = gzipped
        self._max_bytes = max_bytes
        self._max_ratio = max_ratio
        self._ratio_floor = ratio_floor
        self._buf = b""
        self._pending = b""  # compressed input not yet fed to zlib
        self._z = zlib.decompressobj(31) if gzipped else None
        self.stored_read = 0  # bytes taken from the stored file
        self.pos = 0  # uncompressed bytes handed out
        self._produced = 0  # uncompressed bytes produced (handed out + buffered)
        self._member_in = 0  # stored bytes of the current member fed so far
        self._member_out = 0
        self._member_start_stored = 0
        self._member_starts: dict[int, int] = {0: 0}  # uncompressed start → stored start
        self.stored_end = 0

    # io plumbing
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.pos

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 62
        while not self._buf:
            if not self._fill():
                return b""
        out = self._buf[:n]
        self._buf = self._buf[len(out) :]
        self.pos += len(out)
        return out

    def stored_offset(self, pos: int) -> int | None:
        if not self.gzipped:
            return pos
        return self._member_starts.get(pos)

    def _take_raw(self) -> bytes:
        chunk = self._raw.read(CHUNK)
        self.stored_read += len(chunk)
        return chunk

    def _fill(self) -> bool:
        """Put more uncompressed bytes in the buffer; False at a clean end of stream."""
        if not self.gzipped:
            chunk = self._take_raw()
            if not chunk:
                self.stored_end = self.stored_read
                return False
            self._account(len(chunk))
            self._buf = chunk
            return True
        if not self._pending:
            self._pending = self._take_raw()
            if not self._pending:
                if self._member_in:
                    raise StreamFault(
                        "truncated_gzip",
                        f"stream ended inside the gzip member starting at byte {self._member_start_stored}",
                        self._member_start_stored,
                    )
                return False
        fed = self._pending
        try:
            out = self._z.decompress(fed, CHUNK)
        except zlib.error as e:
            offset = self._member_start_stored
            at_member_start = self._member_in == 0 and self._member_out == 0
            # Only bytes that do not even start like gzip are trailing garbage; a member that has a gzip
            # header but a broken deflate stream is corrupt (more members may follow it).
            if at_member_start and self.pos > 0 and not fed.startswith(GZIP_MAGIC):
                raise StreamFault(
                    "trailing_garbage", f"bytes after the last gzip member are not gzip ({e})", offset
                ) from None
            raise StreamFault("corrupt_gzip", f"gzip member at byte {offset}: {e}", offset) from None
        leftover = self._z.unconsumed_tail if not self._z.eof else self._z.unused_data
        used = len(fed) - len(leftover)
        self._member_in += used
        self._pending = leftover
        self._member_out += len(out)
        self._account(len(out))
        if self._member_out > self._ratio_floor and self._member_out > self._max_ratio * max(1, self._member_in):
            raise StreamFault(
                "decompression_bomb",
                f"gzip member at byte {self._member_start_stored} expanded {self._member_out} bytes from "
                f"{self._member_in} (ratio above {self._max_ratio:g})",
                self._member_start_stored,
            )
        self._buf = out
        if self._z.eof:  # member finished: the next one starts right here
            self._member_start_stored += self._member_in
            self.stored_end = self._member_start_stored
            self._member_in = self._member_out = 0
            self._z = zlib.decompressobj(31)
            self._member_starts[self._produced] = self._member_start_stored
        return True

    def _account(self, n: int) -> None:
        self._produced += n
        if self._produced > self._max_bytes:
            raise StreamFault("decompression_limit", f"file expands beyond {self._max_bytes} bytes", self.stored_read)


def sniff(raw) -> tuple[str, bool, object]:
    """Look at the start of ``raw``: returns (kind, gzipped, stream positioned at byte 0).

    kind is ``warc`` or ``arc``. Raises StreamFault ``empty_file`` or ``not_a_warc``.
    """
    head = raw.read(CHUNK) or b""
    while len(head) < 64:  # a slow network read can return a few bytes
        more = raw.read(CHUNK)
        if not more:
            break
        head += more
    if not head:
        raise StreamFault("empty_file", "the file is empty", 0)
    gzipped = head[:2] == GZIP_MAGIC
    start = head
    if gzipped:
        try:
            start = zlib.decompressobj(31).decompress(head, 256)
        except zlib.error as e:
            raise StreamFault("corrupt_gzip", f"gzip header at byte 0: {e}", 0) from None
    start = start.lstrip(b"\r\n")
    if start.startswith(b"WARC/"):
        kind = "warc"
    elif start.startswith(b"filedesc://"):
        kind = "arc"
    elif not start and gzipped:
        raise StreamFault("not_a_warc", "gzip stream decompresses to nothing readable at its start", 0)
    else:
        shown = start[:24].decode("latin-1").encode("unicode_escape").decode()
        raise StreamFault("not_a_warc", f"does not start with a WARC or ARC header (starts {shown!r})", 0)
    return kind, gzipped, _Prefixed(head, raw)
