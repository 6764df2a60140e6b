"""``spark-submit [options] jobs/submit.py SUBCOMMAND [its options]``: any ``lakeforge`` subcommand under
spark-submit, e.g. ``spark-submit --master spark://HOST:7077 --packages "$(lakeforge info --delta-package)"
jobs/submit.py ingest --input warc.paths.gz --lakehouse /shared/lakehouse``.

spark-submit runs this file as a script; it imports the ``jobs`` package like any other module, so the package has
to be installed where the driver's Python looks, and no job edits ``sys.path``:

- one machine, or nodes that share a virtualenv: ``pip install`` lakeforge into it (``pip install -e .`` in a
  checkout) and point ``spark.pyspark.python`` at its Python;
- otherwise ship it with the job: ``pip wheel --no-deps -w dist .`` and ``spark-submit --py-files
  dist/lakeforge-<version>-py3-none-any.whl jobs/submit.py …`` (a zip of ``curation jobs schemas training`` works
  too); spark-submit puts it on the path of the driver and of every executor. Its dependencies (pyarrow,
  fastwarc, trafilatura, fastText, …) must be installed on the nodes, or shipped as a packed environment
  (``--archives env.tar.gz#env --conf spark.pyspark.python=./env/bin/python``).

``lakeforge info`` prints the exact command for this machine.
"""

import sys

from jobs.cli import main

if __name__ == "__main__":
    sys.exit(main())
