"""The ``documents`` table, for every job that writes it (curate, extract, import-text, classify, dedup, filter):
its schema with the classifier columns (:func:`documents_table_schema`), rows conformed to it (:func:`conform`),
classifier scores (:func:`add_scores`) and the verdict (:func:`with_verdict` on a DataFrame, :func:`apply_verdict`
as one UPDATE of the table).

Scoring ships the model file with Spark's own mechanism (``SparkContext.addFile``; executors find it with
``SparkFiles.get``), loads it once per Python worker (:func:`curation.classify.model.scorer_for`) and predicts a whole
Arrow batch per call (a ``pandas_udf``). ``<name>_model`` records the model version on every row it looked at, scored
or not, so ``classify`` knows what is left to do and a reader knows which model produced each score.
"""

from __future__ import annotations

from pathlib import Path

from curation.classify.model import ModelRef
from curation.classify.rules import ClassifierRule, model_column, score_column
from curation.curate import CurateConfig, verdict_sql
from curation.provenance import RunInfo
from schemas import CURATE_FILES, DOCUMENTS, INGEST_ERRORS, MODELS, STATS, TableSchema
from schemas.documents import classifier_names, documents_schema


def documents_table_schema(lake, cfg: CurateConfig) -> TableSchema:
    """The ``documents`` schema with the columns of the table's and the config's classifiers; missing ones are
    added to the table (one commit)."""
    have = lake.spark.table(lake.fq(DOCUMENTS.name)).columns if lake.exists(DOCUMENTS.name) else []
    schema = documents_schema(set(classifier_names(have)) | set(cfg.classifiers))
    lake.ensure(schema)
    return schema


def ensure_curate_tables(lake, cfg: CurateConfig | None = None) -> TableSchema:
    """Create the tables a curate-like job writes if needed; returns the ``documents`` schema to write."""
    for schema in (INGEST_ERRORS, CURATE_FILES, STATS):
        lake.ensure(schema)
    schema = documents_table_schema(lake, cfg or CurateConfig())
    lake.create_views()
    return schema


def conform(df, schema: TableSchema):
    """``df`` with exactly ``schema``'s columns: missing (nullable) ones as typed nulls."""
    from pyspark.sql import functions as F

    have = set(df.columns)
    types = {f.name: f.dataType for f in schema.to_spark().fields}
    return df.select(*[F.col(n) if n in have else F.lit(None).cast(types[n]).alias(n) for n in schema.names])


def with_verdict(df, cfg: CurateConfig):
    """``df`` with ``drop_reasons`` / ``drop_reason`` recomputed from its columns under ``cfg``'s rules."""
    from pyspark.sql import functions as F

    return df.withColumn("drop_reasons", F.expr(verdict_sql(cfg))).withColumn(
        "drop_reason", F.expr("try_element_at(drop_reasons, 1)")
    )


def scored(spark, docs, cfg: CurateConfig, schema: TableSchema):
    """Documents with the configured classifiers' scores and the verdict that includes their rules, in ``schema``."""
    if cfg.classifiers:
        docs = with_verdict(add_scores(spark, docs, cfg.classifiers), cfg)
    return conform(docs, schema)


def apply_verdict(spark, lake, cfg: CurateConfig, run: RunInfo) -> int:
    """One UPDATE of ``drop_reason`` / ``drop_reasons`` / ``verdict_run_id`` where ``cfg``'s rules give another
    verdict than the stored one; returns how many documents changed (no commit when none did)."""
    reasons = verdict_sql(cfg)
    table = lake.fq(DOCUMENTS.name)
    changed = spark.sql(f"SELECT count(*) AS n FROM {table} WHERE NOT (drop_reasons <=> {reasons})").first()["n"]
    if changed:
        with lake.commit_metadata(run.commit_metadata()):
            spark.sql(
                f"UPDATE {table} SET drop_reasons = {reasons}, drop_reason = try_element_at({reasons}, 1), "
                f"verdict_run_id = '{run.run_id}' WHERE NOT (drop_reasons <=> {reasons})"
            )
    return changed


def model_versions(lake, cfg: CurateConfig) -> dict[str, int]:
    """The ``models`` version a run that scores with classifiers read (for its provenance)."""
    return {lake.fq(MODELS.name): lake.version(MODELS.name)} if cfg.classifiers else {}


# ------------------------------------------------------------------------------------------------------------------
# Classifier scores
# ------------------------------------------------------------------------------------------------------------------


def ship(spark, ref: ModelRef) -> None:
    """Make the model file available to every executor (once per session and file)."""
    sc = spark.sparkContext
    if not any(Path(f).name == ref.file_name for f in sc.listFiles):
        sc.addFile(ref.path)


def _score_udf(ref: ModelRef):
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def score(text, language):
        from pyspark import SparkFiles

        from curation.classify.model import scorer_for

        scorer = scorer_for(ref, SparkFiles.get(ref.file_name))
        values = scorer.scores(text.tolist(), language.where(language.notna(), None).tolist())
        return pd.Series(values, dtype="float64")  # None → NaN → null (Spark masks NaN when it converts)

    # Real classes, not the strings `from __future__ import annotations` leaves: Spark reads the UDF kind from them.
    score.__annotations__ = {"text": pd.Series, "language": pd.Series, "return": pd.Series}
    return pandas_udf(score, "double")


def add_scores(spark, df, classifiers: dict[str, ClassifierRule]):
    """``df`` (with ``text`` and ``language``) with ``<name>_score`` and ``<name>_model`` for every classifier."""
    from pyspark.sql import functions as F

    for name, rule in classifiers.items():
        if rule.model is None:
            raise ValueError(f"classifier {name!r} is not resolved against the models table")
        ship(spark, rule.model)
        df = df.withColumn(score_column(name), _score_udf(rule.model)("text", "language")).withColumn(
            model_column(name), F.lit(rule.model.model_id)
        )
    return df


def classifier_version_warnings(lake, cfg: CurateConfig) -> list[str]:
    """Classifiers whose stored scores come from another model version than the config resolves to."""
    out = []
    if not cfg.classifiers or not lake.exists(DOCUMENTS.name):
        return out
    docs = lake.read(DOCUMENTS.name)
    for name, rule in cfg.classifiers.items():
        if model_column(name) not in docs.columns:
            out.append(f"classifier {name!r} has not scored documents yet: run lakeforge classify")
            continue
        others = (
            docs.where(f"text IS NOT NULL AND NOT ({model_column(name)} <=> '{rule.model.model_id}')")
            .groupBy(model_column(name))
            .count()
            .collect()
        )
        for r in others:
            out.append(
                f"{r['count']:,} document(s) carry {name} scores from {r[0] or 'no model'}, not {rule.model.model_id}: "
                "run lakeforge classify to score them with it"
            )
    return out
