"""``lakeforge ingest`` / ``spark-submit jobs/ingest.py``: WARC files → the ``pages`` table.

Arguments → IngestConfig → curation.spark.ingest.run_ingest → tables, then a one-screen summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make `jobs` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curation.config import IngestConfig, config_hash, load, to_dict  # noqa: E402
from jobs.common import JobError, Parser, add_session_args, is_tty, open_lakehouse, paths_arg, run_main  # noqa: E402

DEFAULT_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "warc"


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge ingest",
        description="Read Common Crawl WARC files into the Delta table `pages` (one row per HTML response). "
        "Faulty files and records go to `ingest_errors`; per-file counts to `ingest_files`.",
    )
    paths_arg(
        p,
        "--input",
        "-i",
        metavar="PATH_OR_URL",
        help="WARC/ARC files, directories, globs, warc.paths[.gz] lists, http(s):// or s3:// URLs; several after "
        f"one flag or the flag repeated (default: {DEFAULT_SHARED} when present)",
    )
    p.add_argument(
        "--paths-base",
        default=None,
        help="prefix for relative entries of warc.paths lists (default: https://data.commoncrawl.org/)",
    )
    p.add_argument("--config", default=None, metavar="YAML", help="ingest settings file (see conf/ingest.yaml)")
    p.add_argument("--max-payload-bytes", type=int, default=None, help="cap on the stored HTTP body")
    p.add_argument("--max-record-bytes", type=int, default=None, help="records larger than this are quarantined")
    p.add_argument(
        "--reingest",
        action="store_true",
        help="read files again even if an earlier run ingested them (rows are still not duplicated)",
    )
    add_session_args(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cfg = load(
        IngestConfig,
        args.config,
        paths_base=args.paths_base,
        max_payload_bytes=args.max_payload_bytes,
        max_record_bytes=args.max_record_bytes,
        reingest=args.reingest or None,
    )
    inputs = args.input or ([str(DEFAULT_SHARED)] if DEFAULT_SHARED.is_dir() else [])
    if not inputs:
        raise JobError("no --input given and no bundled default (../shared/data/warc) found")

    from curation.provenance import RunInfo
    from curation.spark.ingest import run_ingest
    from curation.warc.sources import resolve_inputs

    sources = resolve_inputs(inputs, cfg.paths_base, timeout_s=cfg.http_timeout_s, retries=cfg.http_retries)
    t0 = time.perf_counter()
    spark, lake = open_lakehouse(args, "lakeforge-ingest")
    start_s = time.perf_counter() - t0
    run = RunInfo(job="ingest", config_hash=config_hash(cfg), config=to_dict(cfg), inputs=[s.uri for s in sources])
    _log(
        f"run {run.run_id}: {len(sources)} file(s) → {lake.fq('pages')} in {lake.root}  (Spark ready in {start_s:.1f}s)"
    )
    report = run_ingest(spark, lake, sources, cfg, run, progress=_progress_printer())
    print(summary(report, lake))
    return 0 if not report.unreconciled() else 3


def _log(msg: str) -> None:
    print(f"[lakeforge] {msg}", file=sys.stderr, flush=True)


def _progress_printer():
    tty = is_tty()
    t0 = time.perf_counter()

    def show(done: int, total: int, records: int) -> None:
        el = time.perf_counter() - t0
        line = f"files {done}/{total} · records {records:,} · {records / el if el else 0:,.0f} records/s · {el:.0f}s"
        if tty:
            print(f"\r[lakeforge] {line}\033[K", end="" if done < total else "\n", file=sys.stderr, flush=True)
        else:
            _log(line)

    return show


def summary(report, lake) -> str:
    """The one-screen end-of-run summary, reconciliation included."""
    t = report.totals
    by_status: dict[str, int] = {}
    for f in report.files:
        by_status[f["status"]] = by_status.get(f["status"], 0) + 1
    rate = t["records_in"] / report.read_seconds if report.read_seconds else 0.0
    lines = [
        "",
        f"ingest run {report.run_id}",
        f"  files       {t['files']}  (" + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) + ")",
        f"  records in  {t['records_in']:,}   read in {report.read_seconds:.1f}s ({rate:,.0f} records/s), "
        f"run {report.seconds:.1f}s",
        f"  written     {t['written']:,}  → {lake.fq('pages')}",
        f"  skipped     {sum(t['skipped'].values()):,}",
    ]
    for reason, n in sorted(t["skipped"].items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"      {n:>8,}  {reason}")
    lines.append(f"  errored     {t['errored']:,}  → {lake.fq('ingest_errors')}")
    for reason, n in sorted(report.errors_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"      {n:>8,}  {reason}")
    bad = report.unreconciled()
    check = "OK" if not bad else f"MISMATCH in {len(bad)} file(s): {', '.join(bad[:5])}"
    lines.append(
        f"  reconcile   records_in {t['records_in']:,} = written {t['written']:,} + skipped "
        f"{sum(t['skipped'].values()):,} + errored {t['errored']:,}   [{check}, per file and in total]"
    )
    lines.append("  versions    " + ", ".join(f"{k} v{v}" for k, v in report.versions.items()))
    for w in report.warnings:
        lines.append(f"  warning     {w}")
    problem_files = [f for f in report.files if f["status"] in ("failed", "partial")]
    if problem_files:
        lines.append('  files with faults (details: lakeforge sql "SELECT * FROM ingest_errors"):')
        for f in problem_files[:10]:
            lines.append(f"      {f['status']:<8} {f['source_file']}")
        if len(problem_files) > 10:
            lines.append(f"      … and {len(problem_files) - 10} more")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_main(main))
