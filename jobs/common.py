"""What every job shares: the lakehouse/Spark arguments, the session, and one-line failures.

Errors (:func:`run_main` decides, for every subcommand): a user error (:class:`JobError`, a usage mistake, a
library ``ValueError``, a missing or unreadable file, a SQL/analysis error Spark classified) prints one line,
``lakeforge: error: …``, and exits 2. An unexpected exception is a bug: it prints Python's traceback (a long run
should not have to be repeated to report it) with the JVM's stack frames cut, then one line saying so, and exits 1.
``--debug`` (``lakeforge --debug SUBCOMMAND …`` or anywhere in a subcommand's options) prints the full traceback of
either, JVM frames included, and keeps Spark's own error logging.
"""

from __future__ import annotations

import argparse
import atexit
import contextvars
import os
import re
import sys
import time
import traceback
from pathlib import Path

from curation.config import LakehouseConfig, SparkConfig

DEBUG = contextvars.ContextVar("lakeforge_debug", default=False)  # set by run_main for the command it runs
_AT_END: list = []  # callables run when the command ends, however it ends (the writer lease's release)
# The WARC files next to a checkout (../shared/data/warc): ingest's and curate's input when none is given.
DEFAULT_SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "warc"


class JobError(Exception):
    """A failure the user can act on; printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """The parser of every subcommand: a usage mistake is a one-line :class:`JobError` (not usage text and
    argparse's own exit), and ``--debug`` is listed (:func:`run_main` takes it out of the arguments)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", help="print the traceback of an error")

    def error(self, message: str):
        raise JobError(f"{message} ({self.prog} --help lists the options)")


def paths_arg(p, *flags: str, **kwargs) -> None:
    """A repeatable path option that also takes several values after one flag: ``--input a b`` = ``--input a
    --input b``."""
    p.add_argument(*flags, nargs="+", action="extend", default=[], **kwargs)


def input_paths(given: list[str]) -> list[str]:
    """``--input`` as given, else the shared WARC folder when there is one."""
    inputs = given or ([str(DEFAULT_SHARED)] if DEFAULT_SHARED.is_dir() else [])
    if not inputs:
        raise JobError("no --input given and no bundled default (../shared/data/warc) found")
    return inputs


def add_config_args(p: argparse.ArgumentParser) -> None:
    """``--config``, ``--set`` and ``--format`` of the jobs that take the curate config (curate, extract, filter,
    classify)."""
    g = p.add_argument_group("settings")
    g.add_argument("--config", default=None, metavar="YAML", help="curate settings (see conf/curate.yaml)")
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one setting, value as YAML; repeatable (e.g. --set langid.keep_languages=[en,de] "
        "--set gopher_quality.min_doc_words=30)",
    )
    g.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")


def curate_config(args: argparse.Namespace):
    from curation.config import load_settings
    from curation.curate import CurateConfig

    return load_settings(CurateConfig, args.config, args.set)


def resolve_classifiers(lake, cfg, run):
    """``cfg`` with its classifiers resolved against ``models`` (version, file, threshold); the run records the
    resolved config, so its commits name the exact model versions."""
    from curation.config import config_hash, to_dict
    from curation.spark.classify import resolve_classifiers

    cfg = resolve_classifiers(lake, cfg)
    run.config_hash, run.config = config_hash(cfg), to_dict(cfg)
    return cfg


def add_session_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("lakehouse and Spark")
    g.add_argument(
        "--lakehouse",
        default="lakehouse",
        metavar="DIR|URI",
        help="lakehouse folder holding every table and the catalog (default: ./lakehouse), or s3a://BUCKET/PREFIX "
        "(s3:// is the same; settings: --conf spark.hadoop.fs.s3a.*, AWS_* variables, see docs/cluster.md)",
    )
    g.add_argument("--database", default="lakeforge", help="catalog database name (default: lakeforge)")
    g.add_argument(
        "--master", default=None, help="Spark master (default: local[*]; under spark-submit, the launcher's --master)"
    )
    g.add_argument("--ui", action="store_true", help="start the Spark web UI")
    g.add_argument("--driver-memory", default="4g", help="driver heap for local runs (default: 4g)")
    g.add_argument(
        "--jit",
        choices=("quick", "full"),
        default=None,
        help="driver JVM compiler: quick starts sooner (the default of sql, stats, tables, history, lineage and "
        "report), full runs long local work faster (the default of the jobs)",
    )
    g.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting, repeatable (e.g. --conf spark.executor.memory=8g)",
    )


