"""Each lakehouse table's schema, defined once. Writers and tests import these."""

from schemas.base import Field, TableSchema
from schemas.ingest import INGEST_ERRORS, INGEST_FILES
from schemas.pages import PAGES

ALL_TABLES: dict[str, TableSchema] = {t.name: t for t in (PAGES, INGEST_ERRORS, INGEST_FILES)}

__all__ = ["ALL_TABLES", "INGEST_ERRORS", "INGEST_FILES", "PAGES", "Field", "TableSchema"]
