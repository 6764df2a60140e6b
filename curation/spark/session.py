"""The one Spark session factory every job uses, and the one place Delta's Maven coordinate is made.

Local by default (``local[*]``, UI off, Delta extensions and catalog, UTC); the same code runs under
``spark-submit --master spark://…``, where the launcher has started the JVM and fetched the jars.
Start-up failures become a :class:`SessionError` with one line that says what to do.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from curation.config import LakehouseConfig, SparkConfig

IVY_SETTINGS = Path(__file__).with_name("ivysettings.xml")
QUICK_JIT = "-XX:TieredStopAtLevel=1"  # SparkConfig.quick_jit
# A missing, stale or foreign class archive: the JVM starts without it and says nothing (SparkConfig.class_archive).
CDS_QUIET = "-Xlog:cds*=off"
LOG4J_CONFIG = Path(__file__).with_name("log4j2.properties")  # SparkConfig.quiet


class SessionError(RuntimeError):
    """Spark could not start, or started without what lakeforge needs. The message says what to do."""


def delta_package() -> str:
    """Maven coordinate of the Delta jar matching the installed pyspark and delta-spark.

    The pair is pinned in pyproject.toml; this derives the coordinate from it, so the two cannot drift.
    """
    spark_version = metadata.version("pyspark")
    delta_version = metadata.version("delta-spark")
    major_minor = ".".join(spark_version.split(".")[:2])
    return f"io.delta:delta-spark_{major_minor}_2.13:{delta_version}"


def hadoop_version() -> str:
    """The Hadoop version Spark runs: the one of pyspark's bundled ``hadoop-client-api-<V>.jar``.

    Delta's Ivy resolution also pulls ``hadoop-client-*`` 3.4.2, but pyspark's own jars sit on the JVM's system
    classpath, which Spark's class loader asks first (``spark.driver.userClassPathFirst`` is false): 3.5.0 wins.

    Under spark-submit ``pyspark`` is imported from ``$SPARK_HOME/python/lib/pyspark.zip``: the jars are those of
    ``$SPARK_HOME/jars``, the Spark that launched the job."""
    import pyspark

    jars = Path(pyspark.__file__).resolve().parent / "jars"
    if not jars.is_dir() and os.environ.get("SPARK_HOME"):
        jars = Path(os.environ["SPARK_HOME"]) / "jars"
    found = sorted(jars.glob("hadoop-client-api-*.jar"))
    if not found:
        raise SessionError(f"no hadoop-client-api jar in {jars}: is pyspark installed whole?")
    return found[-1].name.removeprefix("hadoop-client-api-").removesuffix(".jar")


def hadoop_aws_package() -> str:
    """Maven coordinate of hadoop-aws (the ``s3a://`` filesystem) for the Hadoop version Spark runs; it brings the
    AWS SDK v2 bundle (about 690 MB, downloaded once into Ivy's cache)."""
    return f"org.apache.hadoop:hadoop-aws:{hadoop_version()}"


def packages(cfg: SparkConfig) -> list[str]:
    """The Maven coordinates a session needs: Delta, and hadoop-aws when ``cfg.object_store``."""
    return [delta_package()] + ([hadoop_aws_package()] if cfg.object_store else [])


def jar_list_file(cfg: SparkConfig) -> Path | None:
    """Where a local session remembers Delta's resolved jars (one path per line), keyed by the package list
    (:func:`packages`) and the Ivy settings; None when the cache is off, the master is not local, or ``conf``
    sets ``spark.jars*``."""
    local = cfg.master is not None and cfg.master.startswith("local")
    if not cfg.jar_cache or not local or any(k.startswith("spark.jars") for k in cfg.conf):
        return None
    key = hashlib.sha256("\n".join([*packages(cfg), IVY_SETTINGS.read_text()]).encode()).hexdigest()[:16]
    return Path(cfg.jar_cache).expanduser() / f"delta-jars-{key}.txt"


def cached_jars(path: Path | None) -> list[str] | None:
    """The remembered jar paths, or None when there is no list or any file on it is gone (Ivy's cache cleaned)."""
    if path is None or not path.is_file():
        return None
    jars = [line for line in path.read_text().splitlines() if line.strip()]
    return jars if jars and all(Path(j).is_file() for j in jars) else None


def remember_jars(path: Path, spark_jars: str) -> None:
    """Store the local jar files of a session's ``spark.jars`` (file URIs) when Delta's jar is among them."""
    jars = [j.removeprefix("file://").removeprefix("file:") for j in spark_jars.split(",") if j.strip()]
    jars = [j for j in jars if j.endswith(".jar") and Path(j).is_file()]
    if not any(Path(j).name.startswith("io.delta_delta-spark_") for j in jars):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text("\n".join(jars) + "\n")
        tmp.replace(path)  # atomic: a concurrent session reads the old list or the new one
    except OSError:  # a read-only home: resolve through Ivy every time
        pass


def _java() -> Path | None:
    """The ``java`` spark-submit starts: ``$JAVA_HOME/bin/java``, else the one on PATH (resolved), or None."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    return Path(found).resolve() if found and Path(found).is_file() else None


def class_archive(cfg: SparkConfig) -> Path | None:
    """Where a local session's driver JVM finds its class-data archive (the JDK's AppCDS: Spark's, Delta's and
    Hadoop's classes already parsed and verified, mapped at start), written once by ``lakeforge warm``
    (:mod:`curation.spark.class_archive`); None when ``cfg.class_archive`` or the cache folder is off, the master is
    not local (spark-submit starts that JVM) or there is no java. Keyed by the java binary (an archive only fits
    the JVM build that wrote it), pyspark's version and Delta's package, so an upgrade never meets an old archive.
    A JVM that cannot map it starts without it, silently."""
    local = cfg.master is not None and cfg.master.startswith("local")
    java = _java() if cfg.class_archive and cfg.jar_cache and local else None
    if java is None:
        return None
    st = java.stat()
    parts = [str(java), str(st.st_size), str(st.st_mtime_ns), metadata.version("pyspark"), delta_package()]
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    return Path(cfg.jar_cache).expanduser() / f"jvm-classes-{key}.jsa"


def spark_settings(cfg: SparkConfig, jars: list[str] | None = None, dump_classes_to: Path | None = None) -> dict:
    """Every ``spark.*`` setting lakeforge applies, user ``conf`` last (so it wins).

    ``jars``: Delta's jar files already resolved (:func:`cached_jars`), put on the classpath instead of asking Ivy
    for ``spark.jars.packages``. ``dump_classes_to``: the driver JVM writes the classes it loaded there as it exits
    (``lakeforge warm``), instead of mapping :func:`class_archive`."""
    local = cfg.master is None or cfg.master.startswith("local")
    cores = os.cpu_count() or 2
    shuffle = cfg.shuffle_partitions or (4 * cores if local else None)
    delta = {"spark.jars": ",".join(jars)} if jars else {
        "spark.jars.packages": ",".join(packages(cfg)),
        "spark.jars.ivySettings": str(IVY_SETTINGS),
    }  # fmt: skip
    settings = {
        "spark.app.name": cfg.app_name,
        **delta,
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": str(cfg.ui).lower(),
        "spark.ui.showConsoleProgress": "false",  # lakeforge prints its own progress
        "spark.driver.memory": cfg.driver_memory,
        "spark.pyspark.python": sys.executable,  # workers run the same interpreter (and packages)
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Delta reads its log with this many partitions; 50 is tuned for clusters and slow locally.
        "spark.databricks.delta.snapshotPartitions": str(max(2, cores)) if local else "50",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
    }
    if shuffle:
        settings["spark.sql.shuffle.partitions"] = str(shuffle)
    java = ([f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}"] if cfg.quiet else []) + (
        [QUICK_JIT] if cfg.quick_jit else []
    )
    archive = class_archive(cfg)
    if dump_classes_to is not None:
        java += [f"-XX:ArchiveClassesAtExit={dump_classes_to}", CDS_QUIET]
    elif archive is not None and archive.is_file():
        java += [f"-XX:SharedArchiveFile={archive}", CDS_QUIET]
    if java:
        settings["spark.driver.defaultJavaOptions"] = " ".join(java)  # extraJavaOptions stays the user's
    if cfg.master:
        settings["spark.master"] = cfg.master
    for key, value in cfg.conf.items():
        if key == "spark.jars.packages":  # keep Delta, add the user's
            value = f"{settings[key]},{value}"
        settings[key] = str(value)
    return settings


@contextmanager
def _jvm_stdout_to_stderr():
    """While the JVM is spawned, point fd 1 at fd 2: the JVM inherits it, so Ivy's and log4j's chatter
    goes to stderr for the session's life and stdout stays clean for results (``--format json | jq``)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (embedded interpreters): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _java_missing() -> bool:
    return shutil.which("java") is None


def build_session(cfg: SparkConfig, dump_classes_to: Path | None = None):
    """Create (or reuse) the SparkSession with Delta. Raises SessionError with a one-line fix.

    ``dump_classes_to``: only for a new JVM, which writes its class-data archive there as it exits
    (:mod:`curation.spark.class_archive`)."""
    from pyspark import SparkContext

    remembered = jar_list_file(cfg)
    fresh_jvm = SparkContext._jvm is None  # noqa: SLF001 - settings like spark.jars only apply to a new JVM
    if dump_classes_to is not None and not fresh_jvm:
        raise SessionError("a class archive is written by a new JVM: this process has started one already")
    with _resolving_alone(remembered if fresh_jvm and cached_jars(remembered) is None else None):
        return _start(cfg, remembered, fresh_jvm, dump_classes_to)


@contextmanager
def _resolving_alone(remembered: Path | None):
    """Hold an exclusive file lock beside the jar list while a new JVM resolves Delta's jars through Ivy: jobs (or
    test workers) started together on a fresh machine would otherwise write Ivy's cache at the same time. The
    second one waits, then finds the jar list the first one wrote."""
    if remembered is None:
        yield
        return
    remembered.parent.mkdir(parents=True, exist_ok=True)
    with open(remembered.with_name(remembered.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _start(cfg: SparkConfig, remembered: Path | None, fresh_jvm: bool, dump_classes_to: Path | None = None):
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    jars = cached_jars(remembered)  # read under the lock: another job may have just resolved them
    builder = SparkSession.builder
    for key, value in spark_settings(cfg, jars, dump_classes_to).items():
        builder = builder.config(key, value)
    try:
        with _jvm_stdout_to_stderr():
            spark = builder.getOrCreate()
    except PySparkRuntimeError as e:
        if "JAVA_GATEWAY_EXITED" not in str(e):
            raise
        if _java_missing():
            raise SessionError(
                "Java was not found on PATH: install a JDK 17 (e.g. apt-get install openjdk-17-jdk-headless) "
                "and make `java -version` work, then run again."
            ) from None
        raise SessionError(
            f"Spark did not start; most likely Delta's jar {delta_package()} could not be resolved from "
            "Maven Central (see the Ivy messages above): allow access to https://repo1.maven.org, or put "
            "the jar in spark.jars / a local Ivy cache and set spark.jars.ivySettings."
        ) from None
    try:
        check_delta(spark)
    except SessionError:
        if jars and remembered is not None:
            remembered.unlink(missing_ok=True)
            raise SessionError(
                f"Delta was not on the classpath from the remembered jar list {remembered}: it has been removed; "
                "run again (Spark resolves the jars through Ivy and remembers them anew)."
            ) from None
        raise
    if remembered is not None and jars is None and fresh_jvm:
        remember_jars(remembered, spark.sparkContext.getConf().get("spark.jars", ""))
    return spark


def check_delta(spark) -> None:
    """Fail clearly when the session lacks Delta (e.g. spark-submit without ``--packages``)."""
    jvm = spark._jvm  # noqa: SLF001
    try:
        # --packages jars live in Spark's own class loader, not the system one py4j uses by default
        loader = jvm.org.apache.spark.util.Utils.getContextOrSparkClassLoader()
        jvm.java.lang.Class.forName("io.delta.tables.DeltaTable", False, loader)
    except Exception:  # noqa: BLE001 - py4j wraps ClassNotFoundException
        raise SessionError(
            f"Delta Lake is not on Spark's classpath: pass `--packages {delta_package()}` to spark-submit "
            "(`lakeforge info --delta-package` prints it)."
        ) from None
    ext = spark.conf.get("spark.sql.extensions", "") or ""
    if "DeltaSparkSessionExtension" not in ext:
        raise SessionError(
            "the Spark session was created without Delta's SQL extension: create it through "
            "curation.spark.session.build_session (or pass --conf spark.sql.extensions=io.delta.sql."
            "DeltaSparkSessionExtension to spark-submit)."
        )


def lakehouse_session(spark_cfg: SparkConfig, lake_cfg: LakehouseConfig):
    """A session with the lakehouse attached: ``(spark, Lakehouse)``."""
    from curation.spark.lakehouse import Lakehouse

    spark = build_session(spark_cfg)
    return spark, Lakehouse(spark, lake_cfg).attach()
