"""``lakeforge classify`` / ``spark-submit jobs/classify.py``: score ``documents`` with the classifiers of the curate
config (the versions it pins, or the latest registered), then apply the verdict with their rules.

Only documents without a score from the resolved model version are scored (a rerun scores nothing); the scores are
merged in one commit and the verdict updated in another, when it changes.
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
        prog="lakeforge classify",
        description="Score `documents` with the trained classifiers listed in the curate config (section "
        "`classifiers:`), adding <name>_score and <name>_model columns, and re-apply the verdict with their rules.",
        epilog="Example: lakeforge classify --set classifiers.toxicity.drop=above",
    )
    add_config_args(p)
    add_session_args(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cfg = curate_config(args)

    from curation.spark.classify import run_classify

    spark, lake, run, start_s = start_run(args, "classify", cfg)
    cfg = resolve(lake, cfg, run)
    _log(f"run {run.run_id}: " + ", ".join(f"{n} {r.model.model_id}" for n, r in cfg.classifiers.items()))
    report = run_classify(spark, lake, cfg, run)
    lines = [summary(report), f"  scored      {report.details['scored']:,} document(s)"]
    for name, d in report.details["classifiers"].items():
        op = ">=" if d["drop"] == "above" else "<"
        lines.append(
            f"  {name:<11} {d['model']}: {d['scored']:,} scored, {d['null_score']:,} null (language/empty), "
            f"{d['failing']:,} with score {op} {d['threshold']:.2f}"
        )
    return print_report(args, report, start_s, "\n".join(lines))


if __name__ == "__main__":
    sys.exit(run_main(main))
