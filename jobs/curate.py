"""``lakeforge curate``: WARC files → the ``documents`` table, in one pass.
``lakeforge extract``: the same stages over a ``pages`` table version.

Arguments → CurateConfig (``--config`` YAML, then ``--set section.key=value``) → curation.spark.curate → tables,
then the funnel.
"""

from __future__ import annotations

import argparse

from jobs.common import (
    DEFAULT_SHARED,
    Parser,
    add_config_args,
    add_session_args,
    curate_config,
    input_paths,
    log,
    paths_arg,
    print_report,
    progress_printer,
    resolve_classifiers,
    start_run,
)
from jobs.render import curate_summary


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge curate",
        description="Stream WARC files once through decoding, URL filter, trafilatura extraction, fastText language "
        "ID and the quality/toxicity signals into the Delta table `documents` (one row per HTML response, with "
        "every signal and its drop_reason; `kept` is a view). The funnel goes to `stats`.",
    )
    paths_arg(
        p,
        "--input",
        "-i",
        metavar="PATH_OR_URL",
        help="WARC/ARC files, directories, globs, warc.paths[.gz] lists, http(s):// or s3:// URLs; several after "
        f"one flag or the flag repeated (default: {DEFAULT_SHARED} when present)",
    )
    add_config_args(p)
    add_session_args(p)
    return p


def extract_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge extract",
        description="Run the curate stages over the `pages` table (written by `lakeforge ingest`): documents not in "
        "`documents` yet are extracted, scored and written.",
    )
    p.add_argument("--pages-version", type=int, default=None, help="pages version to read (default: latest)")
    add_config_args(p)
    add_session_args(p)
    return p


def main(argv=None) -> int:
    from curation.spark.curate import run_curate
    from curation.warc.sources import resolve_inputs

    args = parser().parse_args(argv)
    cfg = curate_config(args)
    read = cfg.read
    inputs = input_paths(args.input)
    sources = resolve_inputs(inputs, read.paths_base, timeout_s=read.http_timeout_s, retries=read.http_retries)
    spark, lake, run, start_s = start_run(args, "curate", cfg, inputs=[s.uri for s in sources])
    cfg = resolve_classifiers(lake, cfg, run)
    log(f"run {run.run_id}: {len(sources)} file(s) → {lake.fq('documents')} in {lake.root} (Spark {start_s:.1f}s)")
    report = run_curate(spark, lake, sources, cfg, run, progress=progress_printer())
    return print_report(args, report, start_s, curate_summary(report))


def extract_main(argv=None) -> int:
    from curation.spark.curate import run_extract

    args = extract_parser().parse_args(argv)
    cfg = curate_config(args)
    spark, lake, run, start_s = start_run(args, "extract", cfg)
    cfg = resolve_classifiers(lake, cfg, run)
    run.inputs = [lake.fq("pages")]
    log(f"run {run.run_id}: {lake.fq('pages')} → {lake.fq('documents')} in {lake.root}")
    report = run_extract(spark, lake, cfg, run, pages_version=args.pages_version)
    return print_report(args, report, start_s, curate_summary(report))
