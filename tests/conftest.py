"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tiers import E2E_MODULES  # tests/ is on the path (pyproject pythonpath)

REPO = Path(__file__).resolve().parents[1]

# pipeline_a: one real `lakeforge run`, shared by the pipeline and report tests; s3_endpoint / bucket: a real
# S3-compatible server (moto) on 127.0.0.1 for the object-store tests.
pytest_plugins = ["pipeline_fixture", "s3_server"]

# Every driver JVM the tests start in a new process (each `lakeforge` command, a job submitted to the test cluster)
# runs the client JIT only: each is a short Spark job on a small input, where the full JIT's compiler threads are a
# large part of the CPU (tests/jobs/test_curate_cli.py, 2 cores: 180 CPU-seconds with the full JIT, 108 with the
# client JIT). The shared session (fixture `spark`) keeps the full JIT: it lives the whole run, and its tests took
# about twice as long with the client JIT. Users' jobs keep their own default (docs/operations.md, `--jit`); a value
# set before the tests start wins.
QUICK_JIT_ENV = "SPARK_SUBMIT_OPTS" not in os.environ
os.environ.setdefault("SPARK_SUBMIT_OPTS", "-XX:TieredStopAtLevel=1")

# The longest groups first: xdist hands groups out in collection order, and a long one handed out last keeps one
# worker busy while the other has nothing left.
# bench.scale's smoke (four lakeforge processes, the longest smoke run) is one test: handed out last, it ran alone
# at the end.
LONGEST_FIRST = (
    "tests/bench/test_smoke.py::test_smoke[bench.scale]",
    "pipeline_a",
    "jobs/test_cluster.py",
    "curation/spark/test_dedup_large_component.py",
    "bench/test_smoke.py",
)


_RANK = pytest.StashKey[int]()


# tryfirst: pytest-xdist's worker reads the groups in its own hook, registered after this file and so run before it.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The modules of :data:`tiers.E2E_MODULES` carry the ``e2e`` marker (``make test-fast`` leaves them out).

    Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) each test module stays on one worker, so its
    module-scoped lakehouse is built once; every test that uses the shared pipeline run (``pipeline_a``) joins one
    group, so that run is built once too. A module whose tests share nothing (``INDEPENDENT_TESTS = True``, the bench
    smoke runs) is spread test by test."""
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(REPO / "tests").as_posix()
        if rel in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)
        if "pipeline_a" in getattr(item, "fixturenames", ()):
            group = "pipeline_a"
        elif getattr(getattr(item, "module", None), "INDEPENDENT_TESTS", False):
            group = item.nodeid  # the module shares no fixture between its tests: each may go to either worker
        else:
            group = rel
        item.add_marker(pytest.mark.xdist_group(group))
        item.stash[_RANK] = next((i for i, g in enumerate(LONGEST_FIRST) if g in (group, rel)), len(LONGEST_FIRST))
    items.sort(key=lambda item: item.stash[_RANK])  # stable: the order within a group is kept


def pytest_configure(config):
    """pytest-xdist (3.8) puts each test's group into the node id it rewrites; pytest 9 no longer reads that
    rewrite, so every test would run as its own group, unseen (the shared pipeline run built once per worker, module
    fixtures once per test: minutes of CI)."""
    if config.getoption("dist", None) == "loadgroup" and int(pytest.__version__.split(".")[0]) >= 9:
        raise pytest.UsageError(
            f"pytest {pytest.__version__}: pytest-xdist's --dist loadgroup loses its groups on "
            "pytest 9 (install the dev extras: pytest<9)"
        )


def pytest_collection_finish(session):
    """The same, checked where it happens: on a worker under loadgroup every node id carries its group."""
    config = session.config
    if hasattr(config, "workerinput") and config.getoption("loadgroup", False):  # an xdist worker under loadgroup
        lost = [item.nodeid for item in session.items if "@" not in item.nodeid]
        if lost:
            pytest.exit(
                f"pytest-xdist lost the test groups ({lost[0]}): pytest {pytest.__version__} "
                "is not one pyproject.toml names",
                returncode=4,
            )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real-data folder that sits next to the checkout (``<repo>/../shared/data``)."""
    path = (REPO / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip("../shared/data is absent: real-data tests need the shared data folder next to the checkout")
    return path


@pytest.fixture(scope="session")
def spark():
    """One SparkSession for the whole run: local[2], UI off, few shuffle partitions, Delta, hadoop-aws."""
    from curation.config import SparkConfig
    from curation.spark.session import build_session
    from jobs.common import prepare_environment

    prepare_environment()
    quick = os.environ.pop("SPARK_SUBMIT_OPTS") if QUICK_JIT_ENV else None  # this JVM keeps the full JIT
    try:
        session = build_session(
            SparkConfig(
                master="local[2]",
                app_name="lakeforge-tests",
                shuffle_partitions=4,
                driver_memory="2g",
                object_store=True,  # hadoop-aws: in-process tests may read and write s3a:// on the test server
            )
        )
    finally:
        if quick is not None:
            os.environ["SPARK_SUBMIT_OPTS"] = quick
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def lake(spark, tmp_path):
    """A fresh, empty lakehouse attached to the shared session."""
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    return Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "lakehouse"))).attach()
