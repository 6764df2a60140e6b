"""curation.warc.records: WARC/ARC files → page / error events and a reconciling file summary.

Real files come from ../shared/data/warc (the ``shared_data`` fixture); broken inputs are built in
tmp_path with gzip/zlib so every failure mode is a real file on disk.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcgen import gz, http_response, incompressible_html, member, warc_record, warcinfo, write_gzip_bomb

from curation.config import IngestConfig
from curation.warc import FileReader, read_file, stable_id
from curation.warc.records import (
    FileResult,
    crawl_id_from_warcinfo,
    host_of,
    looks_like_html,
    parse_warc_date,
)

HEX32 = re.compile(r"^[0-9a-f]{32}$")

# Every file of the shared WARC folder, with the number of pages it must yield (checked by hand).
EXPECTED_PAGES = {
    "dolma/sample-0000.warc.gz": 22,
    "dolma/sample-0001.warc.gz": 15,
    "resiliparse/clipped.warc.gz": 0,
    "resiliparse/clueweb-quirk.warc.gz": 29,
    "resiliparse/warcfile.warc.gz": 16,
    "warcio/example-iana.org-chunked.warc": 1,
    "warcio/example-resource.warc.gz": 0,
    "warcio/example.arc.gz": 1,
    "warcio/example.warc.gz": 1,
    "warcio/post-test.warc.gz": 0,
    "whirlwind/whirlwind.warc.gz": 1,
    "whirlwind/whirlwind.warc.wat.gz": 0,
    "whirlwind/whirlwind.warc.wet.gz": 0,
}


# ------------------------------------------------------------------------------------------ helpers


@dataclass
class Run:
    events: list
    pages: list[dict]
    errors: list[dict]
    file: dict

    @property
    def reasons(self) -> list[str]:
        return [e["reason"] for e in self.errors]

    def reconciles(self) -> bool:
        f = self.file
        return f["records_in"] == f["written"] + sum(f["skipped"].values()) + f["errored"]


def run(path: str | Path, cfg: IngestConfig | None = None, run_id: str = "run-test", **kw) -> Run:
    events = list(read_file(str(path), cfg or IngestConfig(), run_id, **kw))
    assert events, "read_file yielded nothing"
    kinds = [k for k, _ in events]
    assert kinds[-1] == "file" and kinds.count("file") == 1, kinds
    assert set(kinds[:-1]) <= {"page", "error"}, kinds
    pages = [r for k, r in events if k == "page"]
    errors = [r for k, r in events if k == "error"]
    file_row = events[-1][1]
    assert file_row["written"] == len(pages)
    assert file_row["errored"] == len(errors)
    return Run(events, pages, errors, file_row)


@pytest.fixture(scope="module")
def warc_dir(shared_data: Path) -> Path:
    return shared_data / "warc"


# --------------------------------------------------------------------------------- real files


def test_shared_folder_holds_exactly_the_expected_files(warc_dir: Path):
    found = sorted(str(p.relative_to(warc_dir)) for p in warc_dir.rglob("*") if p.is_file())
    assert found == sorted(EXPECTED_PAGES)


@pytest.mark.parametrize("name", sorted(EXPECTED_PAGES))
def test_every_real_file_reconciles(warc_dir: Path, name: str):
    path = warc_dir / name
    size = path.stat().st_size
    r = run(path, file_size=size)
    f = r.file
    assert r.reconciles(), f
    assert f["records_in"] == f["written"] + sum(f["skipped"].values()) + f["errored"]
    assert f["written"] == EXPECTED_PAGES[name]
    assert f["source_file"] == str(path)
    assert f["run_id"] == "run-test"
    assert f["file_size"] == size
    assert f["records_in"] > 0
    assert f["seconds"] >= 0
    if name == "resiliparse/clipped.warc.gz":
        return  # checked on its own below
    assert f["status"] == "complete"
    assert r.errors == []
    assert f["bytes_read"] == size  # the whole file was read, nothing more
    for page in r.pages:
        assert page["source_file"] == str(path)
        assert page["ingest_run_id"] == "run-test"
        assert page["content_type"] in IngestConfig().html_content_types
        assert page["record_length"] is not None and page["record_length"] > 0
        assert page["record_offset"] is not None and 0 <= page["record_offset"] < size
        assert page["record_offset"] + page["record_length"] <= size
        assert isinstance(page["payload"], bytes) and page["payload"]
        assert page["payload_length"] >= 0
        assert page["payload_truncated"] is False


def test_warcfile_skips_by_record_type_and_takes_crawl_id_from_warcinfo(warc_dir: Path):
    r = run(warc_dir / "resiliparse/warcfile.warc.gz")
    assert r.file["skipped"] == {
        "record_type=warcinfo": 1,
        "record_type=request": 17,
        "record_type=metadata": 16,
    }
    assert r.file["records_in"] == 50
    assert len(r.pages) == 16
    assert {p["crawl_id"] for p in r.pages} == {"CC-MAIN-2020-34"}


def test_whirlwind_crawl_id_and_page_fields(warc_dir: Path):
    r = run(warc_dir / "whirlwind/whirlwind.warc.gz")
    (page,) = r.pages
    assert page["crawl_id"] == "CC-MAIN-2024-22"
    assert page["record_id"].startswith("<urn:uuid:")
    assert page["doc_id"] == stable_id(page["record_id"])
    assert page["url"].startswith(("http://", "https://"))
    assert page["host"] == host_of(page["url"]) and page["host"]
    assert isinstance(page["warc_date"], datetime) and page["warc_date"].tzinfo is not None
    assert page["warc_date"].year == 2024
    assert page["http_status"] == 200
    assert page["content_type"] == "text/html"
    assert page["payload"].lstrip().lower().startswith(b"<!doctype html")
    assert page["payload_digest"] and page["payload_digest"].startswith("sha1:")
    assert page["ip_address"]


def test_json_responses_are_skipped_by_content_type(warc_dir: Path):
    r = run(warc_dir / "warcio/post-test.warc.gz")
    assert r.pages == [] and r.errors == []
    assert r.file["skipped"] == {"content_type=application/json": 3, "record_type=request": 3}


def test_wet_and_wat_files_give_no_pages(warc_dir: Path):
    wat = run(warc_dir / "whirlwind/whirlwind.warc.wat.gz")
    wet = run(warc_dir / "whirlwind/whirlwind.warc.wet.gz")
    assert wat.file["skipped"] == {"record_type=warcinfo": 1, "record_type=metadata": 1}
    assert wet.file["skipped"] == {"record_type=warcinfo": 1, "record_type=conversion": 1}
    assert wat.pages == wet.pages == []


def test_clipped_gzip_is_quarantined_not_raised(warc_dir: Path):
    r = run(warc_dir / "resiliparse/clipped.warc.gz")
    assert r.file["status"] in ("failed", "partial")
    assert "truncated_gzip" in r.reasons
    assert r.reconciles()
    err = r.errors[r.reasons.index("truncated_gzip")]
    assert err["source_file"] == str(warc_dir / "resiliparse/clipped.warc.gz")
    assert err["record_offset"] == 0  # the one (clipped) member starts the file
    assert HEX32.match(err["error_id"])
    assert err["run_id"] == "run-test"
    assert err["message"]


@pytest.mark.parametrize("name", ["dolma/sample-0000.warc.gz", "resiliparse/warcfile.warc.gz"])
def test_offsets_point_at_exactly_one_gzip_member(warc_dir: Path, name: str):
    path = warc_dir / name
    r = run(path)
    assert r.pages
    with open(path, "rb") as fh:
        for page in r.pages:
            assert page["record_length"] is not None
            fh.seek(page["record_offset"])
            chunk = fh.read(page["record_length"])
            assert len(chunk) == page["record_length"]
            record = gzip.decompress(chunk)
            assert record.startswith(b"WARC/1")
            assert page["record_id"].encode() in record
            # and it is one member, not two
            assert member(chunk, 0, len(chunk)) == record


def test_offsets_in_uncompressed_warc(warc_dir: Path):
    path = warc_dir / "warcio/example-iana.org-chunked.warc"
    (page,) = run(path).pages
    assert page["record_length"] is not None
    with open(path, "rb") as fh:
        fh.seek(page["record_offset"])
        record = fh.read(page["record_length"])
    assert record.startswith(b"WARC/1")
    assert page["record_id"].encode() in record
    assert record.count(b"WARC/1.0\r\n") == 1  # exactly one record's bytes


def test_chunked_payload_is_dechunked(warc_dir: Path):
    (page,) = run(warc_dir / "warcio/example-iana.org-chunked.warc").pages
    assert page["payload"].startswith(b"<!doctype html")
    assert page["payload"].rstrip().endswith(b"</html>")
    assert page["payload_truncated"] is False
    # payload_length counts the body as stored, chunk-size lines included
    assert page["payload_length"] > len(page["payload"])


def test_arc_page_has_its_payload(warc_dir: Path):
    path = warc_dir / "warcio/example.arc.gz"
    (page,) = run(path).pages
    assert page["url"] == "http://example.com/"
    assert page["record_id"] is None  # warcio invents random ids for ARC records
    assert page["warc_date"] == datetime(2014, 2, 16, 5, 2, 21, tzinfo=UTC)
    assert page["http_status"] == 200
    assert page["payload"].startswith(b"<!doctype html")
    assert len(page["payload"]) == page["payload_length"] == 1270
    raw = path.read_bytes()
    assert member(raw, page["record_offset"], page["record_length"]).startswith(b"http://example.com/ ")


def test_payload_cap(warc_dir: Path):
    path = warc_dir / "dolma/sample-0000.warc.gz"
    full = run(path).pages
    capped = run(path, IngestConfig(max_payload_bytes=1000, max_record_bytes=10**6)).pages
    assert [p["doc_id"] for p in capped] == [p["doc_id"] for p in full]
    for c, f in zip(capped, full, strict=True):
        assert len(f["payload"]) > 1000
        assert len(c["payload"]) == 1000
        assert c["payload_truncated"] is True
        assert c["payload"] == f["payload"][:1000]
        assert c["payload_length"] == f["payload_length"]


def test_doc_ids_stable_unique_and_hex(warc_dir: Path):
    seen: dict[str, str] = {}
    for name in sorted(EXPECTED_PAGES):
        first = [p["doc_id"] for p in run(warc_dir / name).pages]
        second = [p["doc_id"] for p in run(warc_dir / name, run_id="another-run").pages]
        assert first == second, name
        assert len(set(first)) == len(first), name
        for d in first:
            assert HEX32.match(d), d
            assert d not in seen, f"{d} in both {seen.get(d)} and {name}"
            seen[d] = name
    assert len(seen) == sum(EXPECTED_PAGES.values())


def test_decompression_limit_keeps_earlier_records(warc_dir: Path):
    path = warc_dir / "dolma/sample-0000.warc.gz"
    full = run(path).pages
    r = run(path, IngestConfig(max_decompressed_bytes=300_000))
    assert r.reasons[-1] == "decompression_limit"
    assert r.file["status"] == "partial"
    assert r.reconciles()
    assert 0 < len(r.pages) < len(full)
    assert [p["doc_id"] for p in r.pages] == [p["doc_id"] for p in full[: len(r.pages)]]


def test_file_reader_iterates_events_and_keeps_counts(warc_dir: Path):
    reader = FileReader(str(warc_dir / "whirlwind/whirlwind.warc.gz"), IngestConfig(), "r1")
    events = list(reader)
    assert [k for k, _ in events] == ["page"]
    res = reader.result
    assert isinstance(res, FileResult)
    assert res.reconciles() and res.status == "complete"
    assert (res.records_in, res.pages, res.errored) == (4, 1, 0)
    assert res.row()["skipped"] == {
        "record_type=warcinfo": 1,
        "record_type=request": 1,
        "record_type=metadata": 1,
    }


# ---------------------------------------------------------------------------- broken inputs


def test_empty_file(tmp_path: Path):
    p = tmp_path / "empty.warc.gz"
    p.write_bytes(b"")
    r = run(p)
    assert r.reasons == ["empty_file"]
    assert r.file["status"] == "failed"
    assert (r.file["records_in"], r.file["errored"]) == (1, 1)
    assert r.reconciles()


@pytest.mark.parametrize("prefix", [b"", b"\x1f\x8b"], ids=["random", "gzip-magic-then-random"])
def test_garbage_bytes(tmp_path: Path, prefix: bytes):
    p = tmp_path / "garbage.warc.gz"
    p.write_bytes(prefix + random.Random(0).randbytes(8192))
    r = run(p)
    assert len(r.errors) == 1
    assert r.reasons[0] in ("not_a_warc", "corrupt_gzip")
    if prefix:
        assert r.reasons == ["corrupt_gzip"]
    assert r.file["status"] == "failed" and r.reconciles()


def test_text_file_is_not_a_warc(tmp_path: Path):
    p = tmp_path / "notes.warc"
    p.write_text("These are some notes.\nThey are not a WARC file.\n" * 20)
    r = run(p)
    assert r.reasons == ["not_a_warc"]
    assert r.file["status"] == "failed" and r.reconciles()


def test_gzipped_text_file_is_not_a_warc(tmp_path: Path):
    p = tmp_path / "notes.warc.gz"
    p.write_bytes(gzip.compress(b"hello, I am plain text\n" * 50))
    assert run(p).reasons == ["not_a_warc"]


def test_missing_path(tmp_path: Path):
    r = run(tmp_path / "nope.warc.gz")
    assert r.reasons == ["input_not_found"]
    assert r.file["status"] == "failed" and r.reconciles()
    assert r.file["records_in"] == 1


def test_directory_instead_of_file(tmp_path: Path):
    assert run(tmp_path).reasons == ["input_not_found"]


def test_generated_warc_reads_every_record_with_exact_offsets(tmp_path: Path):
    records = [warc_record(i) for i in range(5)]
    data = gz(*records)
    p = tmp_path / "five.warc.gz"
    p.write_bytes(data)
    r = run(p)
    assert r.file["status"] == "complete" and r.reconciles()
    assert [pg["url"] for pg in r.pages] == [f"http://example.com/page/{i}" for i in range(5)]
    offset = 0
    for rec, pg in zip(records, r.pages, strict=True):
        size = len(gzip.compress(rec, mtime=0))
        assert (pg["record_offset"], pg["record_length"]) == (offset, size)
        assert member(data, offset, size) == rec
        offset += size
    assert r.file["bytes_read"] == len(data)
    assert r.pages[2]["payload"] == b"<!doctype html><html><body>page 2</body></html>"
    assert r.pages[2]["warc_date"] == datetime(2024, 5, 3, 12, 0, tzinfo=UTC)
    assert r.pages[2]["host"] == "example.com"


def test_gzip_bomb_stops_fast(tmp_path: Path):
    """A small good record, then one member whose header claims 3 GB and whose body is ~300 MB of zeros."""
    p = tmp_path / "bomb.warc.gz"
    t0 = time.perf_counter()
    bomb_at = write_gzip_bomb(p, warc_record(0), zeros_mib=300, declared_length=3_000_000_000)
    assert time.perf_counter() - t0 < 10
    assert p.stat().st_size < 3 * (1 << 20)  # ~300 MiB of zeros in a couple of MiB

    cfg = IngestConfig(max_record_bytes=2 * 1024 * 1024, max_payload_bytes=1024 * 1024, max_compression_ratio=50)
    t0 = time.perf_counter()
    r = run(p, cfg)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5, f"bomb took {elapsed:.1f}s"
    assert [pg["url"] for pg in r.pages] == ["http://example.com/page/0"]
    assert "decompression_bomb" in r.reasons
    assert set(r.reasons) <= {"decompression_bomb", "record_too_large"}
    bomb = r.errors[r.reasons.index("decompression_bomb")]
    assert bomb["record_offset"] == bomb_at
    assert r.file["status"] == "partial"
    assert r.reconciles()
    assert r.file["bytes_read"] < 1 << 20  # stopped long before reading the whole member


def test_oversize_record_is_an_error_and_the_next_record_is_read(tmp_path: Path):
    big = warc_record(1, incompressible_html(3_000_000))
    records = [warc_record(0), big, warc_record(2)]
    cfg = IngestConfig(max_record_bytes=2 * 2**20, max_payload_bytes=2**20)
    for name, data in [("big.warc", b"".join(records)), ("big.warc.gz", gz(*records))]:
        p = tmp_path / name
        p.write_bytes(data)
        r = run(p, cfg)
        assert r.reasons == ["record_too_large"], name
        assert r.errors[0]["url"] == "http://example.com/page/1"
        assert r.errors[0]["record_id"] == "<urn:uuid:00000000-0000-4000-8000-000000000001>"
        assert [pg["url"] for pg in r.pages] == ["http://example.com/page/0", "http://example.com/page/2"]
        assert r.reconciles() and r.file["records_in"] == 3
        assert r.file["bytes_read"] == len(data)
    # the same file is fine under the default limits, and its payload is capped at max_payload_bytes
    r = run(tmp_path / "big.warc.gz")
    assert r.errors == [] and len(r.pages) == 3
    assert len(r.pages[1]["payload"]) == IngestConfig().max_payload_bytes
    assert r.pages[1]["payload_truncated"] is True


def _plain_three(body_size: int = 400) -> tuple[list[bytes], bytes]:
    records = [warc_record(i, incompressible_html(body_size, seed=i)) for i in range(3)]
    return records, b"".join(records)


@pytest.mark.parametrize("where", ["in-warc-header", "in-http-header", "middle", "near-end"])
def test_truncated_uncompressed_warc(tmp_path: Path, where: str):
    records, data = _plain_three()
    last_start = len(records[0]) + len(records[1])
    last = records[2]
    cut_in_last = {
        "in-warc-header": 30,
        "in-http-header": last.index(b"HTTP/1.1") + 10,
        "middle": len(last) // 2,
        "near-end": len(last) - 40,
    }[where]
    p = tmp_path / "cut.warc"
    p.write_bytes(data[: last_start + cut_in_last])
    r = run(p)
    assert [pg["url"] for pg in r.pages] == ["http://example.com/page/0", "http://example.com/page/1"]
    assert r.reasons == ["truncated_record"]
    assert r.errors[0]["record_offset"] == last_start
    assert r.file["status"] == "partial"
    assert r.reconciles() and r.file["records_in"] == 3


def test_uncompressed_warc_complete_is_not_flagged(tmp_path: Path):
    _, data = _plain_three()
    p = tmp_path / "whole.warc"
    p.write_bytes(data)
    r = run(p)
    assert r.errors == [] and r.file["status"] == "complete" and len(r.pages) == 3


def test_trailing_garbage_after_valid_gzip(tmp_path: Path):
    valid = gz(warc_record(0), warc_record(1), warc_record(2))
    p = tmp_path / "tail.warc.gz"
    p.write_bytes(valid + b"this is not gzip at all " * 10)
    r = run(p)
    assert [pg["url"] for pg in r.pages] == [f"http://example.com/page/{i}" for i in range(3)]
    assert r.reasons == ["trailing_garbage"]
    assert r.errors[0]["record_offset"] == len(valid)
    assert r.file["status"] == "partial"
    assert r.reconciles() and r.file["records_in"] == 4


def test_truncated_gzip_member_keeps_earlier_records(tmp_path: Path):
    data = gz(warc_record(0), warc_record(1), warc_record(2, incompressible_html(5000)))
    p = tmp_path / "clip.warc.gz"
    p.write_bytes(data[:-200])
    r = run(p)
    assert [pg["url"] for pg in r.pages] == ["http://example.com/page/0", "http://example.com/page/1"]
    assert r.reasons == ["truncated_gzip"]
    assert r.file["status"] == "partial" and r.reconciles()


def test_corrupt_gzip_member_keeps_earlier_records(tmp_path: Path):
    first = gz(warc_record(0))
    second = bytearray(gz(warc_record(1, incompressible_html(5000))))
    second[20:60] = b"\xff" * 40  # wreck the deflate stream
    p = tmp_path / "corrupt.warc.gz"
    p.write_bytes(first + bytes(second))
    r = run(p)
    assert [pg["url"] for pg in r.pages] == ["http://example.com/page/0"]
    assert r.reasons == ["corrupt_gzip"]
    assert r.errors[0]["record_offset"] == len(first)
    assert r.file["status"] == "partial" and r.reconciles()


# ------------------------------------------------------------------------- record outcomes


def test_record_outcomes(tmp_path: Path):
    html = b"<html><head><title>x</title></head><body>hello</body></html>"
    records = [
        warc_record(0, block=http_response(b'{"a": 1}', content_type="application/json")),
        warc_record(1, block=http_response(html, content_type=None)),  # no type, looks like HTML: kept
        warc_record(2, block=http_response(b"just text", content_type=None)),
        warc_record(3, block=b"not http at all", block_type="text/plain"),
        warc_record(
            4,
            rtype="request",
            block=b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            block_type="application/http;msgtype=request",
        ),
        warc_record(5, block=http_response(html, content_type="application/xhtml+xml; charset=UTF-8")),
        warc_record(6, block=http_response(html, status="404 Not Found")),
        warc_record(7, block=http_response(html, content_type="text/html; charset=ISO-8859-1")),
    ]
    p = tmp_path / "mixed.warc.gz"
    p.write_bytes(gz(*records))
    r = run(p)
    assert r.file["skipped"] == {
        "content_type=application/json": 1,
        "content_type=none": 1,
        "not_http": 1,
        "record_type=request": 1,
    }
    by_url = {pg["url"]: pg for pg in r.pages}
    assert sorted(by_url) == [f"http://example.com/page/{i}" for i in (1, 5, 6, 7)]
    assert by_url["http://example.com/page/1"]["content_type"] is None
    assert by_url["http://example.com/page/5"]["content_type"] == "application/xhtml+xml"
    assert by_url["http://example.com/page/6"]["http_status"] == 404
    assert by_url["http://example.com/page/7"]["charset"] == "iso-8859-1"
    assert all(pg["payload"] == html for pg in r.pages)
    assert r.reconciles() and r.file["records_in"] == 8


def test_warc_truncated_header_flags_payload(tmp_path: Path):
    p = tmp_path / "t.warc.gz"
    p.write_bytes(gz(warc_record(0, extra=("WARC-Truncated: length",))))
    (page,) = run(p).pages
    assert page["payload_truncated"] is True
    assert page["warc_truncated"] == "length"


def test_gzip_content_encoding_is_decoded(tmp_path: Path):
    html = b"<!doctype html><html><body>" + b"compressed " * 200 + b"</body></html>"
    block = http_response(gzip.compress(html), extra=("Content-Encoding: gzip",))
    p = tmp_path / "ce.warc.gz"
    p.write_bytes(gz(warc_record(0, block=block)))
    (page,) = run(p).pages
    assert page["payload"] == html
    assert page["payload_length"] == len(gzip.compress(html))
    assert page["payload_truncated"] is False


def test_doc_id_without_record_id_is_content_derived_and_stable(tmp_path: Path):
    p = tmp_path / "noid.warc.gz"
    p.write_bytes(gz(warc_record(0, record_id=None), warc_record(1, record_id=None)))
    a, b = run(p).pages, run(p).pages
    assert [x["doc_id"] for x in a] == [x["doc_id"] for x in b]
    assert a[0]["doc_id"] != a[1]["doc_id"]
    assert a[0]["record_id"] is None
    body = a[0]["payload"]
    assert a[0]["doc_id"] == stable_id(a[0]["url"], "2024-05-01T12:00:00Z", hashlib.sha1(body).hexdigest())


def test_crawl_id_from_path_and_from_warcinfo(tmp_path: Path):
    p = tmp_path / "CC-MAIN-2023-50-segment-00001.warc.gz"
    p.write_bytes(gz(warc_record(0)))
    assert [pg["crawl_id"] for pg in run(p).pages] == ["CC-MAIN-2023-50"]
    q = tmp_path / "CC-MAIN-2023-50-segment-00002.warc.gz"
    q.write_bytes(gz(warcinfo("CC-MAIN-2024-10"), warc_record(0)))
    r = run(q)
    assert [pg["crawl_id"] for pg in r.pages] == ["CC-MAIN-2024-10"]
    assert r.file["skipped"] == {"record_type=warcinfo": 1}
    plain = tmp_path / "no-crawl.warc.gz"
    plain.write_bytes(gz(warc_record(0)))
    assert [pg["crawl_id"] for pg in run(plain).pages] == [None]


def test_error_ids_are_stable(tmp_path: Path):
    p = tmp_path / "tail.warc.gz"
    p.write_bytes(gz(warc_record(0)) + b"garbage" * 5)
    a, b = run(p, run_id="a"), run(p, run_id="b")
    assert [e["error_id"] for e in a.errors] == [e["error_id"] for e in b.errors]
    assert HEX32.match(a.errors[0]["error_id"])
    assert a.errors[0]["run_id"] == "a" and b.errors[0]["run_id"] == "b"


# ---------------------------------------------------------------------------- small helpers


def test_stable_id():
    assert HEX32.match(stable_id("x"))
    assert stable_id("a", 1) == stable_id("a", "1")
    assert stable_id(None) != stable_id("") != stable_id("None")
    assert stable_id("ab", "c") != stable_id("a", "bc")
    assert stable_id("\udcff") == stable_id("\udcff")  # lone surrogates do not raise


def test_parse_warc_date():
    assert parse_warc_date("2020-08-03T12:34:56Z") == datetime(2020, 8, 3, 12, 34, 56, tzinfo=UTC)
    assert parse_warc_date("2020-08-03T12:34:56.250Z") == datetime(2020, 8, 3, 12, 34, 56, 250000, tzinfo=UTC)
    assert parse_warc_date("20140216050221") == datetime(2014, 2, 16, 5, 2, 21, tzinfo=UTC)
    assert parse_warc_date("2020-08-03T12:34:56") == datetime(2020, 8, 3, 12, 34, 56, tzinfo=UTC)
    assert parse_warc_date("yesterday") is None
    assert parse_warc_date(None) is None and parse_warc_date("") is None


def test_host_of():
    assert host_of("https://WWW.Example.COM.:8080/a?b") == "www.example.com"
    assert host_of(" http://example.org/ ") == "example.org"
    assert host_of("http://[::1/") is None
    assert host_of("not a url") is None
    assert host_of(None) is None


def test_looks_like_html_and_warcinfo():
    assert looks_like_html(b"  <!DOCTYPE html><p>")
    assert looks_like_html(b"<?xml version='1.0'?><html>")
    assert not looks_like_html(b'{"json": true}')
    assert crawl_id_from_warcinfo(b"software: x\r\nisPartOf: CC-MAIN-2020-34\r\n") == "CC-MAIN-2020-34"
    assert crawl_id_from_warcinfo(b"software: x\r\n") is None


def test_file_result_status():
    r = FileResult("f", "r")
    assert r.status == "complete" and r.reconciles()
    r.fault = "truncated_gzip"
    r.records_in, r.errored = 1, 1
    assert r.status == "failed" and r.reconciles()
    r.records_in, r.pages = 2, 1
    assert r.status == "partial" and r.reconciles()
    r.records_in = 3
    assert not r.reconciles()
