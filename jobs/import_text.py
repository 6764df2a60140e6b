"""``lakeforge import-text``: JSON Lines or plain text files → ``documents`` (for corpora that never were WARCs).

Arguments → TextImportConfig → curation.spark.text_import → ``documents`` rows (lineage: the file and the record
id), bad lines to ``ingest_errors``, the funnel to ``stats``.
"""

from __future__ import annotations

import argparse

from jobs.common import Parser, add_session_args, log, paths_arg, print_report, start_run
from jobs.render import curate_summary


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge import-text",
        description="Load JSON Lines (one document per line) or plain text files (one document per file) into "
        "`documents`, with lineage to the file and record id. Importing the same file again adds nothing.",
    )
    paths_arg(p, "--input", "-i", required=True, metavar="FILE", help="several after one flag, or the flag repeated")
    p.add_argument("--id-field", default="id", help="JSON field with the record id (default: id)")
    p.add_argument("--text-field", default="text", help="JSON field with the text (default: text)")
    p.add_argument("--url-field", default="url", help="JSON field with a URL, if any (default: url)")
    p.add_argument(
        "--split",
        default=None,
        metavar="REGEX",
        help="text files: cut each file into documents at this Java regex, or a preset: paragraphs (blank lines), "
        "wikitext (before each ' = Title = ' line); default: one document per file",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from curation.spark.text_import import TextImportConfig, run_import_text

    cfg = TextImportConfig(args.id_field, args.text_field, args.url_field or None, args.split)
    spark, lake, run, start_s = start_run(args, "import", cfg, inputs=list(args.input))
    log(f"run {run.run_id}: {len(args.input)} file(s) → {lake.fq('documents')} in {lake.root}")
    report = run_import_text(spark, lake, args.input, cfg, run)
    return print_report(args, report, start_s, curate_summary(report))
