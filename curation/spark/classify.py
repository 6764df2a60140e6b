"""Spark adapters for trained classifiers: labelled data → a registered model (``train-classifier``), the ``models``
registry, and scores on ``documents`` (inside ``curate``, or over the table with ``lakeforge classify``).

Scoring ships the model file with Spark's own mechanism (``SparkContext.addFile``; executors find it with
``SparkFiles.get``), loads it once per Python worker (:func:`curation.classify.model.scorer_for`) and predicts a whole
Arrow batch per call (a ``pandas_udf``). ``<name>_model`` records the model version on every row it looked at, scored
or not, so ``classify`` knows what is left to do and a reader knows which model produced each score.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from curation.classify import train as tr
from curation.classify.model import ModelRef, file_sha256
from curation.classify.rules import ClassifierRule, model_column, reason_of, resolved, score_column
from curation.classify.source import TrainClassifierConfig, TrainingInput
from curation.classify.text import NORMALIZATION
from curation.curate import ERROR_REASONS, CurateConfig, reason_stages
from curation.provenance import RunInfo
from curation.spark.documents import add_scores, apply_verdict, documents_table_schema
from curation.spark.stage import write_funnel
from curation.stage import JobReport
from curation.storage import join
from schemas import DOCUMENTS, MODELS, STATS

FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "json",
    ".json": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
}


# ------------------------------------------------------------------------------------------------------------------
# Training inputs
# ------------------------------------------------------------------------------------------------------------------


def _quote(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def read_labelled_file(spark, inp: TrainingInput) -> tuple[list[tuple], dict]:
    """The labelled file's rows as ``(text, positive, group, trainable)`` and its source record."""
    from pyspark.errors import PySparkException

    path = Path(inp.labels)
    if not path.is_file():
        raise ValueError(f"labelled file not found: {path}")
    suffix = path.suffix.lower()
    fmt = FILE_FORMATS.get(suffix)
    if fmt is None:
        raise ValueError(f"labelled file {path}: unknown format {suffix!r}; use one of {', '.join(FILE_FORMATS)}")
    reader = spark.read
    if fmt in ("csv", "tsv"):
        reader = reader.options(header=True, multiLine=True, escape='"', sep="\t" if fmt == "tsv" else ",")
        df = reader.csv(str(path.resolve()))
    else:
        df = getattr(reader, fmt)(str(path.resolve()))
    for column in (inp.text_column, inp.label_column):
        if column not in df.columns:
            raise ValueError(f"labelled file {path}: no column {column!r}; it has {', '.join(df.columns)}")
    trainable = f"coalesce(({inp.train_where}), false)" if inp.train_where else "true"
    try:
        rows = df.selectExpr(
            f"CAST({_quote(inp.text_column)} AS STRING) AS text",
            f"CAST({_quote(inp.label_column)} AS STRING) AS label",
            f"{trainable} AS trainable",
        ).collect()
    except PySparkException as e:
        raise ValueError(f"labelled file {path}: {str(e).splitlines()[0]}") from None
    out = [(r["text"], inp.label_of(r["label"]), None, bool(r["trainable"])) for r in rows]
    source = {
        "kind": "file",
        "path": str(path.resolve()),
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "format": fmt,
        "text_column": inp.text_column,
        "label_column": inp.label_column,
        "positive_values": list(inp.positive_values),
        "negative_values": None if inp.negative_values is None else list(inp.negative_values),
        "train_where": inp.train_where,
    }
    return out, source


