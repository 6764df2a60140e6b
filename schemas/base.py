"""A table schema written once, readable without pyspark, convertible to Spark, Arrow and SQL DDL.

Pure row code (``curation.warc``) builds plain dicts keyed by these field names; the Spark adapters and
the table writers turn the same :class:`TableSchema` into a ``StructType`` or an Arrow schema. Keeping the
type vocabulary tiny keeps the three conversions obviously equivalent.
"""

from __future__ import annotations

from dataclasses import dataclass

# The type vocabulary: name → (SQL DDL, Spark type from pyspark.sql.types, Arrow type from pyarrow).
# Timestamps are microseconds in UTC, as Spark stores them.
_TYPES = {
    "string": ("STRING", lambda T: T.StringType(), lambda pa: pa.string()),
    "long": ("BIGINT", lambda T: T.LongType(), lambda pa: pa.int64()),
    "int": ("INT", lambda T: T.IntegerType(), lambda pa: pa.int32()),
    "double": ("DOUBLE", lambda T: T.DoubleType(), lambda pa: pa.float64()),
    "boolean": ("BOOLEAN", lambda T: T.BooleanType(), lambda pa: pa.bool_()),
    "binary": ("BINARY", lambda T: T.BinaryType(), lambda pa: pa.binary()),
    "timestamp": ("TIMESTAMP", lambda T: T.TimestampType(), lambda pa: pa.timestamp("us", tz="UTC")),
    "map<string,long>": (
        "MAP<STRING, BIGINT>",
        lambda T: T.MapType(T.StringType(), T.LongType()),
        lambda pa: pa.map_(pa.string(), pa.int64()),
    ),
    "array<string>": ("ARRAY<STRING>", lambda T: T.ArrayType(T.StringType()), lambda pa: pa.list_(pa.string())),
    "array<long>": ("ARRAY<BIGINT>", lambda T: T.ArrayType(T.LongType()), lambda pa: pa.list_(pa.int64())),
    "array<double>": ("ARRAY<DOUBLE>", lambda T: T.ArrayType(T.DoubleType()), lambda pa: pa.list_(pa.float64())),
}


@dataclass(frozen=True)
class Field:
    """One column: its name, type (one of the names above), nullability and what it means."""

    name: str
    type: str
    nullable: bool = True
    doc: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"column {self.name!r}: unknown type {self.type!r}")

    @property
    def ddl_type(self) -> str:
        return _TYPES[self.type][0]

    def ddl(self) -> str:
        """This column as in ``CREATE TABLE`` / ``ADD COLUMNS``, with its comment."""
        null = "" if self.nullable else " NOT NULL"
        comment = self.doc.replace("'", "\\'")
        return f"`{self.name}` {self.ddl_type}{null} COMMENT '{comment}'"


@dataclass(frozen=True)
class TableSchema:
    """A Delta table's contract: its name in the lakehouse, its columns, and what one row is."""

    name: str
    fields: tuple[Field, ...]
    doc: str = ""
    key: tuple[str, ...] = ()
    """Columns that identify a row; writers merge on them so a rerun adds no duplicates."""

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def ddl(self) -> str:
        """Column list for ``CREATE TABLE``, with comments."""
        return ",\n  ".join(f.ddl() for f in self.fields)

    def to_spark(self):
        """The ``pyspark.sql.types.StructType`` for this table (imports pyspark lazily)."""
        from pyspark.sql import types as T

        return T.StructType([T.StructField(f.name, _spark_type(f.type), f.nullable) for f in self.fields])

    def to_arrow(self):
        """The ``pyarrow.Schema`` for this table (timestamps in microseconds, UTC, as Spark stores them)."""
        import pyarrow as pa

        return pa.schema([pa.field(f.name, _arrow_type(f.type), f.nullable) for f in self.fields])

    def empty_row(self) -> dict:
        return dict.fromkeys(self.names)


def _spark_type(t: str):
    from pyspark.sql import types

    return _TYPES[t][1](types)


def _arrow_type(t: str):
    import pyarrow

    return _TYPES[t][2](pyarrow)
