"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiers import E2E_MODULES  # tests/ is on the path (pyproject pythonpath)

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["pipeline_fixture"]  # pipeline_a: one real `lakeforge run`, shared by the pipeline and report tests


def pytest_collection_modifyitems(config, items):
    """The modules of :data:`tiers.E2E_MODULES` carry the ``e2e`` marker (``make test-fast`` leaves them out)."""
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(REPO / "tests").as_posix()
        if rel in E2E_MODULES:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real-data folder that sits next to the checkout (``<repo>/../shared/data``)."""
    path = (REPO / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        pytest.skip("../shared/data is absent: real-data tests need the shared data folder next to the checkout")
    return path


@pytest.fixture(scope="session")
def spark():
    """One SparkSession for the whole run: local[2], UI off, few shuffle partitions, Delta."""
    from curation.config import SparkConfig
    from curation.spark.session import build_session
    from jobs.common import prepare_environment

    prepare_environment()
    session = build_session(
        SparkConfig(master="local[2]", app_name="lakeforge-tests", shuffle_partitions=4, driver_memory="2g")
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def lake(spark, tmp_path):
    """A fresh, empty lakehouse attached to the shared session."""
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    return Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "lakehouse"))).attach()
