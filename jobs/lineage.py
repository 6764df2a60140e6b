"""``lakeforge lineage CHECKPOINT``: checkpoint → mixture → shard sets → table versions and filters → WARC files.

Accepts a checkpoint folder (its metadata JSON names the mixture), a blend JSON written by ``lakeforge mix``, or a
``mixture_id``. Everything after the mixture comes from the lakehouse tables (curation.spark.lineage).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make `jobs` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.common import Parser, add_session_args, open_lakehouse, run_main  # noqa: E402

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
    import json

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


def lineage_text(doc: dict) -> str:
    lines = []
    ck = doc.get("checkpoint")
    if ck:
        it = f"iteration {ck['iteration']}" if "iteration" in ck else "checkpoint"
        lines.append(f"checkpoint {Path(ck['metadata_file']).parent}  ({it})")
    m = doc["mixture"]
    lines.append(f"└─ mixture {m['name']}/{m['mixture_id']}  pinned by {m['run_id']} at {m['created_at']}")
    lines.append(f"   blend {m['path']}  (seq_length {m['seq_length']}, split {m['split']})")
    for i, c in enumerate(doc["components"]):
        last = i == len(doc["components"]) - 1
        branch, cont = ("└─", "   ") if last else ("├─", "│  ")
        s, src = c["shard_set"], c["source"]
        lines.append(
            f"   {branch} {c['name']}  weight {c['weight']:.3f} → shard set {s['name']}/{s['shard_set_id']}  "
            f"({s['documents']:,} documents, {s['tokens']:,} tokens, content {s['content_hash'][:12]})"
        )
        where = f" where {src['filter']}" if src["filter"] else ""
        kept = " (kept rows)" if src["kept_only"] else ""
        lines.append(f"   {cont}   ← table {src['table']} v{src['version']}{where}{kept}")
        lines.append(
            f"   {cont}   ← {c['files_total']:,} source file(s), {c['documents_traced']:,} documents traced"
            + (f"; top {len(c['files'])} by tokens:" if c["files"] else "")
        )
        for f in c["files"]:
            lines.append(f"   {cont}       {f['source_file']}  ({f['documents']:,} docs, {f['tokens']:,} tokens)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_main(main))
