"""The extraction-only bound of curate: ``trafilatura.extract`` alone over the same HTML responses, one process per
WARC file (as curate runs one task per file), 2 processes at a time.

The records are read and their bodies kept in memory first (not timed); each process then times only its loop of
``trafilatura.extract(body, url=url)`` with trafilatura's defaults. The bound is the documents over the slowest
process's seconds: what curate would reach if extraction were all it did."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

WORKERS = 2


def _extract_file(path: str) -> tuple[int, int, float]:
    import trafilatura

    from curation.config import IngestConfig
    from curation.warc.records import read_file

    pages = [(row["payload"], row["url"]) for kind, row in read_file(path, IngestConfig(), "bound") if kind == "page"]
    trafilatura.extract("<html><body><p>warm up</p></body></html>")  # imports and lazy setup, not charged
    t0 = time.perf_counter()
    for body, url in pages:
        try:
            trafilatura.extract(body, url=url)
        except Exception:  # noqa: BLE001 - a page trafilatura fails on still costs its time, as in curate
            pass
    return os.getpid(), len(pages), time.perf_counter() - t0


def extraction_bound(files: list[Path], workers: int = WORKERS) -> dict:
    """``{"n", "seconds", "per_s", "workers"}``: HTML responses of ``files`` over the slowest process's seconds."""
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        done = pool.map(_extract_file, [str(f) for f in files], chunksize=1)
    n, busy = 0, {}
    for pid, docs, secs in done:
        n += docs
        busy[pid] = busy.get(pid, 0.0) + secs
    seconds = max(busy.values())
    return {"n": n, "seconds": seconds, "per_s": n / seconds, "workers": workers}
