"""``lakeforge filter``: re-apply thresholds to the stored signals of ``documents`` as a new table version.

Nothing is re-extracted: one Delta UPDATE rewrites ``drop_reason`` / ``drop_reasons`` / ``verdict_run_id`` of the
documents whose verdict changes. Settings that shape signals (word lists, n-gram sizes, extraction) cannot change
this way; the job names any that differ from the ones the signals were computed with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.common import Parser, add_session_args, print_report, run_main, start_run  # noqa: E402
from jobs.curate import add_config_args, curate_config, resolve, summary  # noqa: E402
from jobs.ingest import _log  # noqa: E402


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
    args = parser().parse_args(argv)
    cfg = curate_config(args)

    from curation.spark.curate import run_filter

    spark, lake, run, start_s = start_run(args, "filter", cfg)
    cfg = resolve(lake, cfg, run)
    _log(f"run {run.run_id}: new thresholds over {lake.fq('documents')} in {lake.root}")
    report = run_filter(spark, lake, cfg, run)
    text = summary(report) + f"\n  changed     {report.changed:,} document(s) changed verdict"
    return print_report(args, report, start_s, text)


if __name__ == "__main__":
    sys.exit(run_main(main))
