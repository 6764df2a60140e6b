"""The driver JVM's class-data archive (the JDK's AppCDS), written once so that every later local session starts
sooner (:func:`curation.spark.session.class_archive` says where it lives and when a session maps it).

A new JVM runs a small Delta workload (create, append, MERGE, time travel, history, SQL, Python tasks: the classes
every job loads) with ``-XX:ArchiveClassesAtExit``; the JVM writes the archive as it exits, into a temporary file
that replaces the archive only once complete, so a session starting meanwhile maps the old archive or none.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from curation.config import SparkConfig
from curation.spark.session import SessionError, build_session, class_archive

JVM_EXIT_TIMEOUT_S = 300  # writing the archive takes seconds to tens of seconds on 2 cores


def write_class_archive(cfg: SparkConfig, force: bool = False) -> dict:
    """Write :func:`class_archive` for ``cfg`` (in a new JVM, this process's first): ``{"archive", "written",
    "bytes", "seconds"}``; an archive already there is kept unless ``force``."""
    final = class_archive(cfg)
    if final is None:
        raise SessionError("no class archive for these settings: it needs a local master, java, and a cache folder")
    if final.is_file() and not force:
        return {"archive": str(final), "written": False, "bytes": final.stat().st_size, "seconds": 0.0}
    final.parent.mkdir(parents=True, exist_ok=True)
    for old in final.parent.glob(f"{final.name}.*.tmp"):  # left by a killed run
        if time.time() - old.stat().st_mtime > 3600:
            old.unlink(missing_ok=True)
    tmp = final.with_name(f"{final.name}.{os.getpid()}.tmp")
    t0 = time.perf_counter()
    spark = build_session(replace(cfg, app_name="lakeforge-warm"), dump_classes_to=tmp)
    try:
        with tempfile.TemporaryDirectory(prefix="lakeforge-warm-") as work:
            workload(spark, Path(work))
    finally:
        spark.stop()
        _end_jvm()
    if not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise SessionError(f"the JVM wrote no class archive to {tmp}: its java may not support AppCDS (JDK 13+)")
    tmp.replace(final)
    return {"archive": str(final), "written": True, "bytes": final.stat().st_size,
            "seconds": round(time.perf_counter() - t0, 1)}  # fmt: skip


def workload(spark, work: Path) -> None:
    """What a lakeforge job does to Delta and Spark, in miniature."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    path = str(work / "t")
    df = spark.range(2000).select("id", F.concat(F.lit("text "), F.col("id").cast("string")).alias("text"))
    df.write.format("delta").save(path)
    df.where("id < 100").write.format("delta").mode("append").save(path)
    changes = df.where("id % 10 = 0").withColumn("text", F.upper("text"))
    (DeltaTable.forPath(spark, path).alias("t").merge(changes.alias("c"), "t.id = c.id")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())  # fmt: skip
    spark.sql(f"CREATE TABLE warm_t USING delta LOCATION '{path}'")
    spark.sql("SELECT id % 7 AS k, count(*) AS n, max(text) AS t FROM warm_t GROUP BY 1 ORDER BY 1").collect()
    spark.read.format("delta").option("versionAsOf", 1).load(path).join(df, "id", "left_anti").count()
    spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
    spark.sql("DROP TABLE warm_t")
    df.mapInArrow(lambda batches: batches, df.schema).where("id > 5").count()  # Python tasks over Arrow
    spark.createDataFrame([(1, "a")], "x INT, y STRING").collect()


def _end_jvm() -> None:
    """End this process's JVM and wait for it: PySpark's gateway JVM exits when its stdin closes, and writes the
    archive as it exits."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway  # noqa: SLF001
    proc = getattr(gateway, "proc", None)
    if proc is None:
        return
    try:
        proc.stdin.close()
        proc.wait(timeout=JVM_EXIT_TIMEOUT_S)
    finally:
        SparkContext._gateway = SparkContext._jvm = None  # noqa: SLF001 - gone: nothing may call it