def read_sql_examples(spark, lake, inp: TrainingInput) -> tuple[list[tuple], dict]:
    """Rows of the positive and negative queries, each lakehouse table they name read at one pinned version."""
    from pyspark.errors import PySparkException

    tables = set(lake.table_folders())
    named = sorted(
        {w for q in (inp.positive_sql, inp.negative_sql) for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", q)} & tables
    )
    unknown = sorted(set(inp.table_versions) - tables)
    if unknown:
        raise ValueError(
            f"table_versions names {unknown}, which are not lakehouse tables ({', '.join(sorted(tables))})"
        )
    versions = {t: inp.table_versions.get(t, lake.version(t)) for t in named}
    for t, v in versions.items():  # unqualified names resolve to these temporary views first
        lake.read(t, v).createOrReplaceTempView(t)
    out: list[tuple] = []
    try:
        for positive, query in ((True, inp.positive_sql), (False, inp.negative_sql)):
            df = spark.sql(query)
            if "text" not in df.columns:
                raise ValueError(f"the {'positive' if positive else 'negative'} query must return a `text` column")
            group = "group" if "group" in df.columns else "doc_id" if "doc_id" in df.columns else None
            trainable = f"coalesce(({inp.train_where}), false)" if inp.train_where else "true"
            cols = ["CAST(text AS STRING) AS text", f"{trainable} AS trainable"]
            cols.append(f"CAST({_quote(group)} AS STRING) AS grp" if group else "CAST(NULL AS STRING) AS grp")
            for r in df.selectExpr(*cols).collect():
                out.append(
                    (r["text"], positive, None if r["grp"] is None else f"{int(positive)}:{r['grp']}", r["trainable"])
                )
    except PySparkException as e:
        raise ValueError(f"training query failed: {str(e).splitlines()[0]}") from None
    finally:
        for t in named:
            spark.catalog.dropTempView(t)
    source = {
        "kind": "sql",
        "positive_sql": inp.positive_sql,
        "negative_sql": inp.negative_sql,
        "tables": {lake.fq(t): v for t, v in versions.items()},
        "train_where": inp.train_where,
    }
    return out, source


# ------------------------------------------------------------------------------------------------------------------
# The registry
# ------------------------------------------------------------------------------------------------------------------


def models_dir(lake) -> str:
    """Where model files live: ``<lakehouse>/models`` (a folder, or a prefix in object storage). Executors get a
    model through ``SparkContext.addFile`` of its URI (Hadoop's filesystem fetches it, s3a:// included)."""
    return lake.files("models")


def registered(lake, name: str) -> list[dict]:
    """Every version of ``name`` in ``models``, oldest first ([] when none or no table)."""
    if not lake.exists(MODELS.name):
        return []
    rows = lake.read(MODELS.name).where(f"name = '{name}'").orderBy("version").collect()
    return [r.asDict() for r in rows]


def model_ref(row: dict) -> ModelRef:
    return ModelRef(
        name=row["name"],
        version=int(row["version"]),
        path=row["path"],
        sha256=row["sha256"],
        positive_label=row["positive_label"],
        languages=None if row["languages"] is None else tuple(row["languages"]),
        max_chars=int(row["max_chars"]),
        normalization=row["normalization"],
    )


def resolve_classifiers(lake, cfg: CurateConfig) -> CurateConfig:
    """``cfg`` with each classifier's version, model and threshold filled in from ``models``."""
    if not cfg.classifiers:
        return cfg
    out: dict[str, ClassifierRule] = {}
    for name, rule in cfg.classifiers.items():
        rows = registered(lake, name)
        if not rows:
            raise ValueError(
                f"classifier {name!r} is in the curate config but not in {lake.fq(MODELS.name)}: train it first "
                f"(lakeforge train-classifier --name {name} ...)"
            )
        if rule.version is None:
            row = rows[-1]
        else:
            match = [r for r in rows if r["version"] == rule.version]
            if not match:
                have = ", ".join(str(r["version"]) for r in rows)
                raise ValueError(f"classifier {name!r} has no version {rule.version} (registered: {have})")
            row = match[0]
        ref = model_ref(row)
        if not lake.store.exists(ref.path):
            raise ValueError(f"classifier {ref.model_id}: its model file {ref.path} is missing")
        out[name] = resolved(name, rule, ref, row["threshold"])
    return replace(cfg, classifiers=out)


@dataclass
class TrainReport(JobReport):
    """What one train-classifier run did."""

    job: str = "train-classifier"
    model_id: str = ""
    version: int = 0
    created: bool = False
    """False: the same examples and settings were registered already (that version is returned)."""
    row: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    baseline: dict = field(default_factory=dict)
    """The untuned fastText baseline's metrics on the same split."""
    counts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.row.items()}
        for k in ("metrics", "settings", "source", "split_counts"):
            if isinstance(row.get(k), str):
                row[k] = json.loads(row[k])
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "created": self.created,
            "model": row,
            "baseline_untuned": self.baseline,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
        }

    def unreconciled(self) -> str | None:
        c = self.counts
        if not c:
            return None
        used = sum(c[s]["positive"] + c[s]["negative"] for s in tr.SPLITS)
        rejected = sum(c["rejected"].values())
        chunks = c.get("chunked_from")
        if chunks is None and c["rows_in"] != used + rejected:
            return f"rows_in {c['rows_in']} != examples {used} + rejected {rejected}"
        return None


