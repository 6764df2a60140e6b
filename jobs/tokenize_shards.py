"""``lakeforge tokenize``: a table version → Megatron shards.

(Not ``jobs/tokenize.py``: ``spark-submit jobs/submit.py`` puts ``jobs/`` first on the import path, where that name
would replace the standard library's ``tokenize`` module for every job.)

Arguments → TokenizeConfig (``--config`` YAML, ``--set``, ``--tokenizer``) → curation.spark.tokenize_shards → a shard
set under ``<lakehouse>/tokens/<name>/<shard_set_id>``, its ``token_shards`` row and its ``token_documents`` rows.
"""

from __future__ import annotations

import argparse

from jobs.common import Parser, add_session_args, log, print_report, start_run
from jobs.render import tokenize_summary


def parser() -> argparse.ArgumentParser:
    p = Parser(
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


def main(argv=None) -> int:
    from curation.config import load_settings
    from curation.spark.tokenize_shards import run_tokenize
    from curation.tokenize.config import TokenizeConfig

    args = parser().parse_args(argv)
    assignments = list(args.set) + ([f"tokenizer={args.tokenizer}"] if args.tokenizer else [])
    cfg = load_settings(TokenizeConfig, args.config, assignments)
    source = f"{args.table}@{'latest' if args.version is None else args.version}"
    spark, lake, run, start_s = start_run(args, "tokenize", cfg, inputs=[source])
    log(f"run {run.run_id}: {source} → shard set {args.name!r}")
    report = run_tokenize(spark, lake, cfg, run, args.name, args.table, args.version, args.where)
    return print_report(args, report, start_s, tokenize_summary(report))
