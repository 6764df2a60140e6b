"""warcgen.bad_inputs: each faulty file gives the pages and error reasons that EXPECTED_BAD promises.

Other test folders (Spark ingest) rely on this contract, so it is pinned here against the pure reader.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from warcgen import BAD_INPUT_LIMITS, EXPECTED_BAD, EXPECTED_BAD_STATUS, bad_inputs, small_warc_gz

from curation.config import IngestConfig
from curation.warc import read_file

CFG = IngestConfig(**BAD_INPUT_LIMITS)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bad_inputs(tmp_path_factory.mktemp("bad"))


def read(path: Path, cfg: IngestConfig = CFG) -> tuple[list[dict], list[dict], dict]:
    events = list(read_file(str(path), cfg, "run-bad"))
    kinds = [k for k, _ in events]
    assert kinds[-1] == "file" and kinds.count("file") == 1, kinds
    pages = [r for k, r in events if k == "page"]
    errors = [r for k, r in events if k == "error"]
    return pages, errors, events[-1][1]


def test_files_on_disk(tmp_path: Path):
    t0 = time.perf_counter()
    files = bad_inputs(tmp_path / "new-folder")
    assert time.perf_counter() - t0 < 2
    assert set(files) == set(EXPECTED_BAD) == set(EXPECTED_BAD_STATUS)
    assert all(p.parent == tmp_path / "new-folder" for p in files.values())
    assert not files["missing"].exists()
    assert all(p.is_file() for name, p in files.items() if name != "missing")
    assert files["empty"].stat().st_size == 0
    assert files["garbage"].stat().st_size == 5000
    assert files["not_a_warc"].name.endswith(".warc") and files["truncated_plain"].name.endswith(".warc")
    for name in ("empty", "garbage", "gzip_bomb", "oversize_record"):
        assert files[name].name.endswith(".warc.gz"), name
    assert files["gzip_bomb"].stat().st_size < 3 * 2**20
    assert files["oversize_record"].stat().st_size > 2**20  # the big record is stored at ~1.5 MB


@pytest.mark.parametrize("name", sorted(EXPECTED_BAD))
def test_expected_outcome(bad: dict[str, Path], name: str):
    want_pages, reasons = EXPECTED_BAD[name]
    pages, errors, f = read(bad[name])
    assert len(pages) == f["written"] == want_pages
    assert len(errors) == f["errored"] == 1, [e["reason"] for e in errors]
    assert errors[0]["reason"] in reasons
    assert f["status"] == EXPECTED_BAD_STATUS[name]
    assert f["records_in"] == f["written"] + sum(f["skipped"].values()) + f["errored"]
    assert all(p["url"].startswith(f"http://bad-inputs.example/{name}/") for p in pages)


def test_pages_have_ids_of_their_own(bad: dict[str, Path], tmp_path: Path):
    ids = [p["doc_id"] for name in sorted(bad) for p in read(bad[name])[0]]
    assert len(ids) == sum(n for n, _ in EXPECTED_BAD.values()) == len(set(ids))
    good = tmp_path / "good.warc.gz"
    good.write_bytes(small_warc_gz(4))
    assert not set(ids) & {p["doc_id"] for p in read(good)[0]}


def test_limits_matter(bad: dict[str, Path]):
    """Under the default limits the oversize record is a (capped) page, not an error."""
    pages, errors, f = read(bad["oversize_record"], IngestConfig())
    assert errors == [] and len(pages) == 3 and f["status"] == "complete"
