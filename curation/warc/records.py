"""One WARC (or ARC) file → ``pages`` rows, ``ingest_errors`` rows and one ``ingest_files`` row.

Pure Python, no Spark: :func:`read_file` is what each Spark task runs for its one file, what the
benchmark's single-process loop runs, and what the unit tests call directly. It never raises for bad
input: every record ends up as exactly one of page / skipped (with a reason) / error, and the file
summary reconciles ``records_in = pages + sum(skipped) + errored``.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from curation.config import IngestConfig
from curation.storage import S3Settings
from curation.warc.bodies import decode_body
from curation.warc.streams import StreamFault, check_tail, open_source, sniff

CRAWL_ID_IN_PATH = re.compile(r"(CC-MAIN-\d{4}-\d{2})")

# Exceptions that are never bad input: let them through.
_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)


def stable_id(*parts: str | int | None) -> str:
    """32 hex chars of sha256 over the parts (None and str/int kept distinct)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(b"\x00" if p is None else str(p).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def clean_uri(value: str | None) -> str | None:
    """WARC-Target-URI as a plain URL: WARC 1.0 writers (wget) wrap it in angle brackets."""
    if value is None:
        return None
    v = value.strip()
    if v.startswith("<") and v.endswith(">"):
        v = v[1:-1].strip()
    return v or None


def host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def parse_warc_date(value: str | None) -> datetime | None:
    """WARC-Date (``2020-08-03T12:34:56Z``, with or without fraction) or an ARC 14-digit date → UTC."""
    if not value:
        return None
    v = value.strip()
    try:
        if v.isdigit() and len(v) == 14:
            return datetime.strptime(v, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def crawl_id_from_warcinfo(body: bytes) -> str | None:
    for line in body.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "ispartof" and value.strip():
            return value.strip()
    return None


@dataclass
class FileResult:
    """Counts for one file; becomes its ``ingest_files`` row."""

    source_file: str
    run_id: str
    file_size: int | None = None
    bytes_read: int = 0
    records_in: int = 0
    pages: int = 0
    skipped: Counter = field(default_factory=Counter)
    errored: int = 0
    fault: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        if self.fault is None:
            return "complete"
        return "partial" if self.pages or sum(self.skipped.values()) else "failed"

    def reconciles(self) -> bool:
        return self.records_in == self.pages + sum(self.skipped.values()) + self.errored

    def row(self) -> dict:
        return {
            "run_id": self.run_id,
            "source_file": self.source_file,
            "file_size": self.file_size,
            "bytes_read": self.bytes_read,
            "status": self.status,
            "records_in": self.records_in,
            "written": self.pages,
            "skipped": dict(self.skipped),
            "errored": self.errored,
            "seconds": round(self.seconds, 4),
        }


@dataclass
class _Record:
    """A record normalised across fastwarc and warcio."""

    rtype: str
    offset: int | None  # stored offset (gzip member start), when addressable
    headers: object  # a dict, or fastwarc's HeaderMap for records only counted (both have .get)
    declared_length: int | None
    status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    is_http: bool = False
    read_payload: object = None  # callable(cap) -> (body, stored body length, truncated)


class FileReader:
    """Reads one file. Iterate it for ``("page" | "error", row)`` events; ``result`` holds the counts."""

    def __init__(
        self,
        source_file: str,
        cfg: IngestConfig,
        run_id: str,
        file_size: int | None = None,
        s3: S3Settings | None = None,
    ):
        self.source = source_file
        self.cfg = cfg
        self.run_id = run_id
        self.s3 = s3  # how to reach s3:// inputs (settings passed in by the driver, never looked up here)
        self.result = FileResult(source_file, run_id, file_size=file_size)
        self.crawl_id = m.group(1) if (m := CRAWL_ID_IN_PATH.search(source_file)) else None
        self._raw = None
        self._head = None
        self._budget = [cfg.max_decompressed_bytes]  # bytes the file may still expand to

    # ------------------------------------------------------------------ events
    def error(self, reason: str, message: str, offset: int | None = None, headers: dict | None = None) -> tuple:
        self.result.errored += 1
        headers = headers or {}
        return (
            "error",
            {
                "error_id": stable_id(self.source, offset, reason),
                "source_file": self.source,
                "record_offset": offset,
                "record_id": headers.get("WARC-Record-ID"),
                "url": clean_uri(headers.get("WARC-Target-URI")),
                "reason": reason,
                "message": message[:2000],
                "run_id": self.run_id,
            },
        )

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        t0 = time.perf_counter()
        try:
            yield from self._read()
        finally:
            if self._head is not None:
                self.result.bytes_read = self._head.count
            if self._raw is not None:
                try:
                    self._raw.close()
                except Exception:  # noqa: BLE001 - closing a broken stream must not mask the real fault
                    pass
            self.result.seconds = time.perf_counter() - t0

    def _read(self) -> Iterator[tuple[str, dict]]:
        cfg = self.cfg
        try:
            self._raw = open_source(self.source, timeout_s=cfg.http_timeout_s, retries=cfg.http_retries, s3=self.s3)
            kind, gzipped, head = sniff(self._raw)
        except StreamFault as e:
            self.result.records_in += 1  # the unreadable file counts as one record in, one errored
            self.result.fault = e.reason
            yield self.error(e.reason, e.message, e.offset)
            return
        except BaseException as e:  # noqa: BLE001 - fastwarc panics are BaseException
            if isinstance(e, _FATAL):
                raise
            self.result.records_in += 1
            self.result.fault = "open_failed"
            yield self.error("open_failed", f"{type(e).__name__}: {e}")
            return
        self._head = head
        self._gzipped = gzipped
        self._checkable = kind == "warc" and "://" not in self.source.removeprefix("file://")
        records = self._arc_records(head) if kind == "arc" else self._fastwarc_records(head, gzipped)
        yield from self._consume(records)

    # ------------------------------------------------------------------ record sources
    def _fastwarc_records(self, stored, gzipped: bool) -> Iterator[_Record]:
        """fastwarc decompresses (natively: twice as fast as zlib through Python) and parses.

        A record's work is bounded by its Content-Length: within ``max_record_bytes`` fastwarc reads or
        skips it natively; beyond (or without a length) its bytes are pulled through :class:`_Block`,
        which stops a gzip bomb after bounded work. Records whose bytes were read are checked for being
        cut short (fastwarc itself ends quietly on a truncated stream; ``check_tail`` covers the rest).
        """
        from fastwarc.warc import ArchiveIterator, WarcRecordType

        cfg = self.cfg
        it = ArchiveIterator(stored, parse_http=True, auto_decode="none", quirks_mode=True)
        truncated = "truncated_gzip" if gzipped else "truncated_record"
        wanted = (WarcRecordType.response, WarcRecordType.warcinfo)
        for rec in it:
            rtype = rec.record_type
            remaining = rec.content_length
            if rtype in wanted:
                headers = dict(rec.headers.items())  # one call: HeaderMap.get costs ~2 µs each
                declared = _int(headers.get("Content-Length"))
                http = rec.http_headers if rec.is_http else None
            else:  # most records (requests, metadata) are only counted: touch as little as possible
                headers, declared, http = rec.headers, remaining, None
            bounded = declared is not None and declared <= cfg.max_record_bytes
            block = _Block(rec.reader, remaining, rec.stream_pos, stored, cfg, self._budget, bounded)
            yield _Record(
                rtype=str(rtype),
                offset=rec.stream_pos,
                headers=headers,
                declared_length=declared,
                status=http.status_code if http is not None else None,
                content_type=(rec.http_content_type or None) if http is not None else None,
                charset=rec.http_charset if http is not None else None,
                is_http=http is not None,
                read_payload=lambda cap, b=block, h=http: _decoded_body(b, h, cap),
            )
            if not bounded:
                block.drain()  # under the ratio guard
            elif not block.total:
                block.charge(remaining)  # fastwarc skips it natively; it still counts against the file's limit
                continue
            if block.total < block.expected:
                raise StreamFault(
                    truncated,
                    f"the stream ends {block.expected - block.total} bytes before the end of the record "
                    f"at byte {rec.stream_pos}",
                    rec.stream_pos,
                )

    def _arc_records(self, head) -> Iterator[_Record]:
        # ARC (the pre-WARC format) is rare enough that warcio's pure-Python reader is fine. warcio
        # does its own gzip handling, so it reads the stored bytes; its offsets are stored offsets.
        from warcio.archiveiterator import ArchiveIterator

        it = ArchiveIterator(head, arc2warc=True)
        for rec in it:
            # The record's stored start. Not it.get_record_offset(): that reads the record to its end
            # (to measure it), which would leave content_stream() empty and every ARC page without payload.
            offset = it.offset
            headers = {k: v for k, v in rec.rec_headers.headers}
            headers["WARC-Record-ID"] = None  # warcio invents random ids for ARC: not stable
            ctype = rec.http_headers.get_header("Content-Type") if rec.http_headers else None
            mime, charset = _split_content_type(ctype)
            status = rec.http_headers.get_statuscode() if rec.http_headers else None
            yield _Record(
                rtype=rec.rec_type,
                offset=offset,
                headers=headers,
                declared_length=None,  # warcio checks ARC lengths itself
                status=_int(status),
                content_type=mime,
                charset=charset,
                is_http=rec.http_headers is not None,
                read_payload=lambda cap, r=rec: _read_capped(r.content_stream(), cap),
            )

    # ------------------------------------------------------------------ the loop
    def _tail(self, last: _Record) -> tuple[int | None, StreamFault | None]:
        """End of the last parsed record and any fault after it (local WARC files; see check_tail)."""
        if not self._checkable or last.offset is None:
            return None, None
        return check_tail(self.source.removeprefix("file://"), self._gzipped, last.offset, self.cfg.max_record_bytes)

    def _consume(self, records: Iterator[_Record]) -> Iterator[tuple[str, dict]]:
        """Give every record exactly one outcome: page, skipped with a reason, or error."""
        res = self.result
        pending: tuple | None = None  # the previous record's outcome, waiting for its stored length
        current: _Record | None = None  # counted in records_in, outcome not decided yet
        try:
            for rec in records:
                res.records_in += 1
                current = rec
                outcome = self._outcome(rec)
                current = None
                if pending is not None:
                    yield from self._finish(pending, next_offset=rec.offset)
                pending = outcome
        except BaseException as e:  # noqa: BLE001 - parser failures of any kind, fastwarc panics included
            if isinstance(e, _FATAL):
                raise
            fault = e if isinstance(e, StreamFault) else StreamFault("malformed_warc", f"{type(e).__name__}: {e}")
            res.fault = fault.reason
            if current is not None:  # the fault hit while reading this record's payload
                if pending is not None:
                    yield from self._finish(pending, next_offset=current.offset)
                yield self.error(fault.reason, fault.message, current.offset, current.headers)
            elif pending is not None and fault.offset is not None and fault.offset == pending[1].offset:
                # between records, but inside the previous record's bytes: that record is the casualty
                yield from self._finish(("error", pending[1], fault.reason, fault.message), None)
            else:  # between records: the unreadable rest counts as one record in, one errored
                end = None
                if pending is not None:
                    end, located = self._tail(pending[1])
                    if located is not None and located.offset == end:  # the parser's complaint, placed exactly
                        fault = located
                    yield from self._finish(pending, next_offset=end)
                res.records_in += 1
                if fault.reason == "malformed_warc" and "decompress" in fault.message.lower():
                    fault = StreamFault("corrupt_gzip", fault.message, fault.offset)
                res.fault = fault.reason
                yield self.error(fault.reason, fault.message, fault.offset)
            return
        if pending is None:
            return
        end, fault = self._tail(pending[1])
        if fault is not None and fault.offset == pending[1].offset:  # the last record itself is cut
            res.fault = fault.reason
            pending = ("error", pending[1], fault.reason, fault.message)
        yield from self._finish(pending, next_offset=end if end is not None else self._head.count)
        if fault is not None and fault.offset != pending[1].offset:  # bytes after it: one more record, errored
            res.records_in += 1
            res.fault = fault.reason
            yield self.error(fault.reason, fault.message, fault.offset)

    def _outcome(self, rec: _Record) -> tuple:
        """Decide what a record becomes: ("page", row) / ("skip", reason) / ("error", reason, msg)."""
        cfg = self.cfg
        h = rec.headers
        if rec.rtype == "warcinfo":
            try:
                body, _, _ = rec.read_payload(1 << 16)
                self.crawl_id = crawl_id_from_warcinfo(body) or self.crawl_id
            except BaseException as e:  # noqa: BLE001
                if isinstance(e, _FATAL):
                    raise
            return ("skip", rec, "record_type=warcinfo")
        if rec.rtype != "response":
            return ("skip", rec, f"record_type={rec.rtype}")
        if rec.declared_length is not None and rec.declared_length > cfg.max_record_bytes:
            return (
                "error",
                rec,
                "record_too_large",
                f"Content-Length {rec.declared_length} exceeds max_record_bytes {cfg.max_record_bytes}",
            )
        if not rec.is_http:
            return ("skip", rec, "not_http")
        try:
            body, total, truncated = rec.read_payload(cfg.max_payload_bytes)
        except StreamFault:
            raise  # the stream itself is broken: handled by the loop
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, _FATAL):
                raise
            return ("error", rec, "payload_unreadable", f"{type(e).__name__}: {e}")
        ctype = (rec.content_type or "").lower() or None
        if ctype not in cfg.html_content_types and not (ctype is None and looks_like_html(body)):
            return ("skip", rec, f"content_type={ctype or 'none'}")
        url = clean_uri(h.get("WARC-Target-URI"))
        date = h.get("WARC-Date")
        record_id = h.get("WARC-Record-ID")
        digest = h.get("WARC-Payload-Digest")
        doc_id = stable_id(record_id) if record_id else stable_id(url, date, digest or hashlib.sha1(body).hexdigest())
        row = {
            "doc_id": doc_id,
            "record_id": record_id,
            "url": url,
            "host": host_of(url),
            "warc_date": parse_warc_date(date),
            "crawl_id": self.crawl_id,
            "source_file": self.source,
            "record_offset": rec.offset,
            "record_length": None,
            "http_status": rec.status,
            "content_type": ctype,
            "charset": rec.charset,
            "payload": body,
            "payload_length": total,
            "payload_truncated": truncated or bool(h.get("WARC-Truncated")),
            "warc_truncated": h.get("WARC-Truncated"),
            "payload_digest": digest,
            "ip_address": h.get("WARC-IP-Address"),
            "ingest_run_id": self.run_id,
        }
        return ("page", rec, row)

    def _finish(self, pending: tuple, next_offset: int | None) -> Iterator[tuple[str, dict]]:
        kind, rec = pending[0], pending[1]
        if kind == "skip":
            self.result.skipped[pending[2]] += 1
            return
        if kind == "error":
            yield self.error(pending[2], pending[3], rec.offset, rec.headers)
            return
        row = pending[2]
        if rec.offset is not None and next_offset is not None and next_offset > rec.offset:
            row["record_length"] = next_offset - rec.offset
        self.result.pages += 1
        yield ("page", row)


def read_file(
    source_file: str, cfg: IngestConfig, run_id: str, file_size: int | None = None, s3: S3Settings | None = None
):
    """Iterate ``("page" | "error", row)`` events for one file, then one ``("file", row)`` summary."""
    reader = FileReader(source_file, cfg, run_id, file_size, s3)
    yield from reader
    yield ("file", reader.result.row())


# ---------------------------------------------------------------------------------------------- helpers


def _int(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _split_content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    mime, *params = value.split(";")
    charset = None
    for p in params:
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset" and v.strip():
            charset = v.strip().strip("\"'").lower()
    return mime.strip().lower() or None, charset


class _Block:
    """The rest of one record's bytes, read in chunks under the file's limits.

    ``read(n)`` keeps up to n bytes; ``drain()`` discards the rest. Both stop the file with a
    StreamFault when the record expands beyond ``max_compression_ratio`` times the stored bytes it came
    from (after ``max_record_bytes``): a gzip bomb costs bounded work, not unbounded time.
    """

    CHUNK = 1 << 20

    def __init__(self, reader, expected, stored_start, stored, cfg: IngestConfig, budget: list[int], bounded=False):
        self.reader = reader
        self.bounded = bounded  # Content-Length known and within max_record_bytes: one read, no guard
        self.expected = expected or 0
        self.stored_start = stored_start
        self.stored = stored  # counts stored bytes handed to the parser so far
        self.cfg = cfg
        self.budget = budget
        self.total = 0

    def _chunk(self, n: int) -> bytes:
        data = self.reader.read(n) if self.reader is not None else b""
        self.total += len(data)
        self.charge(len(data))
        stored = max(1, self.stored.count - self.stored_start)
        if self.total > self.cfg.max_record_bytes and self.total > self.cfg.max_compression_ratio * stored:
            raise StreamFault(
                "decompression_bomb",
                f"the record at byte {self.stored_start} expanded to {self.total} bytes from at most {stored} "
                f"stored bytes (ratio above {self.cfg.max_compression_ratio:g})",
                self.stored_start,
            )
        return data

    def charge(self, n: int) -> None:
        """Count ``n`` bytes read elsewhere against the file's decompression budget."""
        self.budget[0] -= n
        if self.budget[0] < 0:
            raise StreamFault(
                "decompression_limit",
                f"file expands beyond max_decompressed_bytes {self.cfg.max_decompressed_bytes}",
                self.stored_start,
            )

    def read(self, keep: int) -> bytes:
        if self.bounded:
            # read() sizes its buffer to what is left; read(keep) would allocate ``keep`` bytes first
            if self.reader is None:
                data = b""
            else:
                data = self.reader.read() if keep >= self.expected else self.reader.read(keep)
            self.total += len(data)
            self.charge(len(data))
            return data
        parts = []
        want = keep
        while want > 0:
            data = self._chunk(min(self.CHUNK, want))
            if not data:
                break
            parts.append(data)
            want -= len(data)
        return b"".join(parts)

    def drain(self) -> None:
        while self._chunk(self.CHUNK):
            pass


def _decoded_body(block: _Block, http_headers, cap: int) -> tuple[bytes, int, bool]:
    """The HTTP body as stored (up to max_record_bytes), decoded and capped: (body, stored length, cut)."""
    raw = block.read(block.cfg.max_record_bytes)
    block.drain()
    if http_headers is None:
        return raw[:cap], len(raw), len(raw) > cap
    body, truncated = decode_body(raw, http_headers.get("Transfer-Encoding"), http_headers.get("Content-Encoding"), cap)
    return body, len(raw), truncated


def _read_capped(reader, cap: int) -> tuple[bytes, int, bool]:
    """Read up to ``cap`` bytes, then drain the rest counting it: (kept bytes, total length, cut)."""
    if reader is None:
        return b"", 0, False
    body = reader.read(cap)
    total = len(body)
    if total == cap:
        while chunk := reader.read(1 << 20):
            total += len(chunk)
    return body, total, total > cap
