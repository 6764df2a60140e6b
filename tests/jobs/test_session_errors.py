"""Start-up failures are one actionable line, not a Java stack trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def lakeforge(args, env, cwd):
    return subprocess.run(
        [str(BIN / "lakeforge"), *args], capture_output=True, text=True, env=env or dict(os.environ), cwd=cwd,
        timeout=300,
    )  # fmt: skip


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("lakeforge: error:")]


# The JVM prints this itself, at start-up, for the --add-modules=jdk.incubator.vector that Spark's launcher always
# adds (org.apache.spark.launcher.JavaModuleOptions); no JVM option turns it off.
JVM_BANNER = "WARNING: Using incubator modules: jdk.incubator.vector"


def stderr_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line != JVM_BANNER]


def test_read_only_sql_refuses_java_methods_before_spark_starts(tmp_path):
    out = lakeforge(["sql", "SELECT reflect('java.lang.System', 'exit', 1)"], None, tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.splitlines() == [
        "lakeforge: error: refusing reflect(): lakeforge sql only reads unless --write is given"
    ]
    assert not (tmp_path / "lakehouse").exists()  # no session was started


def test_a_sql_mistake_prints_sparks_message_once(tmp_path):
    # PySpark logs every analysis error as a ~6 KB JSON line on stderr (its SQLQueryContextLogger): not here.
    out = lakeforge(["sql", "SELECT nonexistent_col FROM range(3)"], None, tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    [line] = stderr_lines(out.stderr)
    assert line.startswith(
        "lakeforge: error: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name "
        "`nonexistent_col` cannot be resolved."
    ), out.stderr[-2000:]


def test_missing_java(tmp_path):
    # A PATH with every usual tool except java (and no JAVA_HOME).
    tools = tmp_path / "bin"
    tools.mkdir()
    for d in ("/usr/local/bin", "/usr/bin", "/bin"):
        for f in Path(d).iterdir() if Path(d).is_dir() else []:
            if f.name != "java" and not (tools / f.name).exists():
                (tools / f.name).symlink_to(f)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = f"{BIN}:{tools}"
    out = lakeforge(["sql", "SELECT 1"], env, tmp_path)
    assert out.returncode == 2
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and "Java was not found" in lines[0], out.stderr[-2000:]


def test_delta_jar_cannot_be_resolved(tmp_path):
    # An Ivy setup that can only look in an empty local folder: the jar cannot be found.
    settings = tmp_path / "ivysettings.xml"
    settings.write_text(
        '<ivysettings><settings defaultResolver="nowhere"/><resolvers>'
        f'<filesystem name="nowhere"><artifact pattern="{tmp_path}/repo/[artifact].[ext]"/></filesystem>'
        "</resolvers></ivysettings>"
    )
    args = [
        "sql",
        "SELECT 1",
        "--conf",
        f"spark.jars.ivySettings={settings}",
        "--conf",
        f"spark.jars.ivy={tmp_path / 'ivy'}",
    ]
    out = lakeforge(args, dict(os.environ), tmp_path)
    assert out.returncode == 2
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and "could not be resolved" in lines[0] and "io.delta:delta-spark_" in lines[0]


def test_resolved_jars_are_remembered_and_a_bad_list_is_dropped(tmp_path):
    from curation.config import SparkConfig
    from curation.spark.session import QUICK_JIT, cached_jars, jar_list_file

    # After the first session on this machine the jar list exists, and the next one starts without asking Ivy (one
    # session when an earlier test has made the list already). `lakeforge sql` starts its JVM with the quick JIT.
    remembered = jar_list_file(SparkConfig())
    for _ in range(1 if cached_jars(remembered) else 2):
        out = lakeforge(["sql", "--write", "--format", "json", "SET spark.driver.defaultJavaOptions"], None, tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        [row] = json.loads(out.stdout)
        assert QUICK_JIT in row["value"].split() and "-Dlog4j2.configurationFile=" in row["value"]
        # Quiet: none of the start-up notices Spark's default log4j profile prints for every command.
        assert "log4j profile" not in out.stderr and "NativeCodeLoader" not in out.stderr, out.stderr[-2000:]
    jars = cached_jars(remembered)
    assert jars and any(Path(j).name.startswith("io.delta_delta-spark_") for j in jars)
    assert "found io.delta#delta-spark" not in out.stderr and ":: resolving dependencies" not in out.stderr
    # Only local masters and sessions without the user's own spark.jars* settings use it.
    assert jar_list_file(SparkConfig(master="spark://h:7077")) is None
    assert jar_list_file(SparkConfig(conf={"spark.jars.packages": "a:b:1"})) is None
    assert jar_list_file(SparkConfig(jar_cache=None)) is None

    # A list naming a file that is gone is ignored; one without Delta's jar is removed with a one-line error.
    home = tmp_path / "home"
    bogus = jar_list_file(SparkConfig(jar_cache=str(home / ".cache" / "lakeforge")))
    bogus.parent.mkdir(parents=True)
    bogus.write_text(f"{jars[0]}\n{tmp_path / 'gone.jar'}\n")
    assert cached_jars(bogus) is None
    not_delta = [j for j in jars if not Path(j).name.startswith("io.delta_")]
    bogus.write_text("\n".join(not_delta) + "\n")
    out = lakeforge(["sql", "SELECT 1"], dict(os.environ, HOME=str(home)), tmp_path)
    assert out.returncode == 2
    lines = error_lines(out.stderr)
    assert len(lines) == 1 and "remembered jar list" in lines[0] and "run again" in lines[0], out.stderr[-2000:]
    assert not bogus.exists()


def test_short_queries_start_with_the_quick_jit_and_jobs_with_the_full_one():
    from curation.config import SparkConfig
    from curation.spark.session import LOG4J_CONFIG, QUICK_JIT, spark_settings
    from jobs import curate, sql
    from jobs.common import spark_config

    def settings(mod, argv, quick_default):
        return spark_settings(spark_config(mod.parser().parse_args(argv), "t", quick_default))

    key = "spark.driver.defaultJavaOptions"
    assert QUICK_JIT in settings(sql, ["SELECT 1"], True)[key].split()
    assert QUICK_JIT not in settings(sql, ["--jit", "full", "SELECT 1"], True)[key]
    assert QUICK_JIT not in settings(curate, ["--input", "x.warc.gz"], False)[key]
    assert QUICK_JIT in settings(curate, ["--jit", "quick", "--input", "x.warc.gz"], False)[key].split()
    # Every session lakeforge starts logs with its own quiet log4j set-up, unless asked not to.
    assert f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}" in settings(curate, ["--input", "x"], False)[key]
    assert LOG4J_CONFIG.is_file() and "rootLogger.level = warn" in LOG4J_CONFIG.read_text()
    assert key not in spark_settings(SparkConfig(quiet=False, class_archive=False))
    # The user's own setting wins, and extraJavaOptions is never touched.
    mine = settings(sql, ["--conf", f"{key}=-Xss4m", "SELECT 1"], True)
    assert mine[key] == "-Xss4m" and "spark.driver.extraJavaOptions" not in mine


def test_a_local_session_maps_the_class_archive_when_there_is_one(tmp_path):
    """The option is given only when the archive exists (``lakeforge warm`` wrote it; tests/jobs/test_warm.py shows
    the JVM mapping it); a non-local master, or the setting off, never gets it."""
    from curation.config import SparkConfig
    from curation.spark.session import class_archive, spark_settings

    cfg = SparkConfig(master="local[2]", jar_cache=str(tmp_path), quiet=False)
    archive = class_archive(cfg)
    assert archive is not None and archive.parent == tmp_path
    assert "spark.driver.defaultJavaOptions" not in spark_settings(cfg)  # none written yet: nothing to map
    archive.write_bytes(b"x")
    assert spark_settings(cfg)["spark.driver.defaultJavaOptions"].split() == [
        f"-XX:SharedArchiveFile={archive}",
        "-Xlog:cds*=off",
    ]
    assert class_archive(SparkConfig(master="spark://h:7077", jar_cache=str(tmp_path))) is None
    assert class_archive(SparkConfig(master="local[2]", jar_cache=str(tmp_path), class_archive=False)) is None
    dump = spark_settings(cfg, dump_classes_to=tmp_path / "new.jsa")["spark.driver.defaultJavaOptions"]
    assert dump.split() == [f"-XX:ArchiveClassesAtExit={tmp_path / 'new.jsa'}", "-Xlog:cds*=off"]