def run_train_classifier(spark, lake, cfg: TrainClassifierConfig, run: RunInfo) -> TrainReport:
    """Examples → split → fastText → metrics → a new ``models`` version (or the existing one for the same hash)."""
    t0 = time.perf_counter()
    report = TrainReport(run.run_id)
    settings = cfg.model
    if cfg.input.kind == "file":
        rows, source = read_labelled_file(spark, cfg.input)
    else:
        rows, source = read_sql_examples(spark, lake, cfg.input)
        run.input_tables = dict(source["tables"])
    dataset = tr.prepare(rows, settings)
    report.counts = dataset.counts()
    if settings.chunk_words:
        report.counts["chunked_from"] = len(rows)
    digest = tr.training_hash(dataset, settings)
    lake.ensure(MODELS)
    existing = registered(lake, cfg.name)
    for row in existing:
        if row["training_hash"] == digest and lake.store.exists(row["path"]):
            report.row, report.model_id, report.version = row, row["model_id"], int(row["version"])
            report.metrics = json.loads(row["metrics"])
            report.seconds = time.perf_counter() - t0
            return report

    version = (max(r["version"] for r in existing) + 1) if existing else 1
    store = lake.store
    with tempfile.TemporaryDirectory(prefix="lakeforge-model-") as work:
        t = time.perf_counter()
        model = tr.fit(dataset, settings, work)
        train_seconds = time.perf_counter() - t
        report.metrics = tr.evaluate(model, dataset, settings)
        report.baseline = tr.evaluate(tr.fit_untuned(dataset, settings, work), dataset, settings, raw=True)
        tmp = Path(work) / "model.bin"
        model.save_model(str(tmp))
        sha = file_sha256(tmp)
        size = tmp.stat().st_size
        # A key no other run writes (version and content hash); a whole-object write (a local temp name renamed,
        # or one S3 PUT), visible to readers only through the registry row written last.
        final = join(models_dir(lake), cfg.name, f"v{version}-{sha[:12]}.bin")
        store.upload(tmp, final)

    test = report.metrics["test"]
    model_id = f"{cfg.name}@v{version}"
    row = {
        "name": cfg.name,
        "version": version,
        "model_id": model_id,
        "kind": "fasttext",
        "path": final,
        "sha256": sha,
        "size_bytes": size,
        "positive_label": settings.positive_label,
        "negative_label": settings.negative_label,
        "languages": None if settings.languages is None else list(settings.languages),
        "normalization": NORMALIZATION,
        "max_chars": settings.max_chars,
        "training_hash": digest,
        "source": json.dumps(source, sort_keys=True),
        "settings": json.dumps(asdict(settings), sort_keys=True),
        "split_counts": json.dumps(report.counts, sort_keys=True),
        "metrics": json.dumps(report.metrics | {"baseline_untuned": _brief(report.baseline)}, sort_keys=True),
        "threshold": float(report.metrics["threshold"]),
        "target": settings.target,
        "test_macro_f1": test["macro_f1"],
        "test_positive_f1": test["classes"][settings.positive_label]["f1"],
        "test_roc_auc": test["roc_auc"],
        "train_seconds": round(train_seconds, 3),
        "run_id": run.run_id,
        "code_version": run.code_version,
        "config_hash": run.config_hash,
        "created_at": datetime.now(UTC),
    }
    card = final.removesuffix(".bin") + ".json"
    store.write_bytes(card, json.dumps(row, default=str, indent=1, sort_keys=True).encode())
    lake.merge_new(MODELS, spark.createDataFrame([row], MODELS.to_spark()), run.commit_metadata())
    mine = [r for r in registered(lake, cfg.name) if r["version"] == version]
    if not mine or mine[0]["sha256"] != sha:
        raise ValueError(f"another run registered {model_id} at the same time; run train-classifier again")
    report.row, report.model_id, report.version, report.created = mine[0], model_id, version, True
    report.seconds = time.perf_counter() - t0
    return report


