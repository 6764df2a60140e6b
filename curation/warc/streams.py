"""Opening WARC inputs as byte streams, and decompressing them with hard limits.

Everything here is forward-only, so an http(s) or s3 body streams exactly like a local file: a WARC
is never held in memory. Faults are raised as :class:`StreamFault` with a machine-readable ``reason``;
the record reader turns them into quarantine rows.

fastwarc decompresses and parses; the stored bytes reach it through :class:`_Prefixed`, which counts
them, so the reader can bound how far a record may expand (gzip bombs) and measure record lengths.
"""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from curation.storage import S3Settings, S3Store, StoreError, is_remote, split_bucket

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


def open_source(uri: str, *, timeout_s: float = 60.0, retries: int = 3, s3: S3Settings | None = None) -> io.RawIOBase:
    """Open a local path, ``http(s)://`` URL or ``s3://`` / ``s3a://`` URI for streaming reads (``s3``: how to reach
    the object store; None means boto3's defaults: environment, profile, role).

    Raises StreamFault: ``input_not_found``, ``permission_denied``, ``http_<status>``, ``unreachable``,
    ``s3_error`` or ``unsupported_scheme``.
    """
    uri = commoncrawl_https(uri)
    if uri.startswith(("http://", "https://")):
        return _open_http(uri, timeout_s, retries)
    if is_remote(uri):
        return _open_s3(uri, s3 or S3Settings())
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


def _open_s3(uri: str, settings: S3Settings) -> io.RawIOBase:
    try:
        store = S3Store(settings)
        bucket, key = split_bucket(uri)
        return store.call("reading", uri, store.client.get_object, Bucket=bucket, Key=key)["Body"]
    except StoreError as e:
        reason = {"not_found": "input_not_found", "denied": "permission_denied", "unreachable": "unreachable"}
        raise StreamFault(reason.get(e.reason, "s3_error"), str(e)) from None


# ------------------------------------------------------------------------------------------- readers


class _Prefixed(io.RawIOBase):
    """``prefix`` bytes, then the rest of ``raw``: lets us sniff a stream that cannot seek back.

    ``count`` is the number of stored bytes handed out so far, which is how the reader measures
    compression ratios and the length of the last record. Forward only: ``seek`` answers where it is
    (fastwarc asks) and refuses to move.
    """

    def __init__(self, prefix: bytes, raw):
        self._prefix = prefix
        self._raw = raw
        self.count = 0  # bytes handed out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (whence == io.SEEK_CUR and offset == 0) or (whence == io.SEEK_SET and offset == self.count):
            return self.count
        raise io.UnsupportedOperation("forward-only stream")

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            out = self._prefix if n < 0 else self._prefix[:n]
            self._prefix = self._prefix[len(out) :]
            if n < 0:
                out += self._raw.read()
        else:
            out = self._raw.read() if n < 0 else self._raw.read(n)
        self.count += len(out)
        return out

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


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


def check_tail(path: str, gzipped: bool, last_offset: int, max_bytes: int) -> tuple[int | None, StreamFault | None]:
    """Where the last record that parsed ends in a local file, and what (if anything) is wrong after it.

    fastwarc ends quietly when a file stops inside a record header or is followed by junk, so the reader
    asks this once per file, reading only the last record again. Returns ``(end, fault)``: ``end`` is
    the stored offset just past that record (None when it cannot be told within ``max_bytes``), and
    ``fault`` is a ``truncated_gzip`` / ``truncated_record`` for that record, or a ``corrupt_gzip`` /
    ``trailing_garbage`` / ``truncated_record`` at ``end`` for the bytes after it.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError:
        return None, None
    with f:
        f.seek(last_offset)
        if gzipped:
            return _gzip_tail(f, last_offset, max_bytes)
        return _plain_tail(f, last_offset, max_bytes)


def _gzip_tail(f, start: int, max_bytes: int) -> tuple[int | None, StreamFault | None]:
    d = zlib.decompressobj(31)
    consumed = produced = 0
    while not d.eof:
        chunk = f.read(CHUNK)
        if not chunk:
            return None, StreamFault("truncated_gzip", f"the gzip member at byte {start} is cut short", start)
        try:
            produced += len(d.decompress(chunk, max_bytes))
        except zlib.error as e:
            return None, StreamFault("corrupt_gzip", f"gzip member at byte {start}: {e}", start)
        if d.unconsumed_tail or produced > max_bytes:
            return None, None  # too large to check here; fastwarc already read it
        consumed += len(chunk) - len(d.unused_data)
    end = start + consumed
    rest = d.unused_data + f.read(64)
    if not rest:
        return end, None
    if rest[:2] == GZIP_MAGIC:
        return end, StreamFault("corrupt_gzip", f"the gzip member at byte {end} cannot be read", end)
    return end, StreamFault("trailing_garbage", f"bytes after the last gzip member (at byte {end}) are not gzip", end)


def _plain_tail(f, start: int, max_bytes: int) -> tuple[int | None, StreamFault | None]:
    head = f.read(min(max_bytes, 1 << 20))
    sep = head.find(b"\r\n\r\n")
    if sep < 0:
        return None, StreamFault(
            "truncated_record", f"the file ends inside the header of the record at byte {start}", start
        )
    length = None
    for line in head[:sep].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip()) if value.strip().isdigit() else None
    if length is None:
        return None, None
    block_end = start + sep + 4 + length
    f.seek(0, io.SEEK_END)
    size = f.tell()
    if size < block_end:
        return None, StreamFault(
            "truncated_record",
            f"the file ends {block_end - size} bytes before the end of the record at byte {start}",
            start,
        )
    f.seek(block_end)
    rest = f.read(1 << 16)
    stripped = rest.lstrip(b"\r\n")
    end = block_end + (len(rest) - len(stripped))
    if not stripped:
        return end, None
    if stripped.startswith(b"WARC/"):
        return end, StreamFault("truncated_record", f"the file ends inside the header of the record at byte {end}", end)
    return end, StreamFault(
        "trailing_garbage", f"bytes after the last record (at byte {end}) are not a WARC record", end
    )
