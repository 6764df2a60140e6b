"""``lakeforge tokenize`` / ``spark-submit jobs/tokenize_shards.py``: a table version → Megatron shards.

(Not ``jobs/tokenize.py``: spark-submit puts ``jobs/`` first on the import path, where that name would replace the
standard library's ``tokenize`` module for every job.)

Arguments → TokenizeConfig (``--config`` YAML, ``--set``, ``--tokenizer``) → curation.spark.tokenize_shards → a shard
set under ``<lakehouse>/tokens/<name>/<shard_set_id>``, its ``token_shards`` row and its ``token_documents`` rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make `jobs` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curation.config import load_settings  # noqa: E402
from jobs.common import add_session_args, print_report, run_main, start_run  # noqa: E402
from jobs.ingest import _log  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakeforge tokenize",
        description="Tokenize the kept rows of a table version (optionally filtered by SQL) on the executors into "
        "Megatron-Core IndexedDataset shards (.bin/.idx), one end-of-document token after each document. The same "
        "table version, filter, tokenizer files and settings give byte-identical shards: a rerun is a no-op.",
    )
    p.add_argument("--name", required=True, help="shard set name, what mixtures refer to (e.g. web_en)")
    p.add_argument("--table", default="documents", help="source table (default: documents)")
    p.add_argument("--version", type=int, default=None, help="source table version (default: the latest)")
    p.add_argument("--where", default=None, metavar="SQL", help="SQL condition on the table's columns")
    p.add_argument(
        "--tokenizer",
        default=None,
        metavar="PATH",
        help="tokenizer.json, or a folder with it or with GPT-2 vocab.json + merges.txt (same as --set tokenizer=PATH)",
    )
    g = p.add_argument_group("settings")
    g.add_argument("--config", default=None, metavar="YAML", help="tokenize settings (see conf/tokenize.yaml)")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, value as YAML; repeatable (e.g. --set num_shards=8)",
    )
    g.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    add_session_args(p)
    return p


def tokenize_config(args: argparse.Namespace):
    from curation.tokenize.config import TokenizeConfig

    assignments = list(args.set) + ([f"tokenizer={args.tokenizer}"] if args.tokenizer else [])
    return load_settings(TokenizeConfig, args.config, assignments)


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cfg = tokenize_config(args)
    from curation.spark.tokenize_shards import run_tokenize

    spark, lake, run, start_s = start_run(args, "tokenize", cfg, inputs=[lake_input(args)])
    _log(
        f"run {run.run_id}: {args.table}{'' if args.version is None else f' v{args.version}'} → shard set {args.name!r}"
    )
    report = run_tokenize(spark, lake, cfg, run, args.name, args.table, args.version, args.where)
    return print_report(args, report, start_s, tokenize_summary(report))


def lake_input(args) -> str:
    return f"{args.table}@{'latest' if args.version is None else args.version}"


def tokenize_summary(r) -> str:
    state = "already there (same inputs, same bytes): nothing written" if r.noop else f"written in {r.seconds:.1f} s"
    lines = [
        f"shard set {r.name}/{r.shard_set_id}: {state}",
        f"  source      {r.source} v{r.source_version}",
        f"  documents   {r.records_in:,} in = {r.documents:,} written + {r.rejected:,} rejected (empty text) "
        f"+ {r.errored:,} errored",
        f"  tokens      {r.tokens:,} ({r.dtype}, {r.bytes / 1e6:,.1f} MB in {len(r.prefixes)} shards)",
        f"  content     sha256 {r.content_hash}",
        f"  path        {r.path}",
    ]
    if not r.noop and r.seconds:
        lines.append(f"  speed       {r.tokens / r.seconds:,.0f} tokens/s end to end")
    lines.append(f"  next        lakeforge sql \"SELECT * FROM token_shards WHERE name = '{r.name}'\"")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_main(main))