def _brief(m: dict) -> dict:
    """A baseline's figures without its sweep."""
    return {k: v for k, v in m.items() if k != "sweep"}


# ------------------------------------------------------------------------------------------------------------------
# Scoring documents
# ------------------------------------------------------------------------------------------------------------------


def run_classify(spark, lake, cfg: CurateConfig, run: RunInfo):
    """Score the documents that lack a score from the configured model versions (one MERGE), then apply the
    verdict (one UPDATE where it changes); the funnel goes to ``stats``."""
    from delta.tables import DeltaTable

    report = JobReport(run.run_id, "classify")
    step = report.step
    step("prepare")
    if not cfg.classifiers:
        raise ValueError("no classifiers in the curate config: add a `classifiers:` section (see conf/curate.yaml)")
    if not lake.version(DOCUMENTS.name):
        raise ValueError(f"{lake.fq(DOCUMENTS.name)} is empty or missing in {lake.root}: run `lakeforge curate` first")
    lake.ensure(STATS)
    documents_table_schema(lake, cfg)
    docs_version = lake.version(DOCUMENTS.name)
    run.input_tables = {lake.fq(DOCUMENTS.name): docs_version, lake.fq(MODELS.name): lake.version(MODELS.name)}
    meta = run.commit_metadata()

    step("score")
    stale = " OR ".join(f"NOT ({model_column(n)} <=> '{r.model.model_id}')" for n, r in cfg.classifiers.items())
    todo = lake.read(DOCUMENTS.name, docs_version).where(stale).select("doc_id", "text", "language")
    scored = add_scores(spark, todo, cfg.classifiers)
    from pyspark import StorageLevel

    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)  # why: counted, then merged; scoring runs once
    n = scored.count()
    details = {"scored": n, "classifiers": {}}
    if n:
        step("merge")
        cols = [c for name in cfg.classifiers for c in (score_column(name), model_column(name))]
        target = DeltaTable.forName(spark, lake.fq(DOCUMENTS.name))
        with lake.commit_metadata(meta):
            target.alias("t").merge(scored.select("doc_id", *cols).alias("s"), "t.doc_id = s.doc_id").whenMatchedUpdate(
                set={c: f"s.{c}" for c in cols}
            ).execute()
    scored.unpersist()
    step("verdict")
    report.changed = apply_verdict(spark, lake, cfg, run)
    docs = lake.read(DOCUMENTS.name)
    for name, rule in cfg.classifiers.items():
        s = score_column(name)
        r = docs.selectExpr(
            f"count({s}) AS scored",
            f"count_if({s} IS NULL AND text IS NOT NULL) AS unscored",
            f"count_if(array_contains(drop_reasons, '{reason_of(name, rule)}')) AS failing",
        ).first()
        details["classifiers"][name] = {
            "model": rule.model.model_id,
            "threshold": rule.threshold,
            "drop": rule.drop,
            "scored": r["scored"],
            "null_score": r["unscored"],
            "failing": r["failing"],
        }
    report.details = details
    head = [("input", "", "in", docs.count())]
    write_funnel(lake, report, docs, head, reason_stage=reason_stages(cfg), error_reasons=ERROR_REASONS, meta=meta)
    report.finish()
    return report
