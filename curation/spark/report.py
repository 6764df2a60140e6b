"""Fill :class:`curation.report.ReportData` from a lakehouse (and a training folder) with Spark.

Every table is read at one version, fixed at the start (the ``documents`` version a pipeline run wrote last, else the
latest), so all sections describe the same data. Counts, histograms and cluster sizes are aggregations on Spark; only
their small results reach the driver (a histogram is ``bins`` rows, the clusters table ``max_clusters`` rows). The bins
and the rules come from the pure modules (:mod:`curation.report.signals`), which also give the SQL that counts them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curation.report.funnel import choose_runs, funnel_run
from curation.report.model import (
    ClassifierInfo,
    DuplicateCluster,
    Duplicates,
    Histogram,
    LanguageCount,
    Lineage,
    Mixture,
    MixtureComponent,
    PipelineStage,
    ReportData,
    RuleCount,
    ShardSet,
    Signals,
    TableVersion,
    Threshold,
    Tokens,
)
from curation.report.runs import pipeline_stages
from curation.report.signals import (
    SIGNAL_GROUPS,
    BinSpec,
    bin_spec,
    bin_sql,
    describe_rule,
    rule_thresholds,
    rules_of,
    verdict_config,
)
from curation.report.training import index_cache_dir, read_training_log, realized_shares
from schemas.documents import DOCUMENTS, classifier_names

KEPT = "drop_reason IS NULL"
READ_TABLES = (DOCUMENTS.name, "stats", "models", "mixtures", "token_shards", "runs")
"""The tables the report reads; the others are listed with their latest version only."""


def collect(
    spark,
    lake,
    *,
    pipeline_run_id: str | None = None,
    train_dir: str | Path | None = None,
    title: str | None = None,
    bins: int = 30,
    max_clusters: int = 10,
) -> ReportData:
    """Everything the report shows about ``lake`` (a :class:`~curation.spark.lakehouse.Lakehouse`).

    ``pipeline_run_id``: a ``lakeforge run`` in the ``runs`` table (default: its latest run, when the table exists);
    its stages choose the funnel runs, the ``documents`` version, the training folder and the mixture.
    ``train_dir``: a training ``out_dir`` (its ``log.jsonl``); overrides the pipeline's ``train`` stage.
    Raises ValueError for a ``pipeline_run_id`` the runs table does not have.
    """
    versions = {name: lake.version(name) for name in lake.table_folders()}
    rows: dict[str, int] = {}  # rows of each table read, counted along the way (no extra scan)
    data = ReportData(
        title=title or "lakeforge report",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        lakehouse=str(lake.root),
    )
    lineage = Lineage(tables=[])
    stages = _pipeline(lake, versions, pipeline_run_id, lineage, rows)
    outputs = [s.outputs for s in stages]
    pinned_docs = [o["documents"] for o in outputs if isinstance(o.get("documents"), int)]
    docs_version = versions.get(DOCUMENTS.name)
    if pinned_docs and docs_version is not None:
        docs_version = min(max(pinned_docs), docs_version)
    read_at = dict(versions) | ({DOCUMENTS.name: docs_version} if docs_version is not None else {})
    data.documents_version = docs_version

    if train_dir is None:
        train_dir = next((o.get("out_dir") for o in outputs if o.get("out_dir")), None)
    if train_dir is not None:
        data.training = read_training_log(train_dir)
        if data.training is None:
            data.missing["training"] = (
                f"no log.jsonl in {train_dir}: `lakeforge train --set out_dir={train_dir}` writes it"
            )

    data.funnel = _funnel(lake, read_at, [s.job_run_id for s in stages if s.job_run_id], data, rows)

    history: dict[int, dict] = {}
    if docs_version is not None:
        history = commits(lake, DOCUMENTS.name, range(docs_version + 1))
        meta = [(v, c.get("userMetadata")) for v, c in history.items()]
        _documents(lake, lake.read(DOCUMENTS.name, docs_version), meta, read_at, data, bins, max_clusters, rows)
    else:
        for section in ("languages", "signals", "classifiers", "duplicates"):
            data.missing[section] = "no documents table: run `lakeforge curate` (or `lakeforge import-text`) first"

    mixture_id = (data.training.start.get("mixture_id") if data.training else None) or next(
        (o.get("mixture_id") for o in outputs if o.get("mixture_id")), None
    )
    data.tokens = _tokens(lake, read_at, mixture_id, train_dir if data.training else None, rows)

    # The versions behind every section: the tables read, each with the commit that made the version read.
    rows[DOCUMENTS.name] = data.documents
    for name in sorted(read_at):
        version = read_at[name]
        if name not in READ_TABLES:
            lineage.others.append(TableVersion(name, version))
            continue
        commit = (history if name == DOCUMENTS.name else commits(lake, name, [version])).get(version, {})
        lineage.tables.append(_table_version(name, version, rows.get(name), commit))
    lineage.history = [_table_version(DOCUMENTS.name, v, None, history[v]) for v in sorted(history, reverse=True)]
    data.lineage = lineage if lineage.tables else None
    return data


# ------------------------------------------------------------------------------------------------------- pipeline
def _pipeline(lake, versions: dict, pipeline_run_id: str | None, lineage: Lineage, counts: dict) -> list[PipelineStage]:
    """The stages of the pipeline run (final status row per stage), recorded into ``lineage``."""
    if "runs" not in versions:
        if pipeline_run_id:
            raise ValueError(f"pipeline run {pipeline_run_id!r}: the lakehouse has no runs table")
        lineage.runs_note = "no runs table: the chain was run job by job (`lakeforge run pipeline.yaml` records one)"
        return []
    from pyspark.sql import functions as F

    runs = lake.read("runs", versions["runs"])
    counts["runs"] = runs.count()
    if pipeline_run_id is None:
        latest = runs.orderBy(F.col("started_at").desc(), F.col("pipeline_run_id").desc()).select("pipeline_run_id")
        row = latest.first()
        if row is None:
            lineage.runs_note = "the runs table is empty: no `lakeforge run` has started"
            return []
        pipeline_run_id = row["pipeline_run_id"]
    rows = [r.asDict() for r in runs.where(F.col("pipeline_run_id") == pipeline_run_id).collect()]
    if not rows:
        known = [r["pipeline_run_id"] for r in runs.select("pipeline_run_id").distinct().limit(20).collect()]
        raise ValueError(f"no pipeline run {pipeline_run_id!r} in the runs table (known: {', '.join(known) or 'none'})")
    lineage.pipeline_run_id = pipeline_run_id
    lineage.pipeline = rows[0].get("pipeline") or ""
    reused = sorted({r["reused_run_id"] for r in rows if r["status"] == "skipped" and r.get("reused_run_id")})
    producers = []
    if reused:
        built = runs.where(F.col("pipeline_run_id").isin(reused) & (F.col("status") == "succeeded"))
        producers = [
            r.asDict() for r in built.select("pipeline_run_id", "stage", "status", "seconds", "counts").collect()
        ]
    stages = pipeline_stages(rows, producers)
    lineage.stages = stages
    return stages


# --------------------------------------------------------------------------------------------------------- funnel
def _funnel(lake, read_at: dict, job_run_ids: list[str], data: ReportData, counts: dict):
    from pyspark.sql import functions as F

    if "stats" not in read_at:
        return None
    stats = lake.read("stats", read_at["stats"])
    decided = F.sum(F.when(F.col("outcome").isin("kept", "dropped"), F.col("count")).otherwise(0))
    summaries = [
        r.asDict()
        for r in stats.groupBy("run_id")
        .agg(
            F.first("job").alias("job"),
            F.max("created_at").alias("created_at"),
            decided.alias("decided"),
            F.sum(F.when((F.col("stage") == "input") & (F.col("outcome") == "in"), F.col("count"))).alias("records"),
            F.sum(F.when(F.col("outcome") == "kept", F.col("count"))).alias("kept"),
            F.count(F.lit(1)).alias("rows"),
        )
        .collect()
    ]
    counts["stats"] = sum(s["rows"] for s in summaries)
    data.stats_runs = sorted(
        ({k: s[k] for k in ("run_id", "job", "created_at", "records", "kept", "decided")} for s in summaries),
        key=lambda s: str(s["created_at"]),
    )
    if not summaries:
        data.missing["funnel"] = "the stats table is empty: run `lakeforge curate` first"
        return None
    chosen = choose_runs(summaries, job_run_ids)
    ids = [run_id for run_id, _ in chosen]
    rows: dict[str, list[dict]] = {run_id: [] for run_id in ids}
    for r in stats.where(F.col("run_id").isin(ids)).collect():  # a few dozen rows per run
        rows[r["run_id"]].append(r.asDict())
    return [funnel_run(rows[run_id], why) for run_id, why in chosen if rows[run_id]]


# ------------------------------------------------------------------------------------------------------ documents
def _documents(lake, docs, history, read_at: dict, data: ReportData, bins: int, max_clusters: int, counts) -> None:
    """Languages, signals, classifier scores and duplicates of one ``documents`` version, in five aggregations."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    cfg, source, is_default = verdict_config(history)
    columns = set(docs.columns)
    classifiers = classifier_names(docs.columns)
    signal_cols = [c for group in SIGNAL_GROUPS.values() for c in group if c in columns]
    rules = [(stage, rule) for stage, rule in rules_of(cfg) if rule.signal in columns]
    thresholds = [t for t in rule_thresholds(cfg) if t.signal in columns]
    score_cols = [f"{n}_score" for n in classifiers]
    model_cols = [f"{n}_model" for n in classifiers]
    dedup_cols = {"dup_cluster_id", "dup_of", "dup_similarity", "dup_exact", "dedup_run_id", "doc_id", "url"}
    wanted = {"language", "drop_reason"} | dedup_cols | set(signal_cols) | set(score_cols) | set(model_cols)
    wanted |= {rule.signal for _, rule in rules} | ({"language_score"} & columns)
    has_dedup = "dup_cluster_id" in columns
    narrow = docs.select(*sorted(c for c in wanted if c in columns))
    if has_dedup:  # the similarity of near duplicates only: exact copies (1.0) would swamp them in a histogram
        near = F.col("dup_of").isNotNull() & ~F.col("dup_exact")
        narrow = narrow.withColumn("near_similarity", F.when(near, F.col("dup_similarity")))
    # Every aggregation below reads these columns only (not the text): keep the narrow projection in memory
    # rather than scanning the Parquet files once per aggregation.
    narrow = narrow.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        # 1. Totals, each signal's range and null count, documents failing each rule, duplicates by kind.
        ranged = signal_cols + score_cols + (["near_similarity"] if has_dedup else [])
        aggs = [F.count(F.lit(1)).alias("n"), F.sum(F.expr(f"CAST({KEPT} AS INT)")).alias("kept")]
        for c in ranged:
            aggs += [F.min(c).alias(f"min__{c}"), F.max(c).alias(f"max__{c}"), F.count(c).alias(f"nn__{c}")]
        for i, (_, rule) in enumerate(rules):
            aggs.append(F.sum(F.expr(f"CASE WHEN {rule.sql()} THEN 1 ELSE 0 END")).alias(f"rule__{i}"))
        if has_dedup:
            dup = F.col("dup_of").isNotNull()
            aggs += [
                F.sum(F.when(dup & F.col("dup_exact"), 1).otherwise(0)).alias("dup_exact_n"),
                F.sum(F.when(dup & ~F.col("dup_exact"), 1).otherwise(0)).alias("dup_near_n"),
                F.count("dedup_run_id").alias("deduplicated"),
            ]
        totals = narrow.agg(*aggs).first().asDict()
        data.documents, data.kept = int(totals["n"]), int(totals["kept"] or 0)

        # 2. Facets: documents by language, first failing reason and the models that scored them (a few hundred
        #    rows at most), from which languages, the rules' first-failing counts and model usage are summed.
        facets = narrow.groupBy("language", "drop_reason", *model_cols).count().collect()
        langs: dict[str | None, list[int]] = {}
        first: dict[str | None, int] = {}
        used: dict[str, dict[str, int]] = {c: {} for c in model_cols}
        for r in facets:
            n = int(r["count"])
            lang = langs.setdefault(r["language"], [0, 0])
            lang[0] += n
            lang[1] += n if r["drop_reason"] is None else 0
            first[r["drop_reason"]] = first.get(r["drop_reason"], 0) + n
            for c in model_cols:
                if r[c] is not None:
                    used[c][r[c]] = used[c].get(r[c], 0) + n
        data.languages = [LanguageCount(k, v[0], v[1]) for k, v in langs.items()] or None
        if not data.languages:
            data.missing["languages"] = f"documents v{read_at[DOCUMENTS.name]} is empty"

        # 3. Histograms: bins decided from the ranges, counted in one aggregation over (column, bin, kept).
        specs: dict[str, BinSpec] = {}
        for c in signal_cols:
            if totals[f"nn__{c}"]:
                mine = [t for t in thresholds if t.signal == c]
                specs[c] = bin_spec(c, _f(totals[f"min__{c}"]), _f(totals[f"max__{c}"]), mine, bins)
        for c in score_cols:
            specs[c] = BinSpec(0.0, 1.0, 20, False)
        dedup = _dedup_config(history)
        near_thr = dedup.get("threshold") if isinstance(dedup.get("threshold"), int | float) else None
        if has_dedup and totals.get("nn__near_similarity"):
            lo = min(x for x in (_f(totals["min__near_similarity"]), near_thr, 1.0) if x is not None)
            specs["near_similarity"] = BinSpec(max(0.0, lo - 0.02), 1.0, 20, False)
        counted = _histograms(narrow, specs)

        # Documents with signals are those curate/extract computed them for (imported text has none): count a
        # signal's nulls among them, where a null means something (no stop words outside English).
        with_signals = int(totals.get("nn__gopher_word_count") or 0)
        groups: dict[str, list[Histogram]] = {}
        for title, cols in SIGNAL_GROUPS.items():
            hs = []
            for c in (c for c in cols if c in specs):
                base = data.documents if c == "text_length" else with_signals
                hs.append(
                    Histogram(
                        column=c,
                        edges=specs[c].edges(),
                        counts=counted[c][0],
                        kept=counted[c][1],
                        log=specs[c].log,
                        thresholds=[t for t in thresholds if t.signal == c],
                        nulls=max(0, base - int(totals[f"nn__{c}"])),
                        description=DOCUMENTS.field(c).doc if c in DOCUMENTS.names else "",
                    )
                )
            if hs:
                groups[title] = hs
        if groups and with_signals:
            data.signals = Signals(
                groups=groups,
                rules=[
                    RuleCount(
                        stage,
                        rule.signal,
                        *describe_rule(rule),
                        rule.reason,
                        int(totals[f"rule__{i}"] or 0),
                        first.get(rule.reason, 0),
                    )
                    for i, (stage, rule) in enumerate(rules)
                ],
                config_source=source,
                config_is_default=is_default,
                documents=with_signals,
            )
        else:
            data.missing["signals"] = (
                f"none of the {data.documents:,} documents of v{read_at[DOCUMENTS.name]} has quality signals "
                "(imported text has none): run `lakeforge curate` on WARC files"
            )

        if classifiers:
            data.classifiers = _classifiers(lake, read_at, classifiers, cfg, totals, counted, specs, used, data, counts)
        if has_dedup:
            # 4-5. Cluster sizes and the largest clusters with example URLs.
            data.duplicates = _duplicates(narrow, totals, counted, specs, dedup, near_thr, max_clusters, data)
        else:
            data.missing["duplicates"] = "documents has no dedup columns: run `lakeforge dedup`"
    finally:
        narrow.unpersist()


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def _histograms(df, specs: dict[str, BinSpec]) -> dict[str, tuple[list[int], list[int]]]:
    """Column → (counts per bin, kept per bin), from one ``stack`` + ``groupBy`` over every column's bin index."""
    out = {c: ([0] * specs[c].bins, [0] * specs[c].bins) for c in specs}
    if not specs:
        return out
    names = sorted(specs)
    pairs = ", ".join(f"'{c}', {bin_sql(c, specs[c])}" for c in names)
    rows = (
        df.selectExpr(f"CAST({KEPT} AS INT) AS kept", f"stack({len(names)}, {pairs}) AS (signal, bin)")
        .where("bin IS NOT NULL")
        .groupBy("signal", "bin", "kept")
        .count()
        .collect()
    )
    for r in rows:
        counts, kept = out[r["signal"]]
        counts[r["bin"]] += int(r["count"])
        if r["kept"]:
            kept[r["bin"]] += int(r["count"])
    return out


