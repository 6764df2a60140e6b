"""``lakeforge dedup``: mark exact and near duplicates in ``documents``.

Arguments → DedupConfig (``--config`` YAML, then ``--set key=value``) → curation.spark.dedup → a new ``documents``
version (dedup columns and ``exact_duplicate`` / ``near_duplicate`` verdicts), ``minhash_signatures`` and ``stats``.
"""

from __future__ import annotations

import argparse

from jobs.common import Parser, add_session_args, log, print_report, start_run
from jobs.render import dedup_summary


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge dedup",
        description="Find exact duplicates (same normalized text) and near duplicates (MinHash LSH over word "
        "5-gram shingles, verified by true Jaccard) among the kept documents, pick one survivor per cluster, and "
        "write dup_cluster_id / dup_of / dup_similarity / dup_exact and the drop reasons exact_duplicate / "
        "near_duplicate as a new `documents` version. Incremental by default: only documents no earlier run "
        "deduplicated are new, compared with the earlier survivors through their stored signatures.",
    )
    g = p.add_argument_group("settings")
    g.add_argument("--config", default=None, metavar="YAML", help="dedup settings (see conf/dedup.yaml)")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, value as YAML; repeatable (e.g. --set threshold=0.85 --set num_perm=256)",
    )
    g.add_argument(
        "--full",
        action="store_true",
        help="deduplicate every kept document again (e.g. after a new threshold); stored signatures are reused",
    )
    g.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    from curation.config import load_settings
    from curation.dedup.config import DedupConfig
    from curation.spark.dedup import run_dedup

    args = parser().parse_args(argv)
    cfg = load_settings(DedupConfig, args.config, args.set)
    spark, lake, run, start_s = start_run(args, "dedup", cfg)
    log(f"run {run.run_id}: {'full' if args.full else 'incremental'} dedup of {lake.fq('documents')} in {lake.root}")
    log(cfg.banding.describe())
    report = run_dedup(spark, lake, cfg, run, full=args.full)
    return print_report(args, report, start_s, dedup_summary(report))
