"""``lakeforge filter``: re-apply thresholds to the stored signals of ``documents`` as a new table version.

Nothing is re-extracted: one Delta UPDATE rewrites ``drop_reason`` / ``drop_reasons`` / ``verdict_run_id`` of the
documents whose verdict changes. Settings that shape signals (word lists, n-gram sizes, extraction) cannot change
this way; the job names any that differ from the ones the signals were computed with.
"""

from __future__ import annotations

import argparse

from jobs.common import (
    Parser,
    add_config_args,
    add_session_args,
    curate_config,
    log,
    print_report,
    resolve_classifiers,
    start_run,
)
from jobs.render import filter_summary


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge filter",
        description="Re-apply filter thresholds (--config YAML, --set overrides) to the signals stored in "
        "`documents`, writing the new verdicts as a new table version. Earlier versions stay readable.",
    )
    add_config_args(p)
    add_session_args(p)
    return p


def main(argv=None) -> int:
    from curation.spark.curate import run_filter

    args = parser().parse_args(argv)
    cfg = curate_config(args)
    spark, lake, run, start_s = start_run(args, "filter", cfg)
    cfg = resolve_classifiers(lake, cfg, run)
    log(f"run {run.run_id}: new thresholds over {lake.fq('documents')} in {lake.root}")
    report = run_filter(spark, lake, cfg, run)
    return print_report(args, report, start_s, filter_summary(report))
