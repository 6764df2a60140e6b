"""One SparkSession for the whole test run (local[2], UI off, Delta), a fresh lakehouse per test."""

from __future__ import annotations

import pytest

from curation.config import LakehouseConfig, SparkConfig
from curation.spark.lakehouse import Lakehouse
from jobs.common import prepare_environment


@pytest.fixture(scope="session")
def spark():
    from curation.spark.session import build_session

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
    return Lakehouse(spark, LakehouseConfig(root=str(tmp_path / "lakehouse"))).attach()
