"""``lakeforge curate`` / ``spark-submit jobs/curate.py``: WARC files → the ``documents`` table, in one pass.
``lakeforge extract``: the same stages over a ``pages`` table version.

Arguments → CurateConfig (``--config`` YAML, then ``--set section.key=value``) → curation.spark.curate → tables,
then the funnel.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make `jobs` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curation.config import load_settings  # noqa: E402
from jobs.common import JobError, Parser, add_session_args, paths_arg, print_report, run_main, start_run  # noqa: E402
from jobs.ingest import DEFAULT_SHARED, _log, _progress_printer  # noqa: E402
from jobs.stats import format_funnel  # noqa: E402


def add_config_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings")
    g.add_argument("--config", default=None, metavar="YAML", help="curate settings (see conf/curate.yaml)")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting, value as YAML; repeatable (e.g. --set langid.keep_languages=[en,de] "
        "--set gopher_quality.min_doc_words=30)",
    )
    g.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")


def curate_config(args: argparse.Namespace):
    from curation.curate import CurateConfig

    return load_settings(CurateConfig, args.config, args.set)


def resolve(lake, cfg, run):
    """``cfg`` with its classifiers resolved against ``models`` (version, file, threshold); the run records the
    resolved config, so its commits name the exact model versions."""
    from curation.config import config_hash, to_dict
    from curation.spark.classify import resolve_classifiers

    cfg = resolve_classifiers(lake, cfg)
    run.config_hash, run.config = config_hash(cfg), to_dict(cfg)
    return cfg


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
    args = parser().parse_args(argv)
    cfg = curate_config(args)
    inputs = args.input or ([str(DEFAULT_SHARED)] if DEFAULT_SHARED.is_dir() else [])
    if not inputs:
        raise JobError("no --input given and no bundled default (../shared/data/warc) found")

    from curation.spark.curate import run_curate
    from curation.warc.sources import resolve_inputs

    read = cfg.read
    sources = resolve_inputs(inputs, read.paths_base, timeout_s=read.http_timeout_s, retries=read.http_retries)
    spark, lake, run, start_s = start_run(args, "curate", cfg, inputs=[s.uri for s in sources])
    cfg = resolve(lake, cfg, run)
    _log(
        f"run {run.run_id}: {len(sources)} file(s) → {lake.fq('documents')} in {lake.root}  "
        f"(Spark ready in {start_s:.1f}s)"
    )
    report = run_curate(spark, lake, sources, cfg, run, progress=_progress_printer())
    return _finish(args, report, start_s)


def extract_main(argv=None) -> int:
    args = extract_parser().parse_args(argv)
    cfg = curate_config(args)

    from curation.spark.curate import run_extract

    spark, lake, run, start_s = start_run(args, "extract", cfg)
    cfg = resolve(lake, cfg, run)
    run.inputs = [lake.fq("pages")]
    _log(f"run {run.run_id}: {lake.fq('pages')} → {lake.fq('documents')} in {lake.root}")
    report = run_extract(spark, lake, cfg, run, pages_version=args.pages_version)
    return _finish(args, report, start_s)


def _finish(args, report, start_s: float) -> int:
    return print_report(args, report, start_s, summary(report))


def summary(report) -> str:
    lines = ["", format_funnel(report.funnel)]
    lines.append(
        f"  run         {report.seconds:.1f}s  (" + ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items()) + ")"
    )
    lines.append("  versions    " + ", ".join(f"{k} v{v}" for k, v in report.versions.items()))
    for w in report.warnings:
        lines.append(f"  warning     {w}")
    lines.append('  next        lakeforge sql "SELECT drop_reason, count(*) FROM documents GROUP BY 1 ORDER BY 2 DESC"')
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_main(main))
