"""``lakeforge dedup`` / ``spark-submit jobs/dedup.py``: mark exact and near duplicates in ``documents``.

Arguments → DedupConfig (``--config`` YAML, then ``--set key=value``) → curation.spark.dedup → a new ``documents``
version (dedup columns and ``exact_duplicate`` / ``near_duplicate`` verdicts), ``minhash_signatures`` and ``stats``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make `jobs` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curation.config import load_settings  # noqa: E402
from jobs.common import Parser, add_session_args, print_report, run_main, start_run  # noqa: E402
from jobs.curate import summary  # noqa: E402
from jobs.ingest import _log  # noqa: E402


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


def dedup_config(args: argparse.Namespace):
    from curation.dedup.config import DedupConfig

    return load_settings(DedupConfig, args.config, args.set)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cfg = dedup_config(args)

    from curation.spark.dedup import run_dedup

    spark, lake, run, start_s = start_run(args, "dedup", cfg)
    _log(f"run {run.run_id}: {'full' if args.full else 'incremental'} dedup of {lake.fq('documents')} in {lake.root}")
    _log(cfg.banding.describe())
    report = run_dedup(spark, lake, cfg, run, full=args.full)
    return print_report(args, report, start_s, dedup_summary(report))


def dedup_summary(report) -> str:
    d = report.details
    lines = [summary(report).rstrip().rsplit("\n", 1)[0]]
    lines.append(f"  documents   {d.get('new', 0):,} new, {d.get('prior', 0):,} earlier survivors/unique ({d['mode']})")
    lines.append(
        f"  signatures  {d.get('signatures_computed', 0):,} computed, {d.get('reused_signatures', 0):,} reused"
    )
    lines.append(f"  lsh         {d['banding']}")
    if "candidate_pairs" in d:
        lines.append(f"  candidates  {d['candidate_pairs']:,} pairs; {d.get('edges', 0):,} edges after verification")
    lines.append(f"  components  {d.get('components_iterations', 0)} rounds")
    lines.append(
        '  next        lakeforge sql "SELECT doc_id, url, dup_of, dup_similarity FROM documents '
        'WHERE dup_of IS NOT NULL ORDER BY dup_similarity LIMIT 20"'
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_main(main))
