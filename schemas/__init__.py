"""Each lakehouse table's schema, defined once. Writers and tests import these."""

from schemas.base import Field, TableSchema
from schemas.dedup import MINHASH_SIGNATURES
from schemas.documents import DOCUMENTS, KEPT_VIEW, VIEWS
from schemas.ingest import INGEST_ERRORS, INGEST_FILES
from schemas.models import MODELS
from schemas.pages import PAGES
from schemas.runs import RUNS
from schemas.stats import CURATE_FILES, STATS
from schemas.tokens import MIXTURES, TOKEN_DOCUMENTS, TOKEN_SHARDS

ALL_TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in (
        PAGES,
        INGEST_ERRORS,
        INGEST_FILES,
        DOCUMENTS,
        STATS,
        CURATE_FILES,
        MINHASH_SIGNATURES,
        TOKEN_SHARDS,
        TOKEN_DOCUMENTS,
        MIXTURES,
        MODELS,
        RUNS,
    )
}

__all__ = [
    "ALL_TABLES",
    "CURATE_FILES",
    "DOCUMENTS",
    "INGEST_ERRORS",
    "INGEST_FILES",
    "KEPT_VIEW",
    "MINHASH_SIGNATURES",
    "MIXTURES",
    "MODELS",
    "PAGES",
    "RUNS",
    "STATS",
    "TOKEN_DOCUMENTS",
    "TOKEN_SHARDS",
    "Field",
    "TableSchema",
    "VIEWS",
]
