"""Spark adapter for dedup: a ``documents`` version → exact and near duplicates marked in a new version.

The steps are those of :mod:`curation.dedup.cluster` (the pure reference this job must equal), on DataFrames:

1. **Who takes part.** Documents that pass every rule except dedup's own (*eligible*). Incremental (the default):
   eligible documents no run has deduplicated yet (*new*), plus the survivors and unique documents of earlier runs
   (*prior*); ``full`` makes every eligible document new.
2. **Signatures.** ``minhash_signatures`` rows with this config's ``signature_key`` are reused; the missing ones are
   computed in batches (:class:`Signatures`, one :class:`~curation.dedup.minhash.MinHasher` per Python worker) and
   appended first, so a failed run still keeps them. Band keys for another banding are derived from the stored
   signature.
3. **Exact**: each copy → the smallest ``doc_id`` with the same ``text_hash``. **Candidates**: per band and key,
   each member → the bucket's smallest ``doc_id`` (star edges). **Verification**: a candidate edge survives when the
   true shingle Jaccard reaches the threshold (:class:`Similarities`). Edges between two prior documents are dropped.
4. **Components**: large-star / small-star on the edges (:mod:`curation.spark.components`), labels = smallest id.
5. **Survivors**: per component (one grouped Arrow call each, :func:`survivor_rounds_fn`), the reference's rounds: the
   best member (prior documents first, then ``survivor_order``, then ``doc_id``) takes every member at least
   threshold-similar to it; the rest go to the next round. Exact copies share one text per component.
6. **One MERGE** into ``documents`` sets the dedup columns and appends ``exact_duplicate`` / ``near_duplicate`` to the
   verdict of the documents it deduplicated; the funnel goes to ``stats``.

Nothing is collected to the driver but counts. Every id comparison is on ``doc_id``, so the result does not depend
on partitioning or input order.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import UTC, datetime

from curation.dedup.config import DedupConfig
from curation.dedup.rules import DUPLICATE_REASONS, EXACT_DUPLICATE, NEAR_DUPLICATE, dedup_rules
from curation.provenance import RunInfo
from curation.spark.stage import write_funnel
from curation.stage import JobReport
from schemas import DOCUMENTS, MINHASH_SIGNATURES, STATS, Field, TableSchema

_SIG_OUT = (("doc_id", "string"), ("text_hash", "string"), ("shingles", "int"), ("signature", "binary"))
_DUPS = "array(" + ", ".join(f"'{r}'" for r in DUPLICATE_REASONS) + ")"


def _struct(fields):
    """A Spark struct of nullable ``(name, type)`` columns, in the schemas' type vocabulary."""
    return TableSchema("_", tuple(Field(n, t) for n, t in fields)).to_spark()


_HASHERS: dict = {}


def _hasher(cfg: DedupConfig):
    """One MinHasher per Python worker and setting (the permutations and compiled kernels are reused)."""
    from curation.dedup.minhash import MinHasher

    key = (cfg.num_perm, cfg.seed, cfg.ngram)
    if key not in _HASHERS:
        _HASHERS[key] = MinHasher(cfg.num_perm, cfg.seed, cfg.ngram)
    return _HASHERS[key]


class Signatures:
    """mapInArrow: (doc_id, text) → (doc_id, text_hash, shingles, signature, band_keys) in batches."""

    def __init__(self, cfg: DedupConfig, bands: int, rows: int):
        self.cfg, self.bands, self.rows = cfg, bands, rows

    def __call__(self, batches):
        import numpy as np
        import pyarrow as pa

        from curation.dedup.lsh import band_keys
        from curation.dedup.text import normalize, text_hash

        hasher = _hasher(self.cfg)
        n, size = self.cfg.ngram, self.cfg.batch_size
        for batch in batches:
            ids = batch.column("doc_id").to_pylist()
            texts = batch.column("text").to_pylist()
            for i in range(0, len(ids), size):
                normalized = [normalize(t) for t in texts[i : i + size]]
                sig = hasher.signatures_of_normalized(normalized)
                keys = band_keys(sig, self.bands, self.rows)
                words = np.array([t.count(" ") + 1 if t else 0 for t in normalized], np.int64)
                shingles = np.where(words == 0, 0, np.maximum(words - n + 1, 1))
                yield pa.RecordBatch.from_pydict(
                    {
                        "doc_id": ids[i : i + size],
                        "text_hash": [text_hash(t) for t in normalized],
                        "shingles": pa.array(shingles, pa.int32()),
                        "signature": [row.astype("<u4").tobytes() for row in sig],
                        "band_keys": [row.tolist() for row in keys],
                    }
                )


