"""``lakeforge warm``: write the driver JVM's class-data archive once, so every later local command starts sooner.

A new JVM runs a small Delta workload and, as it exits, writes the classes it loaded (Spark's, Delta's, Hadoop's)
into an archive in the jar cache folder (~/.cache/lakeforge, about 200 MB); local sessions map it at start. One
archive per java build and Spark/Delta version: after an upgrade, run it again. ``make`` runs it on install.
"""

from __future__ import annotations

import json

from jobs.common import Parser


def parser() -> Parser:
    p = Parser(prog="lakeforge warm", description=__doc__.split("\n\n")[0])
    p.add_argument("--force", action="store_true", help="write the archive again even when there is one")
    p.add_argument("--cache", default=None, metavar="DIR", help="the jar cache folder (default ~/.cache/lakeforge)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    return p


def main(argv=None) -> int:
    from dataclasses import replace

    from curation.config import SparkConfig
    from curation.spark.class_archive import write_class_archive
    from curation.spark.session import SessionError
    from jobs.common import JobError, prepare_environment

    args = parser().parse_args(argv)
    prepare_environment()
    cfg = SparkConfig(master="local[2]")
    if args.cache:
        cfg = replace(cfg, jar_cache=args.cache)
    try:
        out = write_class_archive(cfg, force=args.force)
    except SessionError as e:
        raise JobError(str(e)) from None
    if args.format == "json":
        print(json.dumps(out))
    else:
        what = f"written in {out['seconds']} s" if out["written"] else "already there (--force writes it again)"
        print(f"class archive {out['archive']} ({out['bytes'] / 2**20:,.0f} MiB): {what}")
    return 0
