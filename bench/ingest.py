"""Ingest throughput: lakeforge's Spark ingest vs a plain single-process fastwarc loop.

    .venv/bin/python -m bench.ingest [--copies N] [--files F] [--master local[2]] [--json]
    .venv/bin/python -m bench.ingest --smoke     # 2 files × 1 copy, 1 Spark run: every step, in seconds

Inputs: F files, each N copies of three real per-record-gzip WARCs from ../shared/data/warc, concatenated
byte-wise (still a valid .warc.gz). They are made once under bench/out/ (git-ignored) and reused while the
parameters and the source files are unchanged. Record ids repeat across copies, so the Spark run writes
few rows (most are deduplicated on doc_id); every figure is therefore records *read* (``records_in``).

Compared, over the same files:
  1. fastwarc loop      one process: ``ArchiveIterator(open(path, 'rb'), parse_http=True)``, read every
                        response's payload, count records (the peer).
  2. read_file loop     one process: lakeforge's pure reader (``curation.warc.read_file``), all events
                        consumed (what each Spark task runs for its one file).
  3. read_file × P      the same reader in P worker processes (multiprocessing, default 2), no Spark: the
                        ceiling for the Spark read stage on this machine.
  4. Spark ingest       ``run_ingest`` into a fresh lakehouse, twice (run 1 warms the JVM and the Python
                        workers); read stage = ``report.details["read_seconds"]``, whole job = ``report.seconds``
                        (read + dedupe + Delta commits). Session start-up is reported on its own line and
                        excluded from both.
The goal line compares the last Spark run with the fastwarc loop.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench._common import OUT, SHARED, log, out_dir

SOURCES = [
    SHARED / "warc" / "dolma" / "sample-0000.warc.gz",
    SHARED / "warc" / "dolma" / "sample-0001.warc.gz",
    SHARED / "warc" / "resiliparse" / "warcfile.warc.gz",
]
GOAL = 1.5

# One copy of the three sources is ~587 KB stored / 132 records / 53 HTML responses. 100 copies × 4 files
# ≈ 47 MB per file, 52.8k records, 21k HTML responses (~900 MB of bodies): closer to a real Common Crawl
# file (~1 GB, one task each) than tiny files, whose fixed per-job costs would dominate; the whole bench
# (two Spark runs included) takes ~100 s on 2 cores. --files 8 --copies 12 is the quick version (~80 s).
DEFAULT_COPIES = 100
DEFAULT_FILES = 4
SMOKE = {"copies": 1, "files": 2, "runs": 1, "repeat": 1}  # --smoke: ~1.2 MB, 264 records, every step once


# ------------------------------------------------------------------------------------------------ inputs


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_inputs(copies: int, files: int, base: Path = OUT) -> list[Path]:
    """F files of N concatenated copies of SOURCES; reused when the manifest matches."""
    missing = [str(p) for p in SOURCES if not p.is_file()]
    if missing:
        raise SystemExit(f"bench: source WARC(s) not found: {', '.join(missing)}")
    folder = base / f"inputs-f{files}-c{copies}"
    manifest_path = folder / "manifest.json"
    want = {
        "copies": copies,
        "files": files,
        "sources": [{"path": str(p), "size": p.stat().st_size, "sha256": _sha256(p)} for p in SOURCES],
    }
    blobs = [p.read_bytes() for p in SOURCES]
    names = [f"bench-{i:04d}.warc.gz" for i in range(files)]
    size = copies * sum(len(b) for b in blobs)
    if manifest_path.is_file():
        try:
            have = json.loads(manifest_path.read_text())
        except ValueError:
            have = None
        if have == {**want, "outputs": names, "size": size} and all(
            (folder / n).is_file() and (folder / n).stat().st_size == size for n in names
        ):
            log(f"reusing inputs in {folder}")
            return [folder / n for n in names]
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    for i, name in enumerate(names):
        # Rotate the order of the three sources per file so files are not byte-identical.
        order = blobs[i % len(blobs) :] + blobs[: i % len(blobs)]
        with open(folder / name, "wb") as f:
            for _ in range(copies):
                for b in order:
                    f.write(b)
    manifest_path.write_text(json.dumps({**want, "outputs": names, "size": size}, indent=1))
    log(f"made {files} input file(s) of {size / 1e6:.1f} MB in {folder} ({time.perf_counter() - t0:.1f}s)")
    return [folder / n for n in names]


# ---------------------------------------------------------------------------------------- single process


def fastwarc_loop(paths: list[Path]) -> tuple[int, int]:
    """The peer: plain fastwarc over every record, reading each response's payload."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    records = responses = 0
    for path in paths:
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f, parse_http=True):
                records += 1
                if rec.record_type == WarcRecordType.response:
                    rec.reader.read()
                    responses += 1
    return records, responses


