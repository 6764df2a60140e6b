"""``lakeforge ingest``: WARC files → the ``pages`` table.

Arguments → IngestConfig → curation.spark.ingest.run_ingest → tables, then a one-screen summary.
"""

from __future__ import annotations

import argparse

from jobs.common import (
    DEFAULT_SHARED,
    Parser,
    add_session_args,
    input_paths,
    log,
    paths_arg,
    print_report,
    progress_printer,
    start_run,
)
from jobs.render import ingest_summary


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
    p.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    from curation.config import IngestConfig, load
    from curation.spark.ingest import run_ingest
    from curation.warc.sources import resolve_inputs

    args = parser().parse_args(argv)
    limits = dict(max_payload_bytes=args.max_payload_bytes, max_record_bytes=args.max_record_bytes)
    cfg = load(IngestConfig, args.config, paths_base=args.paths_base, reingest=args.reingest or None, **limits)
    inputs = input_paths(args.input)
    sources = resolve_inputs(inputs, cfg.paths_base, timeout_s=cfg.http_timeout_s, retries=cfg.http_retries)
    spark, lake, run, start_s = start_run(args, "ingest", cfg, inputs=[s.uri for s in sources])
    log(f"run {run.run_id}: {len(sources)} file(s) → {lake.fq('pages')} in {lake.root} (Spark ready in {start_s:.1f}s)")
    report = run_ingest(spark, lake, sources, cfg, run, progress=progress_printer())
    return print_report(args, report, start_s, ingest_summary(report, lake))