class Rebands:
    """mapInArrow: stored signatures → band keys for another bands × rows."""

    def __init__(self, bands: int, rows: int):
        self.bands, self.rows = bands, rows

    def __call__(self, batches):
        import numpy as np
        import pyarrow as pa

        from curation.dedup.lsh import band_keys

        for batch in batches:
            sigs = batch.column("signature").to_pylist()
            if not sigs:
                continue
            matrix = np.stack([np.frombuffer(s, "<u4") for s in sigs])
            keys = band_keys(matrix, self.bands, self.rows)
            yield pa.RecordBatch.from_pydict(
                {"doc_id": batch.column("doc_id"), "band_keys": [row.tolist() for row in keys]}
            )


_ASSIGNMENT = (
    ("doc_id", "string"),
    ("dup_cluster_id", "string"),
    ("dup_of", "string"),
    ("dup_similarity", "double"),
    ("dup_exact", "boolean"),
)


def survivor_rounds_fn(cfg: DedupConfig, order_cols: list[str]):
    """The applyInArrow function for one connected component: :func:`curation.dedup.cluster.survivor_rounds` over
    its members. (A plain function, not a callable object: Spark reads the arity to choose ``(table)`` or
    ``(key, table)``.)"""

    def apply(table):
        import pyarrow as pa

        from curation.dedup.cluster import survivor_rounds

        members = table.select(["doc_id", "text_hash", "prior", "text", *order_cols]).to_pylist()
        out = survivor_rounds(members, cfg)
        ids = list(out)
        return pa.Table.from_pydict(
            {
                "doc_id": ids,
                "dup_cluster_id": [out[i].dup_cluster_id for i in ids],
                "dup_of": [out[i].dup_of for i in ids],
                "dup_similarity": pa.array([out[i].dup_similarity for i in ids], pa.float64()),
                "dup_exact": pa.array([out[i].dup_exact for i in ids], pa.bool_()),
            }
        )

    return apply


_MEMBER_BYTES = 64  # what a member row without its text costs a task, roughly


def _survivors(members, cfg: DedupConfig, order_cols: list[str], details: dict):
    """Step 5 on ``members`` (component, doc_id, text_hash, prior, text on one copy per text_hash, order columns).

    A component whose distinct text fits ``survivor_task_mb`` goes whole to one grouped Arrow call
    (:func:`survivor_rounds_fn`); a larger one takes one round at a time across tasks (:func:`_distributed_round`)
    until what is left of it fits. Rounds only ever look at what is left, so both paths give the reference's
    result."""
    from pyspark.sql import functions as F

    limit = cfg.survivor_task_mb * 2**20
    size = F.sum(F.coalesce(F.length("text"), F.lit(0))) + F.count("*") * _MEMBER_BYTES
    parts, rounds, pending = [], 0, members
    while True:
        big = pending.groupBy("component").agg(size.alias("bytes")).where(F.col("bytes") > limit).select("component")
        big = big.localCheckpoint(eager=True)  # why: counted, then joined twice
        n_big = big.count()
        if not rounds:
            details["large_components"] = n_big
        fits = pending.join(big, "component", "left_anti") if n_big else pending
        parts.append(fits.groupBy("component").applyInArrow(survivor_rounds_fn(cfg, order_cols), _struct(_ASSIGNMENT)))
        if not n_big:
            break
        rest, assigned = _distributed_round(pending.join(big, "component", "left_semi"), cfg)
        parts.append(assigned)
        pending = rest.localCheckpoint(eager=True)  # why: sized, then read by both paths of the next round
        rounds += 1
    details["survivor_rounds_distributed"] = rounds
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    return out


