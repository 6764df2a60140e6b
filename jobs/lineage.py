"""``lakeforge lineage CHECKPOINT``: checkpoint → mixture → shard sets → table versions and filters → WARC files.

Accepts a checkpoint folder (its metadata JSON names the mixture), a blend JSON written by ``lakeforge mix``, or a
``mixture_id``. Everything after the mixture comes from the lakehouse tables (curation.spark.lineage).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from jobs.common import Parser, add_session_args, open_lakehouse
from jobs.render import lineage_text

MIXTURE_ID = re.compile(r"^[0-9a-f]{20}$")


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge lineage",
        description="Print where a checkpoint's training data came from: its mixture, each component's shard set, "
        "the table version and SQL filter it was tokenized from, and the source files (WARC files, with document "
        "and token counts) behind every component.",
    )
    p.add_argument("target", metavar="CHECKPOINT", help="checkpoint folder, blend JSON, or a mixture_id")
    p.add_argument(
        "--files",
        type=int,
        default=10,
        help="source files listed per component, most tokens first (default 10; 0 = all)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_session_args(p)
    return p


def resolve_target(target: str) -> tuple[str, dict]:
    """(mixture_id, checkpoint metadata or {})."""
    from curation.spark.lineage import checkpoint_metadata

    if not Path(target).exists() and MIXTURE_ID.match(target):
        return target, {}
    meta = checkpoint_metadata(target)
    return meta["mixture_id"], meta


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    mixture_id, meta = resolve_target(args.target)
    from curation.spark.lineage import lineage

    spark, lake = open_lakehouse(args, "lakeforge-lineage", quick_jit=True)
    doc = lineage(spark, lake, mixture_id, args.files or None)
    if meta:
        doc = {"checkpoint": meta} | doc
    if args.format == "json":
        print(json.dumps(doc, default=str, indent=1))
    else:
        print(lineage_text(doc))
    return 0