def _classifiers(lake, read_at, names, cfg, totals, counted, specs, used, data, counts) -> list[ClassifierInfo]:
    models: dict[str, dict] = {}
    if "models" in read_at:
        for r in lake.read("models", read_at["models"]).collect():  # one row per trained version
            models[r["model_id"]] = r.asDict()
        counts["models"] = len(models)
    out = []
    for name in names:
        score = f"{name}_score"
        by_model = used.get(f"{name}_model", {})
        newest = max(by_model, key=lambda m: (models.get(m, {}).get("version") or 0, m), default=None)
        row = models.get(newest, {}) if newest else {}
        rule = cfg.classifiers.get(name)
        if rule is not None and rule.threshold is not None:
            op = ">=" if rule.drop == "above" else "<"
            reason = rule.reason or f"{name}_{'high' if rule.drop == 'above' else 'low'}"
            thresholds = [Threshold(score, op, float(rule.threshold), reason, "classifiers")]
            source = "the verdict's config"
        elif row.get("threshold") is not None:
            thresholds = [Threshold(score, ">=", float(row["threshold"]), "operating threshold", "classifiers")]
            source = f"{newest}'s operating threshold (no drop rule in the verdict's config)"
        else:
            thresholds, source = [], "no threshold known"
        scored = int(totals.get(f"nn__{score}") or 0)
        counts, kept = counted[score]
        hist = Histogram(score, specs[score].edges(), counts, kept, False, thresholds, data.documents - scored)
        metrics = {k: row.get(k) for k in ("threshold", "target", "test_macro_f1", "test_positive_f1", "test_roc_auc")}
        out.append(ClassifierInfo(name, hist, scored, by_model, row.get("positive_label") or "", metrics, source))
    return out