def _order_columns(cfg: DedupConfig) -> list:
    """The survivor order as Spark sort columns: prior first, ``survivor_order``, ``doc_id`` (:func:`best`)."""
    from pyspark.sql import functions as F

    cols = [F.col("prior").desc()]
    for key in cfg.order:
        c = F.col(key.column)
        if key.descending:
            cols.append(c.desc_nulls_first() if key.nulls_go_first else c.desc_nulls_last())
        else:
            cols.append(c.asc_nulls_first() if key.nulls_go_first else c.asc_nulls_last())
    return [*cols, F.col("doc_id").asc()]


def _distributed_round(left, cfg: DedupConfig):
    """One round of :func:`curation.dedup.cluster.survivor_rounds` over every large component at once, with no task
    holding more than a batch of texts and the heads' texts: each component's best member (its *head*) takes every
    non-prior member that is an exact copy or at least ``threshold``-similar (any member, ``verify`` off).

    Returns (what is left, with one text per ``text_hash`` again; the assignments of this round)."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    left = left.localCheckpoint(eager=True)  # why: heads, texts and the scoring all read it
    texts = left.where("text IS NOT NULL").select("component", "text_hash", "text")
    rank = F.row_number().over(Window.partitionBy("component").orderBy(*_order_columns(cfg)))
    heads = (
        left.withColumn("_rank", rank)
        .where("_rank = 1")
        .select(
            "component",
            F.col("doc_id").alias("head"),
            F.col("text_hash").alias("head_hash"),
            F.col("prior").alias("head_prior"),
        )
    )
    heads = heads.localCheckpoint(eager=True)  # why: one row per large component, read three times
    head_texts = heads.join(
        texts.withColumnRenamed("text_hash", "head_hash").withColumnRenamed("text", "head_text"),
        ["component", "head_hash"],
    ).select("component", "head_hash", "head_text")
    # one similarity per distinct text (exact copies share it), against its component's head
    sims = (
        texts.join(F.broadcast(head_texts), "component")
        .where("text_hash <> head_hash")
        .mapInArrow(
            HeadSimilarities(cfg.ngram),
            _struct((("component", "string"), ("text_hash", "string"), ("similarity", "double"))),
        )
    )
    exact = F.col("text_hash") == F.col("head_hash")
    similar = exact | (F.coalesce(F.col("similarity"), F.lit(0.0)) >= cfg.threshold) if cfg.verify else F.lit(True)
    scored = (
        left.drop("text")
        .join(F.broadcast(heads), "component")
        .join(sims, ["component", "text_hash"], "left")
        .withColumn("taken", (F.col("doc_id") != F.col("head")) & ~F.col("prior") & similar)
        .localCheckpoint(eager=True)  # why: the similarity UDF runs once; read for takes, heads and what is left
    )
    taken = scored.where("taken").select(
        "doc_id",
        F.col("head").alias("dup_cluster_id"),
        F.col("head").alias("dup_of"),
        F.when(exact, F.lit(1.0)).otherwise(F.coalesce(F.col("similarity"), F.lit(0.0))).alias("dup_similarity"),
        exact.alias("dup_exact"),
    )
    takes = taken.groupBy(F.col("dup_cluster_id").alias("head")).count()
    head_rows = (
        heads.join(takes, "head", "left")
        .where("count IS NOT NULL OR NOT head_prior")  # a prior head that took nothing stays as it was
        .select(
            F.col("head").alias("doc_id"),
            F.when(F.col("count").isNotNull(), F.col("head")).alias("dup_cluster_id"),
            F.lit(None).cast("string").alias("dup_of"),
            F.lit(None).cast("double").alias("dup_similarity"),
            F.lit(None).cast("boolean").alias("dup_exact"),
        )
    )
    first_copy = F.row_number().over(Window.partitionBy("component", "text_hash").orderBy("doc_id")) == 1
    rest = (
        scored.where("NOT taken AND doc_id <> head")
        .drop("head", "head_hash", "head_prior", "similarity", "taken")
        .join(texts, ["component", "text_hash"], "left")
        .withColumn("text", F.when(first_copy, F.col("text")))
    )
    return rest, taken.unionByName(head_rows)


class HeadSimilarities:
    """mapInArrow: (component, text_hash, text, head_hash, head_text) → (component, text_hash, similarity), the true
    Jaccard of a text's shingles and its component head's; head shingle sets are cached per task (bounded)."""

    CACHE = 64

    def __init__(self, ngram: int):
        self.ngram = ngram

    def __call__(self, batches):
        import pyarrow as pa

        from curation.dedup.text import jaccard, shingle_set

        cache: OrderedDict = OrderedDict()
        for batch in batches:
            cols = {
                c: batch.column(c).to_pylist() for c in ("component", "text_hash", "text", "head_hash", "head_text")
            }
            sims = []
            for text, head, head_text in zip(cols["text"], cols["head_hash"], cols["head_text"], strict=True):
                if head not in cache:
                    cache[head] = shingle_set(head_text, self.ngram)
                    if len(cache) > self.CACHE:
                        cache.popitem(last=False)
                sims.append(jaccard(shingle_set(text, self.ngram), cache[head]))
            yield pa.RecordBatch.from_pydict(
                {
                    "component": cols["component"],
                    "text_hash": cols["text_hash"],
                    "similarity": pa.array(sims, pa.float64()),
                }
            )


class Similarities:
    """mapInArrow: (src, dst, src_text, dst_text) → (src, dst, similarity), the true Jaccard of the shingle sets.

    Star edges share their head, so shingle sets are cached per task (bounded) by doc_id."""

    CACHE = 2048

    def __init__(self, ngram: int):
        self.ngram = ngram

    def __call__(self, batches):
        import pyarrow as pa

        from curation.dedup.text import jaccard, shingle_set

        cache: OrderedDict = OrderedDict()

        def shingles_of(doc_id, text):
            if doc_id in cache:
                cache.move_to_end(doc_id)
                return cache[doc_id]
            s = cache[doc_id] = shingle_set(text, self.ngram)
            if len(cache) > self.CACHE:
                cache.popitem(last=False)
            return s

        for batch in batches:
            src, dst = batch.column("src").to_pylist(), batch.column("dst").to_pylist()
            src_text, dst_text = batch.column("src_text").to_pylist(), batch.column("dst_text").to_pylist()
            rows = zip(src, dst, src_text, dst_text, strict=True)
            sims = [jaccard(shingles_of(a, ta), shingles_of(b, tb)) for a, b, ta, tb in rows]
            yield pa.RecordBatch.from_pydict({"src": src, "dst": dst, "similarity": pa.array(sims, pa.float64())})


def _similarities(edges, texts, ngram: int, partitions: int):
    """(src, dst) edges → (src, dst, similarity) with the texts joined in; sorted by dst so star heads hit the cache."""
    t = texts.select("doc_id", "text")
    with_text = (
        edges.join(t.withColumnRenamed("doc_id", "src").withColumnRenamed("text", "src_text"), "src")
        .join(t.withColumnRenamed("doc_id", "dst").withColumnRenamed("text", "dst_text"), "dst")
        .repartition(partitions, "dst")
        .sortWithinPartitions("dst", "src")
    )
    return with_text.mapInArrow(
        Similarities(ngram), _struct((("src", "string"), ("dst", "string"), ("similarity", "double")))
    )


def ensure_tables(lake) -> None:
    for schema in (DOCUMENTS, MINHASH_SIGNATURES, STATS):
        lake.ensure(schema)


def _check_order(cfg: DedupConfig) -> None:
    have = set(DOCUMENTS.names)
    for key in cfg.order:
        if key.column not in have:
            raise ValueError(f"survivor_order: {key.column!r} is not a column of {DOCUMENTS.name}")


def run_dedup(spark, lake, cfg: DedupConfig, run: RunInfo, full: bool = False) -> JobReport:
    """Mark exact and near duplicates among the eligible documents of the latest ``documents`` version.

    The job runs with its own shuffle partitions (:func:`partitions_for`); the session's setting is restored
    after."""
    before = spark.conf.get(_PARTITIONS)
    try:
        return _run_dedup(spark, lake, cfg, run, full)
    finally:
        spark.conf.set(_PARTITIONS, before)


_PARTITIONS = "spark.sql.shuffle.partitions"


def partitions_for(text_chars: int, cfg: DedupConfig, at_least: int) -> int:
    """Shuffle partitions for members holding ``text_chars`` characters of text: ``partition_mb`` of text each,
    never fewer than ``at_least`` (the session's ``spark.sql.shuffle.partitions``)."""
    return max(at_least, 1, math.ceil(text_chars / (cfg.partition_mb * 2**20)))


def _run_dedup(spark, lake, cfg: DedupConfig, run: RunInfo, full: bool) -> JobReport:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    from curation.spark.components import connected_components

    report = JobReport(run.run_id, "dedup")
    step = report.step
    step("prepare")
    _check_order(cfg)
    if not lake.version(DOCUMENTS.name):
        raise ValueError(f"{lake.fq(DOCUMENTS.name)} is empty or missing in {lake.root}: run `lakeforge curate` first")
    ensure_tables(lake)
    docs_version = lake.version(DOCUMENTS.name)
    sig_version = lake.version(MINHASH_SIGNATURES.name)
    run.input_tables = {lake.fq(DOCUMENTS.name): docs_version, lake.fq(MINHASH_SIGNATURES.name): sig_version}
    meta = run.commit_metadata()
    band = cfg.banding
    details = report.details
    details["banding"] = band.describe()
    details["bands"], details["rows"] = band.bands, band.rows
    details["mode"] = "full" if full else "incremental"

    docs = lake.read(DOCUMENTS.name, docs_version)
    eligible = docs.where(f"size(array_except(drop_reasons, {_DUPS})) = 0")
    order_cols = sorted({k.column for k in cfg.order} - {"doc_id"})
    if full:
        members = eligible.withColumn("prior", F.lit(False))
    else:
        members = (
            eligible.where("dedup_run_id IS NULL")
            .withColumn("prior", F.lit(False))
            .unionByName(eligible.where("dedup_run_id IS NOT NULL AND dup_of IS NULL").withColumn("prior", F.lit(True)))
        )
    counts = members.groupBy("prior").agg(F.count(F.lit(1)).alias("count"), F.sum("text_length").alias("chars"))
    counts = counts.collect()
    members = members.select("doc_id", "text", "prior", *order_cols)
    # Texts are never cached: the steps that need them (signatures of new documents, verification of candidate
    # pairs, survivors inside components) read them from the table version, each for the documents it needs. A
    # cached copy of every text made the driver's heap grow with the corpus (at 1M documents it ran out).
    texts = members.select("doc_id", "text")
    n_new = sum(r["count"] for r in counts if not r["prior"])
    details["new"], details["prior"] = n_new, sum(r["count"] for r in counts if r["prior"])
    chars = sum(r["chars"] or 0 for r in counts)
    partitions = partitions_for(chars, cfg, int(spark.conf.get(_PARTITIONS)))
    spark.conf.set(_PARTITIONS, str(partitions))  # run_dedup puts the session's setting back
    details["partitions"] = partitions
    if not n_new:
        step("write_stats")
        for k in ("signatures_computed", "reused_signatures", "candidate_pairs", "edges", "components_iterations"):
            details[k] = 0
        _write_funnel(lake, report, None, 0, meta)
        report.finish()
        return report

    step("signatures")
    key = cfg.signature_key
    stored = lake.read(MINHASH_SIGNATURES.name).where(F.col("signature_key") == key)
    missing = members.select("doc_id", "text").join(stored.select("doc_id"), "doc_id", "left_anti")
    sig_schema = _struct((*_SIG_OUT, ("band_keys", "array<long>")))
    computed = (
        missing.repartition(partitions, "doc_id")
        .mapInArrow(Signatures(cfg, band.bands, band.rows), sig_schema)
        .withColumn("signature_key", F.lit(key))
        .withColumn("bands", F.lit(band.bands))
        .withColumn("rows", F.lit(band.rows))
        .withColumn("documents_version", F.lit(docs_version).cast("long"))
        .withColumn("run_id", F.lit(run.run_id))
        .withColumn("created_at", F.lit(datetime.now(UTC)))
    )
    # why: counted, then appended; the signature UDF must run once
    computed = computed.localCheckpoint(eager=True)
    details["signatures_computed"] = computed.count()
    if details["signatures_computed"]:
        lake.append(MINHASH_SIGNATURES, computed, meta)  # the anti-join above keeps the key unique

    sigs = lake.read(MINHASH_SIGNATURES.name).where(F.col("signature_key") == key)
    sigs = sigs.join(members.select("doc_id"), "doc_id", "left_semi")
    same = sigs.where((F.col("bands") == band.bands) & (F.col("rows") == band.rows))
    other = sigs.where((F.col("bands") != band.bands) | (F.col("rows") != band.rows))
    rebanded = other.select("doc_id", "signature").mapInArrow(
        Rebands(band.bands, band.rows), _struct((("doc_id", "string"), ("band_keys", "array<long>")))
    )
    keys = same.select("doc_id", "band_keys").unionByName(rebanded)
    nodes = (
        members.drop("text")
        .join(sigs.select("doc_id", "text_hash", "shingles"), "doc_id")
        .join(keys, "doc_id")
        # why: exact, LSH, verification and survivor steps all read it; signatures are read once
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    details["reused_signatures"] = nodes.count() - details["signatures_computed"]

    step("candidates")
    prior = nodes.select(F.col("doc_id").alias("id"), "prior")
    edges = None
    if cfg.exact:
        by_hash = Window.partitionBy("text_hash")
        nodes_rep = nodes.withColumn("rep", F.min("doc_id").over(by_hash))
        edges = nodes_rep.where("doc_id <> rep").select(F.col("doc_id").alias("src"), F.col("rep").alias("dst"))
        reps = nodes_rep.where("doc_id = rep")
    else:
        reps = nodes
    candidates = None
    if cfg.near:
        buckets = reps.where("shingles > 0").select("doc_id", F.posexplode("band_keys").alias("band", "key"))
        head = F.min("doc_id").over(Window.partitionBy("band", "key"))
        candidates = (
            buckets.withColumn("head", head)
            .where("doc_id <> head")
            .select(F.col("doc_id").alias("src"), F.col("head").alias("dst"))
            .distinct()
        )

    def not_both_prior(e):
        """Edges between two prior documents were settled by an earlier run."""
        return (
            e.join(prior.withColumnRenamed("id", "src").withColumnRenamed("prior", "sp"), "src")
            .join(prior.withColumnRenamed("id", "dst").withColumnRenamed("prior", "dp"), "dst")
            .where("NOT (sp AND dp)")
            .select("src", "dst")
        )

    exact_edges = not_both_prior(edges).withColumn("similarity", F.lit(1.0)) if edges is not None else None
    near_edges = None
    if candidates is not None:
        candidates = not_both_prior(candidates).persist(StorageLevel.MEMORY_AND_DISK)  # why: counted, then verified
        details["candidate_pairs"] = candidates.count()
        if cfg.verify:
            step("verify")
            ends = candidates.select(F.col("src").alias("doc_id")).union(
                candidates.select(F.col("dst").alias("doc_id"))
            )
            scored = _similarities(
                candidates, texts.join(ends.distinct(), "doc_id", "left_semi"), cfg.ngram, partitions
            )
            near_edges = scored.where(F.col("similarity") >= cfg.threshold)
        else:
            near_edges = candidates.withColumn("similarity", F.lit(None).cast("double"))
    graph = [e for e in (exact_edges, near_edges) if e is not None]
    all_edges = graph[0] if len(graph) == 1 else graph[0].unionByName(graph[1])
    # why: components run many rounds over it; the verification UDF must run once
    all_edges = all_edges.select("src", "dst").localCheckpoint(eager=True)
    details["edges"] = all_edges.count()
    if candidates is not None:
        candidates.unpersist()

    step("components")
    comp = connected_components(
        all_edges, "src", "dst", max_iterations=cfg.max_iterations, checkpoint_every=cfg.checkpoint_every
    )
    details["components_iterations"] = comp.iterations

    step("survivors")
    # one text per text_hash and component: exact copies share their shingles (a component of a million copies of
    # one page carries one text into its task)
    first_copy = F.row_number().over(Window.partitionBy("component", "text_hash").orderBy("doc_id")) == 1
    members = (
        comp.labels.withColumnRenamed("node", "doc_id")
        .join(nodes.select("doc_id", "text_hash", "prior", *order_cols), "doc_id")
        .join(texts, "doc_id")
        .withColumn("text", F.when(first_copy, F.col("text")))
    )
    # why: written by the MERGE and counted; the rounds run once
    assigned = _survivors(members, cfg, order_cols, details).localCheckpoint()
    in_clusters = assigned.where("dup_cluster_id IS NOT NULL")
    survivors = in_clusters.where("dup_of IS NULL")
    # every new document gets its dedup_run_id (and text_hash), unique ones with null dedup columns
    updates = (
        nodes.where("NOT prior")
        .select("doc_id", "text_hash")
        .join(in_clusters, "doc_id", "left")
        .unionByName(
            nodes.where("prior").select("doc_id", "text_hash").join(survivors, "doc_id"),
        )
    )
    if full:
        # documents deduplicated before but no longer eligible (a later filter dropped them) lose their dedup state
        stale = (
            docs.where("dup_cluster_id IS NOT NULL")
            .join(eligible.select("doc_id"), "doc_id", "left_anti")
            .select(
                "doc_id",
                "text_hash",
                F.lit(None).cast("string").alias("dup_cluster_id"),
                F.lit(None).cast("string").alias("dup_of"),
                F.lit(None).cast("double").alias("dup_similarity"),
                F.lit(None).cast("boolean").alias("dup_exact"),
            )
        )
        updates = updates.unionByName(stale)
    # why: written by the MERGE and counted for the report; the UDFs upstream must run once
    updates = updates.localCheckpoint(eager=True)

    step("write_documents")
    _merge(lake, updates, run.run_id, meta)

    step("write_stats")
    # The new documents' verdicts as the MERGE wrote them, from its (checkpointed) input rather than a second read
    # of the table: an eligible document has no reason but a duplicate one, which the MERGE replaces with this
    # run's (or none).
    new_ids = nodes.where("NOT prior").select("doc_id")
    reason = F.when(F.col("dup_exact"), F.lit(EXACT_DUPLICATE)).when(~F.col("dup_exact"), F.lit(NEAR_DUPLICATE))
    written = (
        updates.join(new_ids, "doc_id", "left_semi")
        .select(reason.alias("drop_reason"))
        .withColumn("drop_reasons", F.when(F.col("drop_reason").isNull(), F.array()).otherwise(F.array("drop_reason")))
    )
    _write_funnel(lake, report, written, n_new, meta)
    comp.labels.unpersist()
    nodes.unpersist()
    report.versions[MINHASH_SIGNATURES.name] = lake.version(MINHASH_SIGNATURES.name)
    report.finish()
    return report


def _write_funnel(lake, report: JobReport, written, n_new: int, meta: str) -> None:
    """Dedup's funnel: the new eligible documents in, the duplicates it marked dropped (they carry no other reason:
    only documents without one are eligible)."""
    reasons = {rule.reason: "dedup" for rule in dedup_rules()}
    write_funnel(
        lake, report, written, [("input", "", "in", n_new)], reason_stage=reasons, stages=("dedup",), meta=meta
    )


def _merge(lake, updates, run_id: str, meta: str) -> None:
    """One MERGE: the dedup columns, and the verdict with this run's duplicate reason in place of any earlier one."""
    from delta.tables import DeltaTable

    kept = f"filter(t.drop_reasons, r -> NOT array_contains({_DUPS}, r))"
    reason = (
        f"CASE WHEN s.dup_exact = true THEN '{EXACT_DUPLICATE}' WHEN s.dup_exact = false THEN '{NEAR_DUPLICATE}' END"
    )
    reasons = f"concat({kept}, CASE WHEN s.dup_exact IS NULL THEN array() ELSE array({reason}) END)"
    target = DeltaTable.forName(lake.spark, lake.fq(DOCUMENTS.name))
    changes = {
        "text_hash": "s.text_hash",
        "dup_cluster_id": "s.dup_cluster_id",
        "dup_of": "s.dup_of",
        "dup_similarity": "s.dup_similarity",
        "dup_exact": "s.dup_exact",
        "dedup_run_id": f"'{run_id}'",
        "drop_reasons": reasons,
        "drop_reason": f"try_element_at({reasons}, 1)",
        "verdict_run_id": f"'{run_id}'",
    }
    with lake.commit_metadata(meta):
        target.alias("t").merge(updates.alias("s"), "t.doc_id = s.doc_id").whenMatchedUpdate(set=changes).execute()