def read_file_loop(sources, cfg) -> tuple[int, int]:
    """lakeforge's own reader, one file after another, every event consumed."""
    from curation.warc import read_file

    records = pages = 0
    for s in sources:
        for kind, row in read_file(s.uri, cfg, "bench", s.size):
            if kind == "file":
                records += row["records_in"]
                pages += row["written"]
    return records, pages


def _read_one(args) -> tuple[int, int]:
    from curation.warc import read_file

    uri, size, cfg = args
    records = pages = 0
    for kind, row in read_file(uri, cfg, "bench", size):
        if kind == "file":
            records, pages = row["records_in"], row["written"]
    return records, pages


def read_file_pool(sources, cfg, processes: int) -> tuple[int, int]:
    """The same reader over ``processes`` worker processes, one file per call: what 2 cores can do with no
    Spark at all (the ceiling for the Spark read stage on this machine). Pool start-up is included."""
    import multiprocessing as mp

    with mp.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_read_one, [(s.uri, s.size, cfg) for s in sources], chunksize=1)
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _secs(times: list[float]) -> str:
    return ", ".join(f"{t:.2f}s" for t in times)


def best_of(fn, repeat: int):
    """(result, best seconds, all seconds) over ``repeat`` runs."""
    times = []
    result = None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, min(times), times


# ------------------------------------------------------------------------------------------------- Spark