def under_spark_submit() -> bool:
    """True when spark-submit launched us (it has started the JVM and owns --master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def launcher_conf() -> dict[str, str]:
    """Under spark-submit, the launcher's settings (its ``--conf`` and properties file), read from the JVM it has
    already started; elsewhere nothing (no JVM is started for it)."""
    if not under_spark_submit():
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()  # noqa: SLF001 - connects to the launcher's gateway, starts nothing
    return dict(SparkConf().getAll())


def conf_args(items: list[str]) -> dict[str, str]:
    """``--conf spark.KEY=VALUE`` options as a dict."""
    conf = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("spark."):
            raise JobError(f"--conf {item!r}: expected spark.KEY=VALUE")
        conf[key] = value
    return conf


S3A = "spark.hadoop.fs.s3a."


def s3_conf(conf: dict[str, str], environ=None) -> dict[str, str]:
    """``conf`` completed with the object-store settings of the environment; what ``conf`` sets wins.

    - ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` → ``fs.s3a.endpoint``; with an endpoint (given either way),
      path-style access is on (S3-compatible servers rarely have per-bucket DNS names) unless
      ``fs.s3a.path.style.access`` is given, and the region defaults to ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` /
      us-east-1.
    - Credentials when ``fs.s3a.access.key`` is not given: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
      ``AWS_SESSION_TOKEN``, else the profile ``AWS_PROFILE`` names (boto3 reads ``~/.aws``); passed to Spark as
      ``fs.s3a.*`` keys so the JVM, its executors and lakeforge's own file writes use the same identity. Neither:
      Hadoop's and boto3's default chains (e.g. an instance role).
    """
    from curation.storage import S3Settings

    env = os.environ if environ is None else environ
    given = S3Settings.from_hadoop(conf)
    endpoint = given.endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    path_style = given.path_style if S3A + "path.style.access" in conf else endpoint is not None
    region = given.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    region = region or ("us-east-1" if endpoint else None)
    key, secret, token = given.access_key, given.secret_key, given.session_token
    if key is None and env.get("AWS_ACCESS_KEY_ID"):
        key, secret, token = env["AWS_ACCESS_KEY_ID"], env.get("AWS_SECRET_ACCESS_KEY"), env.get("AWS_SESSION_TOKEN")
    elif key is None and env.get("AWS_PROFILE"):
        key, secret, token = _profile_credentials(env["AWS_PROFILE"])
    settings = S3Settings(endpoint, path_style, key, secret, token, region)
    return {**settings.hadoop(), **conf}


def _profile_credentials(profile: str) -> tuple[str | None, str | None, str | None]:
    try:
        import boto3
        import botocore.exceptions

        creds = boto3.session.Session(profile_name=profile).get_credentials()
    except ImportError:
        raise JobError("object storage needs boto3: pip install 'lakeforge[s3]'") from None
    except botocore.exceptions.BotoCoreError as e:
        raise JobError(f"AWS_PROFILE={profile}: {e}") from None
    if creds is None:
        raise JobError(f"AWS_PROFILE={profile}: the profile has no credentials")
    frozen = creds.get_frozen_credentials()
    return frozen.access_key, frozen.secret_key, frozen.token


def spark_config(args: argparse.Namespace, app_name: str, quick_jit: bool = False) -> SparkConfig:
    """``quick_jit``: the command's default for ``--jit`` (short queries: quick). A lakehouse in object storage (or
    any ``fs.s3a`` setting) puts hadoop-aws on the classpath and completes the S3 settings (:func:`s3_conf`)."""
    from curation.storage import is_remote

    # Under spark-submit, S3A settings given to the launcher count too: lakeforge's own checks and writes (bucket,
    # lease) happen before the session exists and read them from here.
    launcher = {k: v for k, v in launcher_conf().items() if k.startswith(S3A)}
    conf = {**launcher, **conf_args(args.conf)}
    remote = is_remote(getattr(args, "lakehouse", "") or "") or any(k.startswith(S3A) for k in conf)
    if remote:
        conf = s3_conf(conf)
    master = args.master or (None if under_spark_submit() else "local[*]")
    quick = quick_jit if args.jit is None else args.jit == "quick"
    return SparkConfig(
        master=master,
        app_name=app_name,
        ui=args.ui,
        driver_memory=args.driver_memory,
        conf=conf,
        quick_jit=quick,
        object_store=remote,
    )


def lakehouse_config(args: argparse.Namespace) -> LakehouseConfig:
    return LakehouseConfig(root=args.lakehouse, database=args.database)


def prepare_environment() -> None:
    """Defaults a local run needs before the JVM starts (never overriding the user's own)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if not under_spark_submit():
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def open_lakehouse(args: argparse.Namespace, app_name: str, quick_jit: bool = False, writer: tuple | None = None):
    """(spark, lakehouse) for a job; SessionError becomes JobError. ``quick_jit``: the command's ``--jit`` default.

    A lakehouse in object storage: its bucket is checked, and a writing job (``writer=(job, run_id)``) takes the
    writer lease (:func:`take_writer_lease`), before Spark starts: bad settings and a second writer fail in a second,
    with nothing written."""
    from curation.spark.session import SessionError, lakehouse_session

    prepare_environment()
    spark_cfg, lake_cfg = spark_config(args, app_name, quick_jit), lakehouse_config(args)
    check_bucket(lake_cfg.root, spark_cfg.conf)
    if writer is not None:
        take_writer_lease(lake_cfg.root, spark_cfg.conf, *writer)
    try:
        spark, lake = lakehouse_session(spark_cfg, lake_cfg)
    except SessionError as e:
        raise JobError(str(e)) from None
    if not DEBUG.get():
        # Spark logs every failed query at ERROR, and PySpark every analysis error as a JSON line (its query-context
        # loggers): jobs report failures themselves, in one line.
        spark.sparkContext.setLogLevel("FATAL")
        from pyspark.logger import PySparkLogger

        for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
            PySparkLogger.getLogger(name).disabled = True
    return spark, lake


def check_bucket(root: str, conf: dict[str, str]) -> None:
    """A lakehouse in object storage: fail in one line (:class:`~curation.storage.StoreError`) unless its bucket is
    there and these settings reach it, before Spark starts (Hadoop's S3A client retries for minutes)."""
    from curation.storage import S3Settings, is_remote, open_store

    if is_remote(root):
        open_store(root, S3Settings.from_hadoop(conf)).check_bucket(root)


def take_writer_lease(root: str, conf: dict[str, str], job: str, run_id: str) -> None:
    """A writing job on a lakehouse in object storage holds ``<root>/_lakeforge/writer.lease`` until it ends (see
    :mod:`curation.lease`); a second writer gets one line naming the holder. Local lakehouses: nothing to do."""
    from curation import lease
    from curation.storage import S3Settings, is_remote, open_store, spark_uri

    if not is_remote(root):
        return
    root = spark_uri(root)
    store = open_store(root, S3Settings.from_hadoop(conf))
    lease.acquire(store, root, run_id, job)

    def release() -> None:
        try:
            lease.release(store, root, run_id)
        except Exception:  # noqa: BLE001 - the job's own outcome matters more; `lakeforge unlock` clears it
            print(f"lakeforge: warning: could not remove the writer lease {lease.lease_uri(root)}", file=sys.stderr)

    _AT_END.append(release)


def _run_at_end() -> None:
    while _AT_END:
        _AT_END.pop()()


atexit.register(_run_at_end)  # a job called outside run_main still releases its lease


def start_run(args: argparse.Namespace, job: str, cfg, inputs: list[str] | None = None):
    """Open the lakehouse and describe the run: ``(spark, lake, run, spark_start_seconds)``. ``inputs`` default to
    the ``documents`` table (the jobs that read it). Every such job writes: on object storage it takes the writer
    lease (:func:`take_writer_lease`)."""
    from curation.config import config_hash, to_dict
    from curation.provenance import RunInfo, new_run_id

    t0 = time.perf_counter()
    run_id = new_run_id(job)
    spark, lake = open_lakehouse(args, f"lakeforge-{job}", writer=(job, run_id))
    start_s = time.perf_counter() - t0
    inputs = inputs or [lake.fq("documents")]
    run = RunInfo(job=job, config_hash=config_hash(cfg), config=to_dict(cfg), inputs=inputs, run_id=run_id)
    return spark, lake, run, start_s


def print_report(args: argparse.Namespace, report, start_s: float, text: str) -> int:
    """The report as JSON (``--format json``) or ``text``; exit status 3 when its counts do not reconcile."""
    import json

    if args.format == "json":
        print(json.dumps(report.to_json() | {"spark_start_seconds": round(start_s, 3)}, default=str))
    else:
        print(text)
    return 0 if report.unreconciled() is None else 3


def run_main(fn, argv: list[str] | None = None, debug: bool = False) -> int:
    """Run a subcommand's ``main(argv)`` and turn what it raises into an exit status: the one place that decides
    how errors print (see the module docstring). ``--debug`` is taken out of ``argv`` (before a ``--``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    end = argv.index("--") if "--" in argv else len(argv)
    debug = debug or "--debug" in argv[:end]
    argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    token = DEBUG.set(debug)
    try:
        return fn(argv) or 0
    except KeyboardInterrupt:
        print("lakeforge: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # every exception ends here: one line, or a bug report
        message = user_error(e)
        if debug:
            traceback.print_exc()
        elif message is None:
            print(_without_jvm_frames(traceback.format_exc()), end="", file=sys.stderr)
        if message is None:
            print(
                f"lakeforge: internal error (a bug: please report it with the traceback above"
                f"{'' if debug else '; --debug adds the JVM frames'}): {_summary(e)}",
                file=sys.stderr,
            )
            return 1
        print(f"lakeforge: error: {message}", file=sys.stderr)
        return 2
    finally:
        _run_at_end()
        DEBUG.reset(token)


def user_error(e: Exception) -> str | None:
    """The one line for an error the user can act on; None for a bug."""
    from curation.lease import LeaseHeld
    from curation.storage import StoreError

    if isinstance(e, LeaseHeld):
        root = e.uri.rsplit("/_lakeforge/", 1)[0]
        return _one_line(
            f"{e}: Delta on S3 is safe for one writing job at a time. Wait for it to finish; if it is gone (killed), "
            f"clear the stale lease with `lakeforge unlock --lakehouse {root}`"
        )
    if isinstance(e, StoreError):
        return _one_line(str(e))
    s3a = _s3a_failure(e)
    if s3a is not None:
        return s3a
    if "pyspark" in sys.modules:
        from pyspark.errors import PythonException
        from pyspark.errors.exceptions.captured import CapturedException

        if isinstance(e, CapturedException) and not isinstance(e, PythonException) and e.getCondition():
            try:
                return _one_line(e.getMessage())  # e.g. [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column … SQLSTATE: 42703
            except Exception:  # noqa: BLE001 — Spark cannot render some of Delta's error classes: say what it said
                return _one_line(str(e))
    if isinstance(e, (JobError, ValueError)):  # the library validates config and input with ValueError
        if "pyspark" in sys.modules:
            from pyspark.errors import PySparkException

            if isinstance(e, PySparkException):  # PySparkValueError and the like: lakeforge misused PySpark
                return None
        return _one_line(str(e))
    if isinstance(e, OSError) and e.filename is not None:
        return _one_line(f"{e.strerror or e}: {e.filename}")
    if "yaml" in sys.modules:
        import yaml

        if isinstance(e, yaml.YAMLError):
            return _one_line(f"YAML: {e}")
    return None


# Hadoop S3A failures as they reach Python (Py4JJavaError / a captured Spark error, the Java exception in the text):
# (pattern, what it means). The first that matches wins.
_S3A_FAILURES = [
    (re.compile(r"UnknownHostException: ?([^\s:;]*)"), "cannot reach the object store: unknown host {0}"),
    (re.compile(r"Connection refused|ConnectException|connect timed out"), "cannot reach the object store"),
    (
        re.compile(r"InvalidAccessKeyId|SignatureDoesNotMatch|InvalidToken|ExpiredToken|NoAuthWithAWSException"),
        "the object store refused the credentials",
    ),
    (re.compile(r"NoSuchBucket|UnknownStoreException|[Bb]ucket .{0,40}does not exist"), "the bucket does not exist"),
    (re.compile(r"AccessDenied|403 Forbidden|Status Code: 403"), "permission denied"),
]
_S3A_URI = re.compile(r"s3a://[^\s'\"`:;,)]+")


def _s3a_failure(e: Exception) -> str | None:
    """One line for an S3A failure Spark raised (unknown host, connection refused, bad keys, missing bucket, access
    denied), naming what and where; None when ``e`` is none of those."""
    text = str(e)
    if "s3a" not in text.lower() and "amazon" not in text.lower():
        return None
    for pattern, what in _S3A_FAILURES:
        m = pattern.search(text)
        if m:
            where = _S3A_URI.search(text)
            message = what.format(*(g for g in m.groups() if g)) if m.groups() else what
            return _one_line(f"{message}{f' ({where.group(0)})' if where else ''}")
    return None


def _summary(e: Exception) -> str:
    """``Type: message`` in one line of at most 300 characters (a Py4JJavaError's message holds a Java stack)."""
    text = _one_line(f"{type(e).__name__}: {_without_jvm_frames(str(e))}")
    return text if len(text) <= 300 else text[:299] + "…"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(no message)"


_JVM_FRAME = re.compile(r"^\s+(at [\w$.<>/]+\(.*\)|\.\.\. \d+ more)$")


def _without_jvm_frames(text: str) -> str:
    """A Python traceback without the Java stack a Py4JJavaError carries in its message (hundreds of lines)."""
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not _JVM_FRAME.match(line.rstrip("\n"))]
    return "".join(kept)


def is_tty() -> bool:
    return sys.stderr.isatty()


def log(msg: str) -> None:
    """A progress line on stderr (stdout is the job's result)."""
    print(f"[lakeforge] {msg}", file=sys.stderr, flush=True)


def progress_printer():
    """``show(done, total, records)`` for the WARC readers: one updating line on a terminal, else a line each."""
    tty = is_tty()
    t0 = time.perf_counter()

    def show(done: int, total: int, records: int) -> None:
        el = time.perf_counter() - t0
        line = f"files {done}/{total} · records {records:,} · {records / el if el else 0:,.0f} records/s · {el:.0f}s"
        if tty:
            print(f"\r[lakeforge] {line}\033[K", end="" if done < total else "\n", file=sys.stderr, flush=True)
        else:
            log(line)

    return show
