"""The ``lakeforge`` command: one subcommand per job; ``lakeforge SUBCOMMAND --help`` for each."""

from __future__ import annotations

import sys
from difflib import get_close_matches
from importlib import import_module

# subcommand → (module, main function, parser function, one-line help)
COMMANDS = {
    "run": (
        "jobs.pipeline",
        "main",
        "parser",
        "pipeline.yaml → the whole chain, WARC to checkpoint, skipping what exists",
    ),
    "ingest": ("jobs.ingest", "main", "parser", "WARC files (paths, globs, warc.paths, URLs) → the pages table"),
    "curate": (
        "jobs.curate",
        "main",
        "parser",
        "WARC files → the documents table: text, language, signals, drop_reason",
    ),
    "extract": ("jobs.curate", "extract_main", "extract_parser", "the curate stages over a pages table version"),
    "import-text": ("jobs.import_text", "main", "parser", "JSON Lines or text files → the documents table"),
    "filter": ("jobs.filter", "main", "parser", "re-apply thresholds to stored signals as a new documents version"),
    "train-classifier": (
        "jobs.train_classifier",
        "main",
        "parser",
        "labelled file or SQL → a fastText classifier, its metrics, a new version in models",
    ),
    "classify": ("jobs.classify", "main", "parser", "score documents with the curate config's classifiers"),
    "dedup": ("jobs.dedup", "main", "parser", "mark exact and near duplicates as a new documents version"),
    "tokenize": ("jobs.tokenize_shards", "main", "parser", "a table version → Megatron .bin/.idx token shards"),
    "mix": ("jobs.mix", "main", "parser", "pin a mixture.yaml of shard sets and weights into a blend for training"),
    "train": ("jobs.train", "main", "parser", "torchrun Megatron-Core GPT training on a pinned blend (TP, PP, DP)"),
    "lineage": ("jobs.lineage", "main", "parser", "checkpoint or mixture → shard sets → table versions → WARC files"),
    "stats": ("jobs.stats", "main", "parser", "the funnel of a curate/extract/filter run"),
    "report": ("jobs.report", "main", "parser", "a self-contained HTML report with figures: funnel to training"),
    "sql": ("jobs.sql", "main", "parser", "run SQL on the lakehouse (time travel, history); read-only by default"),
    "tables": ("jobs.tables", "tables_main", "tables_parser", "list tables with their latest version and rows"),
    "history": ("jobs.tables", "history_main", "history_parser", "a table's versions and the runs that made them"),
    "unlock": ("jobs.unlock", "main", "parser", "show or clear the writer lease of a lakehouse in object storage"),
    "cluster": ("jobs.cluster", "main", "parser", "start/stop/status a local Spark standalone master and N workers"),
    "pack": ("jobs.pack", "main", "parser", "the packed executor environment (lakeforge-env.tar.gz) for --archives"),
    "warm": ("jobs.warm", "main", "parser", "the driver JVM's class-data archive: later local commands start sooner"),
    "info": ("jobs.info", "main", "parser", "versions, the Delta package coordinate, spark-submit hints"),
}


def usage() -> str:
    lines = ["usage: lakeforge SUBCOMMAND [options]   (lakeforge SUBCOMMAND --help for each)", "", "subcommands:"]
    lines += [f"  {name:<11} {spec[3]}" for name, spec in COMMANDS.items()]
    lines += ["", "Common options: --lakehouse DIR (default ./lakehouse), --master URL (default local[*]), --conf k=v"]
    lines += ["Errors print one line; lakeforge --debug SUBCOMMAND … (or --debug among its options) adds a traceback."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = False
    while argv and argv[0] == "--debug":
        debug, argv = True, argv[1:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        close = get_close_matches(name, COMMANDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        print(f"lakeforge: error: unknown subcommand {name!r} ({hint}lakeforge --help lists them)", file=sys.stderr)
        return 2
    module, fn, _, _ = COMMANDS[name]
    from jobs.common import run_main

    return run_main(getattr(import_module(module), fn), rest, debug=debug)


if __name__ == "__main__":
    sys.exit(main())