def spark_runs(sources, cfg, master: str, runs: int, driver_memory: str) -> dict:
    from curation.config import LakehouseConfig, SparkConfig, config_hash, to_dict
    from curation.provenance import RunInfo
    from curation.spark.ingest import run_ingest
    from curation.spark.lakehouse import Lakehouse
    from curation.spark.session import lakehouse_session
    from jobs.common import prepare_environment

    tmp = Path(tempfile.mkdtemp(prefix="lakeforge-bench-"))
    try:
        prepare_environment()
        spark_cfg = SparkConfig(
            master=master,
            app_name="lakeforge-bench",
            driver_memory=driver_memory,
            conf={"spark.sql.warehouse.dir": str(tmp / "spark-warehouse")},
        )
        t0 = time.perf_counter()
        spark, lake = lakehouse_session(spark_cfg, LakehouseConfig(root=str(tmp / "lake-1")))
        session_s = time.perf_counter() - t0
        spark.sparkContext.setLogLevel("ERROR")
        log(f"Spark session ({master}) ready in {session_s:.1f}s")
        out = {"master": master, "session_seconds": session_s, "runs": []}
        for i in range(1, runs + 1):
            if i > 1:  # a fresh lakehouse for every run: nothing is skipped as already ingested
                lake = Lakehouse(spark, LakehouseConfig(root=str(tmp / f"lake-{i}"))).attach()
            run = RunInfo(
                job="ingest-bench", config_hash=config_hash(cfg), config=to_dict(cfg), inputs=[s.uri for s in sources]
            )
            report = run_ingest(spark, lake, sources, cfg, run)
            t = report.totals
            r = {
                "run": i,
                "records_in": t["records_in"],
                "written": t["kept"],  # the ingest funnel's kept: pages written
                "errored": t["errored"],
                "read_seconds": report.details["read_seconds"],
                "seconds": report.seconds,
                "after_read_seconds": report.seconds - report.details["read_seconds"],
                "steps": dict(report.timings),
                "unreconciled": report.unreconciled(),
                "warnings": report.warnings,
            }
            out["runs"].append(r)
            log(
                f"Spark run {i}: {r['records_in']:,} records in, {r['written']:,} written; "
                f"read {r['read_seconds']:.2f}s, whole job {r['seconds']:.2f}s"
            )
            if r["steps"]:
                log(f"Spark run {i} steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["steps"].items()))
        spark.stop()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- report


def table(rows: list[dict], peer_rate: float) -> str:
    head = ("method", "records", "seconds", "records/s", "vs fastwarc loop")
    lines = [head]
    for r in rows:
        rate = r.get("records_per_s")
        lines.append(
            (
                r["method"],
                f"{r['records']:,}" if r.get("records") is not None else "-",
                f"{r['seconds']:.2f}",
                f"{rate:,.0f}" if rate else "-",
                f"{rate / peer_rate:.2f}×" if rate and peer_rate else "-",
            )
        )
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]

    def fmt(row) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    out = [fmt(lines[0]), "  ".join("-" * w for w in widths)]
    out += [fmt(row) for row in lines[1:]]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--copies", type=int, default=DEFAULT_COPIES, help=f"copies per file (default {DEFAULT_COPIES})")
    p.add_argument("--files", type=int, default=DEFAULT_FILES, help=f"input files (default {DEFAULT_FILES})")
    p.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    p.add_argument("--runs", type=int, default=2, help="Spark ingest runs, each into a fresh lakehouse (default 2)")
    p.add_argument("--repeat", type=int, default=3, help="single-process loops: best of this many (default 3)")
    p.add_argument(
        "--processes", type=int, default=2, help="processes for the multi-process read_file line (default 2)"
    )
    p.add_argument("--driver-memory", default="4g")
    p.add_argument("--no-spark", action="store_true", help="only the single-process loops")
    p.add_argument("--json", action="store_true", help="also print the figures as JSON (last line of stdout)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a check of every step: " + ", ".join(f"--{k} {v}" for k, v in SMOKE.items()) + ", in bench/out/smoke",
    )
    args = p.parse_args(argv)
    if args.smoke:
        for k, v in SMOKE.items():
            setattr(args, k, v)
    if args.copies < 1 or args.files < 1 or args.runs < 1:
        p.error("--copies, --files and --runs must be at least 1")

    from curation.config import IngestConfig
    from curation.warc.sources import resolve_inputs

    t_all = time.perf_counter()
    load0 = os.getloadavg()[0]
    if load0 > 1.0:
        log(f"WARNING: 1-min load average {load0:.2f} at start: something else may be using the CPUs")
    paths = make_inputs(args.copies, args.files, out_dir(args.smoke))
    cfg = IngestConfig()
    sources = resolve_inputs([str(x) for x in paths], cfg.paths_base)
    stored = sum(s.size or 0 for s in sources)

    (fw_records, fw_responses), fw_s, fw_all = best_of(lambda: fastwarc_loop(paths), args.repeat)
    log(f"fastwarc loop: {fw_records:,} records, {fw_responses:,} responses; runs {_secs(fw_all)}")
    (rf_records, rf_pages), rf_s, rf_all = best_of(lambda: read_file_loop(sources, cfg), args.repeat)
    log(f"read_file loop: {rf_records:,} records, {rf_pages:,} pages; runs {_secs(rf_all)}")

    procs = args.processes
    (mp_records, _), mp_s, mp_all = best_of(lambda: read_file_pool(sources, cfg, procs), args.repeat)
    log(f"read_file × {procs} processes: runs {_secs(mp_all)}")

    peer = fw_records / fw_s
    rows = [
        {"method": "fastwarc loop (1 process)", "records": fw_records, "seconds": fw_s, "records_per_s": peer},
        {
            "method": "lakeforge read_file loop (1 process)",
            "records": rf_records,
            "seconds": rf_s,
            "records_per_s": rf_records / rf_s,
        },
        {
            "method": f"lakeforge read_file, {procs} processes (no Spark)",
            "records": mp_records,
            "seconds": mp_s,
            "records_per_s": mp_records / mp_s,
        },
    ]
    result = {
        "inputs": {
            "files": args.files,
            "copies": args.copies,
            "stored_bytes": stored,
            "records": fw_records,
            "html_responses": rf_pages,
            "folder": str(paths[0].parent),
        },
        "smoke": args.smoke,
        "cpus": os.cpu_count(),
        "load_average_at_start": load0,
        "fastwarc_loop": {"records": fw_records, "seconds": fw_s, "all_seconds": fw_all, "records_per_s": peer},
        "read_file_loop": {
            "records": rf_records,
            "seconds": rf_s,
            "all_seconds": rf_all,
            "records_per_s": rf_records / rf_s,
        },
        "read_file_pool": {
            "processes": procs,
            "records": mp_records,
            "seconds": mp_s,
            "all_seconds": mp_all,
            "records_per_s": mp_records / mp_s,
        },
    }
    if rf_records != fw_records:
        log(f"WARNING: read_file counted {rf_records:,} records, fastwarc {fw_records:,}")

    spark = None
    if not args.no_spark:
        spark = spark_runs(sources, cfg, args.master, args.runs, args.driver_memory)
        rows.append({"method": f"Spark session start ({args.master})", "seconds": spark["session_seconds"]})
        for r in spark["runs"]:
            n = r["records_in"]
            r["read_records_per_s"] = n / r["read_seconds"] if r["read_seconds"] else 0.0
            r["job_records_per_s"] = n / r["seconds"] if r["seconds"] else 0.0
            r["read_vs_fastwarc"] = r["read_records_per_s"] / peer
            r["job_vs_fastwarc"] = r["job_records_per_s"] / peer
            rows.append(
                {
                    "method": f"Spark run {r['run']}: read stage",
                    "records": n,
                    "seconds": r["read_seconds"],
                    "records_per_s": r["read_records_per_s"],
                }
            )
            rows.append(
                {
                    "method": f"Spark run {r['run']}: whole job",
                    "records": n,
                    "seconds": r["seconds"],
                    "records_per_s": r["job_records_per_s"],
                }
            )
            if n != fw_records:
                log(f"WARNING: Spark run {r['run']} read {n:,} records, fastwarc {fw_records:,}")
            if r["unreconciled"]:
                log(f"WARNING: Spark run {r['run']}: {r['unreconciled']}")
        result["spark"] = spark

    print(
        f"inputs: {args.files} file(s) × {args.copies} copies = {stored / 1e6:.1f} MB stored, "
        f"{fw_records:,} records, {rf_pages:,} HTML responses; {os.cpu_count()} CPU(s); "
        f"loops without Spark: best of {args.repeat}; load average at start {load0:.2f}"
    )
    print(table(rows, peer))
    if spark:
        for r in spark["runs"]:
            if r["steps"]:
                print(f"Spark run {r['run']} steps: " + ", ".join(f"{k} {v:.2f}s" for k, v in r["steps"].items()))
        last = spark["runs"][-1]
        read_ok = last["read_vs_fastwarc"] >= GOAL
        job_ok = last["job_vs_fastwarc"] >= GOAL
        print()
        print(
            f"goal: Spark ingest on 2 cores ≥ {GOAL}× single-process fastwarc loop (excluding session start)"
            f"  [this run: {args.master}, {os.cpu_count()} CPUs]"
        )
        print(f"  read stage  (run {last['run']}): {last['read_vs_fastwarc']:.2f}×  {'PASS' if read_ok else 'FAIL'}")
        print(f"  whole job   (run {last['run']}): {last['job_vs_fastwarc']:.2f}×  {'PASS' if job_ok else 'FAIL'}")
        own = rf_records / rf_s
        print(
            f"  for reference, against lakeforge's own single-process read_file loop: Spark read stage "
            f"{last['read_records_per_s'] / own:.2f}×, read_file × {procs} processes {mp_records / mp_s / own:.2f}×"
        )
        result["goal"] = {
            "ratio": GOAL,
            "run": last["run"],
            "read_stage": {"vs_fastwarc": last["read_vs_fastwarc"], "pass": read_ok},
            "whole_job": {"vs_fastwarc": last["job_vs_fastwarc"], "pass": job_ok},
        }
    result["bench_seconds"] = time.perf_counter() - t_all
    log(f"bench took {result['bench_seconds']:.0f}s")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
