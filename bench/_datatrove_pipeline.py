"""The datatrove side of bench/curate.py: a FineWeb-like pipeline, run by the peer venv's interpreter.

    bench/.venv-datatrove/bin/python -m bench._datatrove_pipeline --input DIR --output DIR --logging DIR \
        --tasks F --workers 2 --timeout 1.0 --lid-model /path/lid.176.ftz

WarcReader → URLFilter → Trafilatura(favour_precision) → LanguageFilter → GopherRepetitionFilter →
GopherQualityFilter → C4QualityFilter → FineWebQualityFilter → JsonlWriter, on a LocalPipelineExecutor.
Filter settings are datatrove's defaults as FineWeb uses them (C4 without the terminal-punctuation line rule).
Runs offline: the language model is a local file (datatrove copies it once into its asset cache, which the
bench points at bench/out via HF_HOME) and tldextract uses its bundled suffix list instead of fetching one.

Prints one JSON line on stdout: {"run_seconds": executor.run() wall time, "import_seconds": ...}. Per-stage
counts and times are in <logging>/stats.json, which the bench reads.

This file imports datatrove, so it runs only under bench/.venv-datatrove (bench/_peer.py creates it), from the
repository root.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

t_import = time.perf_counter()
from datatrove.executor.local import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.extractors import Trafilatura  # noqa: E402
from datatrove.pipeline.filters import (  # noqa: E402
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
    LanguageFilter,
    URLFilter,
)
from datatrove.pipeline.readers import WarcReader  # noqa: E402
from datatrove.pipeline.writers.jsonl import JsonlWriter  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - t_import


def build_pipeline(args: argparse.Namespace) -> list:
    from tldextract import TLDExtract

    url_filter = URLFilter()
    # URLFilter builds TLDExtract() with its default suffix-list URLs; with no network that fetch can stall.
    # An empty URL tuple makes tldextract use the snapshot bundled in its wheel (the fallback it would reach
    # anyway after the fetch failed).
    url_filter.tldextractor = TLDExtract(suffix_list_urls=())

    lang_filter = LanguageFilter(languages=args.languages or None)
    # An instance attribute (survives pickling to the workers): datatrove "downloads" the local file once into
    # its asset cache instead of fetching lid.176.bin from dl.fbaipublicfiles.com.
    lang_filter.model.MODEL_URL = args.lid_model

    return [
        WarcReader(args.input, glob_pattern=args.glob, default_metadata={"source": "bench"}),
        url_filter,
        Trafilatura(favour_precision=True, timeout=args.timeout),
        lang_filter,
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        JsonlWriter(args.output),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, help="folder of WARC files")
    p.add_argument("--glob", default="*.warc.gz")
    p.add_argument("--output", required=True, help="folder for the kept documents (JSONL)")
    p.add_argument("--logging", required=True, help="datatrove logging folder (stats.json lands here)")
    p.add_argument("--tasks", type=int, required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=1.0, help="trafilatura timeout per document, seconds")
    p.add_argument("--lid-model", required=True, help="local lid.176 fastText model (.bin or .ftz)")
    p.add_argument("--languages", nargs="*", default=None, help="languages kept (default: all above 0.65)")
    args = p.parse_args(argv)

    executor = LocalPipelineExecutor(
        pipeline=build_pipeline(args),
        tasks=args.tasks,
        workers=args.workers,
        logging_dir=args.logging,
        skip_completed=False,
    )
    t0 = time.perf_counter()
    executor.run()
    run_seconds = time.perf_counter() - t0
    print(json.dumps({"run_seconds": run_seconds, "import_seconds": IMPORT_SECONDS}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