def _dedup_config(history: list[tuple[int, str | None]]) -> dict:
    """The config of the newest dedup commit of documents (``{}`` when dedup never ran), with its run id."""
    for _, raw in sorted(history, key=lambda c: -c[0]):
        try:
            meta = json.loads(raw) if raw else {}
        except ValueError:
            continue
        if isinstance(meta, dict) and meta.get("job") == "dedup" and isinstance(meta.get("config"), dict):
            return meta["config"] | {"run_id": meta.get("run_id", "")}
    return {}


def _duplicates(narrow, totals, counted, specs, dedup, near_thr, max_clusters, data) -> Duplicates | None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    in_cluster = narrow.where(F.col("dup_cluster_id").isNotNull())
    dup = F.col("dup_of").isNotNull()
    clusters = in_cluster.groupBy("dup_cluster_id").agg(
        F.count(F.lit(1)).alias("size"),
        F.sum(F.when(dup & F.col("dup_exact"), 1).otherwise(0)).alias("exact"),
        F.sum(F.when(dup & ~F.col("dup_exact"), 1).otherwise(0)).alias("near"),
        F.min(F.when(dup, F.col("dup_similarity"))).alias("min_similarity"),
    )
    # Sizes and the largest clusters in one pass: each cluster row carries the count of clusters of its size.
    ranked = clusters.withColumn("clusters_of_size", F.count(F.lit(1)).over(Window.partitionBy("size")))
    by_size = ranked.select("size", "clusters_of_size").distinct().collect()
    size_counts = {int(r["size"]): int(r["clusters_of_size"]) for r in by_size}
    if not size_counts:
        data.missing["duplicates"] = (
            f"dedup ran (run {dedup.get('run_id') or '?'}) and found no duplicates among the kept documents"
            if totals.get("deduplicated")
            else "dedup has not run on this documents version: run `lakeforge dedup`"
        )
        return None
    top = clusters.orderBy(F.col("size").desc(), F.col("dup_cluster_id")).limit(max_clusters).collect()
    ids = [r["dup_cluster_id"] for r in top]
    order = Window.partitionBy("dup_cluster_id").orderBy(F.col("dup_of").isNull().desc(), F.col("doc_id"))
    sample = (
        in_cluster.where(F.col("dup_cluster_id").isin(ids))
        .withColumn("k", F.row_number().over(order))
        .where("k <= 7")  # the survivor and up to six duplicates per cluster
        .select("dup_cluster_id", "doc_id", "dup_of", "url")
        .collect()
    )
    members: dict[str, list[str]] = {i: [] for i in ids}
    survivor: dict[str, str] = {}
    for r in sorted(sample, key=lambda r: (r["dup_cluster_id"], r["doc_id"])):
        if r["dup_of"] is None:
            survivor[r["dup_cluster_id"]] = r["url"]
        else:
            members[r["dup_cluster_id"]].append(r["url"] or r["doc_id"])
    largest = [
        DuplicateCluster(
            cluster_id=r["dup_cluster_id"],
            size=int(r["size"]),
            exact=int(r["exact"] or 0),
            near=int(r["near"] or 0),
            min_similarity=_f(r["min_similarity"]),
            survivor_url=survivor.get(r["dup_cluster_id"]),
            urls=members[r["dup_cluster_id"]],
        )
        for r in top
    ]
    exact, near = int(totals.get("dup_exact_n") or 0), int(totals.get("dup_near_n") or 0)
    similarity = None
    if near and "near_similarity" in specs:
        counts, kept = counted["near_similarity"]
        thr = [Threshold("dup_similarity", ">=", float(near_thr), "near_duplicate", "dedup")] if near_thr else []
        similarity = Histogram("dup_similarity", specs["near_similarity"].edges(), counts, kept, False, thr)
    settings = ", ".join(f"{k} {dedup[k]}" for k in ("threshold", "ngram", "num_perm") if k in dedup)
    return Duplicates(
        clusters=sum(size_counts.values()),
        documents=sum(s * n for s, n in size_counts.items()),
        duplicates=exact + near,
        exact=exact,
        near=near,
        size_counts=size_counts,
        largest=largest,
        similarity=similarity,
        dedup_config=f"dedup run {dedup.get('run_id')}: {settings}." if dedup else "",
    )


