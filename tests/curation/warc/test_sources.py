"""curation.warc.sources (files, folders, globs, warc.paths lists, URLs) and reading over http://127.0.0.1."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcgen import closed_port_url, no_proxy_env, paths_gz, serve, small_warc_gz

from curation.config import IngestConfig
from curation.warc import read_file, resolve_inputs
from curation.warc.sources import Source, read_paths_list

BASE = "https://data.commoncrawl.org/"
CC_KEY = "crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/CC-MAIN-20240517233122-00000.warc.gz"


def events(uri: str, cfg: IngestConfig | None = None):
    evs = list(read_file(uri, cfg or IngestConfig(http_retries=1, http_timeout_s=5), "run-http"))
    pages = [r for k, r in evs if k == "page"]
    errors = [r for k, r in evs if k == "error"]
    return pages, errors, evs[-1][1]


# --------------------------------------------------------------------------------- resolve_inputs


def test_directory(shared_data: Path):
    folder = shared_data / "warc"
    sources = resolve_inputs([str(folder)], BASE)
    uris = [s.uri for s in sources]
    assert len(sources) == 13
    assert uris == sorted(uris)
    assert all(os.path.isabs(u) and Path(u).is_file() for u in uris)
    assert uris == sorted(str(p) for p in folder.rglob("*") if p.is_file())
    assert all(s.size == Path(s.uri).stat().st_size for s in sources)


def test_relative_directory_becomes_absolute(shared_data: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(shared_data)
    sources = resolve_inputs(["warc/dolma"], BASE)
    assert [s.uri for s in sources] == [str(shared_data / f"warc/dolma/sample-000{i}.warc.gz") for i in (0, 1)]


def test_glob(shared_data: Path):
    sources = resolve_inputs([str(shared_data / "warc/*/*.warc.gz")], BASE)
    names = [Path(s.uri).name for s in sources]
    assert len(sources) == 9  # *.warc.gz only: not .arc.gz, the plain .warc, nor *.warc.wat.gz / *.warc.wet.gz
    assert "example.arc.gz" not in names and "example-iana.org-chunked.warc" not in names
    assert "whirlwind.warc.gz" in names and "whirlwind.warc.wat.gz" not in names
    assert [s.uri for s in sources] == sorted(s.uri for s in sources)
    recursive = resolve_inputs([str(shared_data / "warc/**/*.arc.gz")], BASE)
    assert [Path(s.uri).name for s in recursive] == ["example.arc.gz"]


def test_dedupe_keeps_first_and_order(shared_data: Path):
    d = shared_data / "warc/dolma"
    sources = resolve_inputs(
        [
            str(d / "sample-0001.warc.gz"),
            str(d),
            str(d / "sample-0000.warc.gz"),
            f"file://{d}/sample-0001.warc.gz",
        ],
        BASE,
    )
    assert [Path(s.uri).name for s in sources] == ["sample-0001.warc.gz", "sample-0000.warc.gz"]


def test_remote_and_missing_entries_are_kept(tmp_path: Path):
    missing = tmp_path / "later.warc.gz"
    sources = resolve_inputs(["  ", "https://example.org/a.warc.gz", "s3://commoncrawl/" + CC_KEY, str(missing)], BASE)
    assert sources == [
        Source("https://example.org/a.warc.gz"),
        Source("s3://commoncrawl/" + CC_KEY),
        Source(str(missing), None),
    ]


@pytest.mark.parametrize("gzipped", [True, False], ids=["paths.gz", "paths"])
def test_paths_list(tmp_path: Path, shared_data: Path, gzipped: bool):
    local = shared_data / "warc/whirlwind/whirlwind.warc.gz"
    text = "\n".join(
        [
            "# a comment",
            CC_KEY,
            "",
            "crawl-data/CC-MAIN-2024-22/segments/x/warc/second.warc.gz",
            str(local),
            f"file://{shared_data}/warc/dolma/sample-0000.warc.gz",
            "https://example.org/other.warc.gz",
            CC_KEY,  # duplicate
        ]
    )
    p = tmp_path / ("warc.paths.gz" if gzipped else "warc.paths")
    p.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    sources = resolve_inputs([str(p)], "https://data.commoncrawl.org")  # base without trailing slash
    assert [s.uri for s in sources] == [
        BASE + CC_KEY,
        BASE + "crawl-data/CC-MAIN-2024-22/segments/x/warc/second.warc.gz",
        str(local),
        str(shared_data / "warc/dolma/sample-0000.warc.gz"),
        "https://example.org/other.warc.gz",
    ]
    assert sources[0].size is None
    assert sources[2].size == local.stat().st_size
    # the same list read directly keeps the duplicate
    assert len(read_paths_list(str(p), BASE)) == 6


def test_paths_list_other_base(tmp_path: Path):
    p = tmp_path / "wet.paths"
    p.write_text("a/b.warc.wet.gz\n")
    assert resolve_inputs([str(p)], "https://mirror.example/cc/") == [
        Source("https://mirror.example/cc/a/b.warc.wet.gz")
    ]


def test_input_mistakes_raise_value_error(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no WARC files"):
        resolve_inputs([str(empty)], BASE)
    (empty / "readme.txt").write_text("not a warc")
    with pytest.raises(ValueError, match="no WARC files"):
        resolve_inputs([str(empty)], BASE)
    with pytest.raises(ValueError, match="matches no file"):
        resolve_inputs([str(tmp_path / "*.warc.gz")], BASE)
    with pytest.raises(ValueError, match="cannot read paths list"):
        resolve_inputs([str(tmp_path / "missing.paths.gz")], BASE)
    broken = tmp_path / "broken.paths.gz"
    broken.write_bytes(gzip.compress(b"a\nb\n")[:-6])
    with pytest.raises(ValueError, match="cannot read paths list"):
        resolve_inputs([str(broken)], BASE)


# ------------------------------------------------------------------------------ http://127.0.0.1


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours *_proxy variables; requests to 127.0.0.1 must never leave the machine."""
    for name, value in no_proxy_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1 serving a folder; yields (base URL ending in "/", folder)."""
    root = tmp_path_factory.mktemp("www")
    with serve(root) as base:
        yield base, root


def test_read_over_http_matches_local(served, tmp_path: Path):
    base, root = served
    data = small_warc_gz(4)
    local = tmp_path / "local.warc.gz"
    local.write_bytes(data)
    (root / "served.warc.gz").write_bytes(data)
    url = f"{base}served.warc.gz"

    remote_pages, remote_errors, remote_file = events(url)
    local_pages, local_errors, local_file = events(str(local))
    assert remote_errors == local_errors == []
    assert len(remote_pages) == 4
    keys = (
        "doc_id",
        "record_id",
        "url",
        "payload",
        "record_offset",
        "record_length",
        "http_status",
        "warc_date",
    )
    assert [{k: p[k] for k in keys} for p in remote_pages] == [{k: p[k] for k in keys} for p in local_pages]
    assert {p["source_file"] for p in remote_pages} == {url}
    assert remote_file["status"] == "complete" and remote_file["bytes_read"] == len(data)
    for k in ("records_in", "written", "skipped", "errored"):
        assert remote_file[k] == local_file[k]


def test_real_file_over_http(served, shared_data: Path):
    base, root = served
    src = shared_data / "warc/resiliparse/warcfile.warc.gz"
    (root / "warcfile.warc.gz").write_bytes(src.read_bytes())
    remote, _, rfile = events(f"{base}warcfile.warc.gz")
    local, _, _ = events(str(src))
    assert [p["doc_id"] for p in remote] == [p["doc_id"] for p in local]
    assert [p["record_offset"] for p in remote] == [p["record_offset"] for p in local]
    assert rfile["records_in"] == 50 and rfile["written"] == 16


def test_http_404(served):
    base, _ = served
    pages, errors, f = events(f"{base}no-such-file.warc.gz")
    assert pages == []
    assert [e["reason"] for e in errors] == ["http_404"]
    assert f["status"] == "failed" and f["records_in"] == 1 and f["errored"] == 1


def test_paths_list_over_http(served):
    base, root = served
    paths_gz(root / "warc.paths.gz", [CC_KEY, "https://example.org/x.warc.gz"])
    sources = resolve_inputs([f"{base}warc.paths.gz"], BASE, timeout_s=5, retries=1)
    assert sources == [Source(BASE + CC_KEY), Source("https://example.org/x.warc.gz")]


def test_unreachable_port():
    pages, errors, f = events(closed_port_url("x.warc.gz"), IngestConfig(http_retries=1, http_timeout_s=2))
    assert pages == []
    assert [e["reason"] for e in errors] == ["unreachable"]
    assert f["status"] == "failed" and f["records_in"] == 1
