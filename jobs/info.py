"""``lakeforge info``: versions, the Delta package coordinate, and how to submit to a cluster."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from jobs.common import Parser


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="lakeforge info", description=__doc__.splitlines()[0])
    p.add_argument("--delta-package", action="store_true", help="print only the Delta Maven coordinate")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from curation.provenance import code_version
    from curation.spark.session import delta_package, hadoop_aws_package

    if args.delta_package:
        print(delta_package())
        return 0
    jobs = Path(__file__).resolve().parent
    print(f"lakeforge     {metadata.version('lakeforge')} ({code_version()})")
    for pkg in ("pyspark", "delta-spark", "fastwarc", "warcio", "pyarrow"):
        print(f"{pkg:<13} {metadata.version(pkg)}")
    print(f"python        {sys.executable}")
    print(f"delta package {delta_package()}")
    print(f"s3a package   {hadoop_aws_package()} (a lakehouse in object storage; docs/cluster.md)")
    print("\nOn a Spark cluster (lakeforge installed in the same venv path on every node; otherwise add")
    print("--py-files with a wheel of it, see jobs/submit.py), any subcommand through the one launcher:")
    print(f"  spark-submit --master spark://HOST:7077 --packages {delta_package()} \\")
    print(f"    --conf spark.pyspark.python={sys.executable} \\")
    print(f"    {jobs / 'submit.py'} ingest --input 'warc.paths.gz' --lakehouse /shared/lakehouse")
    return 0
