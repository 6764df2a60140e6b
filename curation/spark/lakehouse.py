"""The lakehouse: a folder of Delta tables, registered by name in Spark's catalog on every start.

Layout: ``<root>/warehouse/<database>.db/<table>/_delta_log``. The folder *is* the catalog: ``attach``
registers every Delta table it finds there as ``<database>.<table>`` and makes ``<database>`` current,
so ``SELECT … FROM pages`` works in any later session, from any process, with no metastore service.
(A Derby-backed Hive metastore would also persist names, but it admits one process at a time: a
``lakeforge sql`` during an ingest would fail. Delta's log already handles concurrent readers.)
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

from curation.config import LakehouseConfig
from curation.storage import S3Settings, Store, join, open_store, spark_uri
from schemas.base import TableSchema

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMMIT = re.compile(r"^\d{20}(\.json|\.checkpoint(\.\d+\.\d+)?\.parquet|\.checkpoint\.[^/]+\.(json|parquet))$")
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


class Lakehouse:
    """Tables by name, their versions, and writes that carry run metadata into the Delta commit."""

    def __init__(self, spark, cfg: LakehouseConfig):
        if not _NAME.match(cfg.database):
            raise ValueError(f"database name {cfg.database!r}: use letters, digits and underscores")
        self.spark = spark
        self.cfg = cfg
        self.database = cfg.database
        self.root = spark_uri(cfg.root)  # s3:// → s3a://; a local path made absolute
        self.warehouse = f"{self.root}/warehouse/{self.database}.db"

    # ------------------------------------------------------------------ files beside the tables
    @property
    def remote(self) -> bool:
        return "://" in self.root

    @property
    def s3_settings(self) -> S3Settings:
        """How this session reaches object storage: its ``spark.hadoop.fs.s3a.*`` settings (boto3's defaults —
        environment, profile, role — fill what they leave out). Executors get them passed in, never look them up."""
        return S3Settings.from_hadoop(dict(self.spark.sparkContext.getConf().getAll()))

    @property
    def store(self) -> Store:
        """The :class:`~curation.storage.Store` that holds the lakehouse's files (models, shards, mixtures)."""
        return open_store(self.root, self.s3_settings)

    def files(self, *parts: str) -> str:
        """URI of a folder or file beside the tables: ``files("models", "toxicity")`` → ``<root>/models/toxicity``."""
        return join(self.root, *parts)

    # ------------------------------------------------------------------ catalog
    def attach(self) -> Lakehouse:
        """Register the lakehouse's tables under ``database`` and make it the current database.

        Re-attaching (another lakehouse on the same session, as tests do) replaces the registrations;
        dropping a registration never touches data, since every table is external.
        """
        spark = self.spark
        if "://" not in self.root:
            Path(self.warehouse).mkdir(parents=True, exist_ok=True)
        if spark.catalog.databaseExists(self.database):
            current = spark.sql(f"DESCRIBE DATABASE {self.database}").where("info_name = 'Location'").collect()
            location = current[0]["info_value"] if current else ""
            if location.removeprefix("file:").rstrip("/") != self.warehouse.rstrip("/"):
                for t in spark.catalog.listTables(self.database):
                    if t.tableType == "VIEW":
                        spark.sql(f"DROP VIEW IF EXISTS {self.database}.`{t.name}`")
                    else:
                        spark.sql(f"DROP TABLE IF EXISTS {self.database}.`{t.name}`")
                # Never DROP DATABASE here: Spark's in-memory catalog deletes the database folder with it,
                # which is the other lakehouse's warehouse. Point the database at this one instead.
                spark.sql(f"ALTER DATABASE {self.database} SET LOCATION '{self.warehouse}'")
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.database} LOCATION '{self.warehouse}'")
        folders = self.table_folders()
        for t in spark.catalog.listTables(self.database):  # registered earlier in this session, its folder gone
            if t.tableType != "VIEW" and t.name not in folders:
                spark.sql(f"DROP TABLE IF EXISTS {self.database}.`{t.name}`")  # external: the files stay
        for name in folders:
            self._register(name)
        self.create_views()
        spark.catalog.setCurrentDatabase(self.database)
        return self

    def create_views(self) -> None:
        """(Re)create the views of ``schemas.VIEWS`` whose table exists (views live in the session's catalog)."""
        from schemas import VIEWS

        for view, (table, query) in VIEWS.items():
            if self.exists(table):
                self.spark.sql(f"CREATE OR REPLACE VIEW {self.fq(view)} AS " + query.format(**{table: self.fq(table)}))

    def table_folders(self) -> list[str]:
        """Names of the Delta tables present in the warehouse folder: folders whose ``_delta_log`` holds a commit
        (a folder without one is a first write that never committed: see :meth:`ensure`)."""
        if "://" in self.root:  # remote roots: ask Hadoop's filesystem
            fs, path = self._hadoop_fs(self.warehouse)
            if not fs.exists(path):
                return []
            names = [s.getPath().getName() for s in fs.listStatus(path) if s.isDirectory()]
            return sorted(n for n in names if _NAME.match(n) and self._committed(n))
        base = Path(self.warehouse)
        return sorted(p.parent.name for p in base.glob("*/_delta_log") if _NAME.match(p.parent.name) and
                      self._committed(p.parent.name))  # fmt: skip

    def _hadoop_fs(self, uri: str):
        jvm = self.spark._jvm  # noqa: SLF001
        path = jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self.spark._jsc.hadoopConfiguration()), path  # noqa: SLF001

    def _committed(self, name: str) -> bool:
        """Whether the table's ``_delta_log`` holds a commit or a checkpoint (a table version exists). Every
        command attaches, so the usual case is two lookups (the first commit, or the checkpoint pointer that
        outlives it); the log is listed only when neither is there."""
        log = f"{self.path(name)}/_delta_log"
        first = ("00000000000000000000.json", "_last_checkpoint")
        if "://" in self.root:
            fs, path = self._hadoop_fs(log)
            if any(fs.exists(self._hadoop_fs(f"{log}/{f}")[1]) for f in first):
                return True
            names = [s.getPath().getName() for s in fs.listStatus(path)] if fs.exists(path) else []
        else:
            if any((Path(log) / f).exists() for f in first):
                return True
            names = [p.name for p in Path(log).glob("*")]
        return any(_COMMIT.match(n) for n in names)

    def _clear_uncommitted(self, name: str) -> None:
        """Remove the folder of a table that was never committed: the files a killed job wrote before the table's
        first commit (no version ever named them, so nothing reads them). Without this, creating the table there
        fails on the leftovers, and the lakehouse needs a hand to go on."""
        if "://" in self.root:
            fs, path = self._hadoop_fs(self.path(name))
            if fs.exists(path) and not self._committed(name):
                fs.delete(path, True)
        elif Path(self.path(name)).exists() and not self._committed(name):
            shutil.rmtree(self.path(name))

    def _register(self, name: str) -> None:
        self.spark.sql(f"CREATE TABLE IF NOT EXISTS {self.fq(name)} USING delta LOCATION '{self.path(name)}'")

    def fq(self, name: str) -> str:
        """Fully qualified name: ``lakeforge.pages``."""
        return f"{self.database}.{name}"

    def path(self, name: str) -> str:
        return f"{self.warehouse}/{name}"

    def exists(self, name: str) -> bool:
        return self.spark.catalog.tableExists(self.fq(name))

    def ensure(self, schema: TableSchema) -> None:
        """Create the table from its schema (version 0, empty) unless it exists; check columns if it does."""
        from delta.tables import DeltaTable

        if self.exists(schema.name):
            have = set(self.spark.table(self.fq(schema.name)).columns)
            missing = [f for f in schema.fields if f.name not in have]
            required = [f.name for f in missing if not f.nullable]
            if required:
                raise ValueError(
                    f"table {self.fq(schema.name)} at {self.path(schema.name)} lacks columns {required}: it was "
                    "written by another version of lakeforge; use a new --lakehouse or migrate it"
                )
            if missing:
                # A newer lakeforge added nullable columns (e.g. dedup's): add them in place, one commit, so an
                # existing lakehouse keeps working; old versions read as before (time travel is unaffected).
                cols = ", ".join(f.ddl() for f in missing)
                meta = {"job": "migrate", "table": schema.name, "added": [f.name for f in missing]}
                with self.commit_metadata(json.dumps(meta)):
                    self.spark.sql(f"ALTER TABLE {self.fq(schema.name)} ADD COLUMNS ({cols})")
            return
        self._clear_uncommitted(schema.name)
        builder = (
            DeltaTable.createIfNotExists(self.spark)
            .tableName(self.fq(schema.name))
            .location(self.path(schema.name))
            .comment(schema.doc)
        )
        for f in schema.fields:
            builder = builder.addColumn(f.name, f.ddl_type, nullable=f.nullable, comment=f.doc)
        with self.commit_metadata(json.dumps({"job": "create", "table": schema.name})):
            builder.execute()

    # ------------------------------------------------------------------ versions
    def version(self, name: str) -> int | None:
        """Latest version of a table, None if it does not exist."""
        if "://" not in self.root:
            # Local tables: the newest commit file names the version. Delta keeps commit files for
            # 30 days (logRetentionDuration), and checkpoints never replace the newest commit file.
            log = Path(self.path(name)) / "_delta_log"
            versions = [int(p.name[:20]) for p in log.glob("*.json") if p.name[:20].isdigit()]
            return max(versions) if versions else None
        if not self.exists(name):
            return None
        from delta.tables import DeltaTable

        row = DeltaTable.forName(self.spark, self.fq(name)).history(1).select("version").first()
        return int(row["version"]) if row else None

    def read(self, name: str, version: int | None = None):
        """The table as a DataFrame, at ``version`` when given (time travel)."""
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return reader.load(self.path(name))

    def history(self, name: str, limit: int | None = None):
        from delta.tables import DeltaTable

        return DeltaTable.forName(self.spark, self.fq(name)).history(limit)

    # ------------------------------------------------------------------ writes
    @contextmanager
    def commit_metadata(self, metadata: str):
        """Every Delta commit made inside the block carries ``metadata`` as its ``userMetadata``."""
        conf = self.spark.conf
        previous = conf.get(USER_METADATA, None)
        conf.set(USER_METADATA, metadata)
        try:
            yield
        finally:
            if previous is None:
                conf.unset(USER_METADATA)
            else:
                conf.set(USER_METADATA, previous)

    def merge_new(self, schema: TableSchema, df, metadata: str) -> None:
        """Insert the rows of ``df`` whose key is not in the table yet: one commit, never a duplicate."""
        from delta.tables import DeltaTable

        if not schema.key:
            raise ValueError(f"table {schema.name} has no key to merge on")
        cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in schema.key)
        target = DeltaTable.forName(self.spark, self.fq(schema.name))
        with self.commit_metadata(metadata):
            target.alias("t").merge(df.select(*schema.names).alias("s"), cond).whenNotMatchedInsertAll().execute()

    def append(self, schema: TableSchema, df, metadata: str) -> None:
        with self.commit_metadata(metadata):
            df.select(*schema.names).write.format("delta").mode("append").saveAsTable(self.fq(schema.name))