# --------------------------------------------------------------------------------------------------------- tokens
def _tokens(lake, read_at: dict, mixture_id: str | None, train_dir, counts: dict) -> Tokens | None:
    from pyspark.sql import functions as F

    shard_sets = []
    if "token_shards" in read_at:
        cols = ["shard_set_id", "name", "source_table", "source_version", "filter", "documents", "tokens"]
        cols += ["num_shards", "created_at"]
        found = lake.read("token_shards", read_at["token_shards"]).select(*cols).orderBy("created_at").collect()
        counts["token_shards"] = len(found)  # one row per shard set
        for r in found:
            shard_sets.append(
                ShardSet(
                    r["shard_set_id"],
                    r["name"],
                    _source(r["source_table"], r["source_version"], r["filter"]),
                    int(r["documents"]),
                    int(r["tokens"]),
                    int(r["num_shards"]),
                    str(r["created_at"])[:19],
                )
            )
    if "mixtures" not in read_at:
        if not shard_sets:
            return None
        return Tokens(None, shard_sets, "no mixture pinned yet: run `lakeforge mix mixture.yaml`")
    mixtures = lake.read("mixtures", read_at["mixtures"])
    counts["mixtures"] = mixtures.count()
    why = ""
    row = None
    if mixture_id:
        row = mixtures.where(F.col("mixture_id") == mixture_id).first()
        why = " (the mixture the training run read)" if train_dir else " (the pipeline run's mix stage)"
        if row is None:
            why = f" (mixture {mixture_id} is not in the mixtures table: showing the latest)"
    if row is None:
        row = mixtures.orderBy(F.col("created_at").desc()).first()
        why = why or " (the latest pinned mixture)"
    if row is None:
        return Tokens(None, shard_sets, "the mixtures table is empty: run `lakeforge mix mixture.yaml`")
    blend = _blend(lake, row)
    by_name = {c.get("name"): c for c in blend.get("components", [])}
    epochs = row["epochs"] or [None] * len(row["components"])
    components = []
    for name, weight, tokens, sid, ep in zip(
        row["components"], row["weights"], row["component_tokens"], row["shard_set_ids"], epochs, strict=True
    ):
        c = by_name.get(name, {})
        components.append(
            MixtureComponent(
                name=name,
                weight=float(weight),
                tokens=int(tokens),
                documents=c.get("documents"),
                shard_set_id=sid,
                shard_set_name=c.get("shard_set_name", ""),
                source=_source(c.get("source_table"), c.get("source_version"), c.get("filter")),
                epochs=None if ep is None else float(ep),
            )
        )
    mixture = Mixture(
        mixture_id=row["mixture_id"],
        name=row["name"],
        components=components,
        path=row["path"] or "",
        created_at=str(row["created_at"])[:19],
        seq_length=row["seq_length"],
        tokens_budget=row["tokens_budget"],
        warnings=list(row["warnings"] or []),
        chosen_because=why,
    )
    if train_dir is not None and blend:
        shares, note = realized_shares(index_cache_dir(train_dir), blend)
        for c in components:
            c.realized = None if shares is None else shares.get(c.name, 0.0)
        mixture.realized_note = note
    else:
        mixture.realized_note = (
            "needs a training run's index cache (--train-dir); `lakeforge mix --check` measures them without training"
        )
    return Tokens(mixture, shard_sets)


