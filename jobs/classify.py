"""``lakeforge classify``: score ``documents`` with the classifiers of the curate config (the versions it pins, or
the latest registered), then apply the verdict with their rules.

Only documents without a score from the resolved model version are scored (a rerun scores nothing); the scores are
merged in one commit and the verdict updated in another, when it changes.
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
from jobs.render import classify_summary


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
    from curation.spark.classify import run_classify

    args = parser().parse_args(argv)
    cfg = curate_config(args)
    spark, lake, run, start_s = start_run(args, "classify", cfg)
    cfg = resolve_classifiers(lake, cfg, run)
    log(f"run {run.run_id}: " + ", ".join(f"{n} {r.model.model_id}" for n, r in cfg.classifiers.items()))
    report = run_classify(spark, lake, cfg, run)
    return print_report(args, report, start_s, classify_summary(report))
