"""``spark-submit [options] jobs/submit.py SUBCOMMAND [its options]``: any ``lakeforge`` subcommand under
spark-submit, e.g. ``spark-submit --master spark://HOST:7077 --packages "$(lakeforge info --delta-package)"
jobs/submit.py ingest --input warc.paths.gz --lakehouse /shared/lakehouse``.

spark-submit runs this file as a script on the driver; it imports the ``jobs`` package like any other module, so
lakeforge has to be installed where the driver's Python looks, and no job edits ``sys.path``. Executors get lakeforge
and what it imports from the packed environment (``lakeforge pack``), never from the driver's venv path::

    spark-submit --master spark://HOST:7077 --packages "$(lakeforge info --delta-package)" \
        --archives dist/lakeforge-env.tar.gz#env --conf spark.pyspark.python=./env/bin/python \
        --conf spark.pyspark.driver.python=$PWD/.venv/bin/python \
        jobs/submit.py run conf/pipeline.yaml --lakehouse /shared/lakehouse

(docs/cluster.md: YARN, Kubernetes, what reaches the executors and how.)
``lakeforge info`` prints the exact command for this machine.
"""

import sys

from jobs.cli import main

if __name__ == "__main__":
    sys.exit(main())