def _blend(lake, row) -> dict:
    """The pinned blend document: the JSON file ``lakeforge mix`` wrote, else the copy in the mixtures row."""
    from curation.storage import StoreError, is_remote

    candidates = [row["path"], lake.files("mixtures", row["name"], f"{row['mixture_id']}.json")]
    for p in candidates:
        try:
            if p and is_remote(p):  # in the lakehouse's bucket: read with its settings
                return json.loads(lake.store.read_bytes(p))
            if p and Path(p).is_file():
                return json.loads(Path(p).read_text())
        except StoreError:
            continue
        except ValueError:
            break
    try:
        return json.loads(row["blend"] or "{}")
    except ValueError:
        return {}


def _source(table, version, where) -> str:
    if not table:
        return ""
    return f"{table} v{version}" + (f" where {where}" if where else "")


# -------------------------------------------------------------------------------------------------------- lineage
def commits(lake, name: str, versions) -> dict[int, dict]:
    """Version → its commit (``operation``, ``timestamp``, ``userMetadata``) for the given versions of a table.

    Local tables: read from the commit files (``_delta_log/<version>.json``), as :meth:`Lakehouse.version` does,
    which costs no Spark job; versions whose file is gone (log retention) and remote tables: ``DESCRIBE HISTORY``.
    """
    wanted = sorted(set(versions))
    out: dict[int, dict] = {}
    if "://" not in lake.root:
        log = Path(lake.path(name)) / "_delta_log"
        for v in wanted:
            path = log / f"{v:020d}.json"
            if not path.is_file():
                continue
            with path.open(encoding="utf-8") as f:
                for line in f:
                    if line.startswith('{"commitInfo"'):
                        info = json.loads(line)["commitInfo"]
                        ts = info.get("timestamp")
                        when = datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else ""
                        out[v] = {
                            "operation": info.get("operation", ""),
                            "timestamp": when,
                            "userMetadata": info.get("userMetadata"),
                        }
                        break
    missing = [v for v in wanted if v not in out]
    if missing:
        from pyspark.sql import functions as F

        hist = lake.history(name).where(F.col("version").isin(missing))
        for r in hist.select("version", "operation", "timestamp", "userMetadata").collect():
            out[int(r["version"])] = {
                "operation": r["operation"] or "",
                "timestamp": str(r["timestamp"])[:19],
                "userMetadata": r["userMetadata"],
            }
    return out


def _table_version(name: str, version: int | None, rows: int | None, commit: dict) -> TableVersion:
    raw = commit.get("userMetadata")
    try:
        meta = json.loads(raw) if raw else {}
    except ValueError:
        meta = {"job": raw}
    meta = meta if isinstance(meta, dict) else {}
    return TableVersion(
        table=name,
        version=version,
        rows=rows,
        operation=commit.get("operation", ""),
        job=str(meta.get("job", "")),
        run_id=str(meta.get("run_id", "")),
        timestamp=commit.get("timestamp", ""),
        config_hash=str(meta.get("config_hash", "")),
    )
