"""``lakeforge tokenize``: a table version (optionally filtered) → a set of Megatron ``.bin``/``.idx`` shards.

Two stages, nothing collected to the driver:

1. Executors tokenize their input partitions in batches (``encode_batch_fast``; one ``tokenizers.Tokenizer`` per
   Python worker, shipped as a broadcast, so executors need no access to the tokenizer file) and emit each
   document's tokens as little-endian bytes, tagged with its shard ``pmod(xxhash64(doc_id), num_shards)``.
2. The tokens are shuffled by shard and sorted by ``doc_id``; each task streams its shards into the shard set's
   folder ``<output>/<name>/<shard_set_id>/`` (default output: ``<lakehouse>/tokens``, a local folder or an
   ``s3a://`` prefix) under keys no other task attempt uses, ``shard-NNNNN-<writer id>.{bin,idx}``, and returns
   one row per document (shard, position) and one per shard (its prefix, sizes and sha256 hashes).

Executors write through :mod:`curation.storage` with the S3 settings the driver passes in (they never look them
up): into a local lakehouse through temporary names renamed into place, into object storage by writing the shard
to the executor's local temporary folder and uploading it (one PUT per file, no renames on the store). No key is
ever written twice, so a retried or speculative task cannot clobber another attempt's files.

The driver then writes ``token_documents``, ``manifest.json`` and finally the ``token_shards`` row, which names
the winning attempt's prefixes with every file's sha256 and size: that row *is* the publication. A shard set is
only ever found through it: an interrupted run, a failed attempt or a losing concurrent run leaves files no row
names (orphans), which no reader looks at and which the next publication of the set deletes
(:func:`orphans` lists them).

``shard_set_id`` hashes the name and everything that decides the bytes; a rerun with the same id is a no-op (the
files are checked first). The name is in it because sets are found by name (``token_shards.name``, mixtures): the
same inputs under another name are a set of their own, with the same ``content_hash``. The same inputs give
byte-identical shards on any cluster, because neither the shard of a document nor the order inside a shard depends
on partitioning.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from curation.provenance import RunInfo
from curation.stage import JobReport
from curation.storage import S3Settings, Store, is_remote, join, open_store, spark_uri
from curation.tokenize import tokenizer as toks
from curation.tokenize.config import FORMAT_VERSION, TokenizeConfig, check_name
from curation.tokenize.indexed import ShardWriter
from schemas import TOKEN_DOCUMENTS, TOKEN_SHARDS

SHARD_NAME = "shard-{:05d}"


@dataclass(kw_only=True)
class TokenizeReport(JobReport):
    """What one ``tokenize`` run did; ``records_in = documents + rejected + errored``."""

    name: str
    shard_set_id: str
    noop: bool = False
    records_in: int = 0
    documents: int = 0
    rejected: int = 0
    errored: int = 0
    tokens: int = 0
    bytes: int = 0
    num_shards: int = 0
    path: str = ""
    prefixes: list[str] = field(default_factory=list)
    content_hash: str = ""
    source: str = ""
    source_version: int = 0
    dtype: str = ""
    orphans_removed: int = 0

    def unreconciled(self) -> str | None:
        if self.records_in != self.documents + self.rejected + self.errored:
            return (
                f"records_in {self.records_in} != documents {self.documents} + rejected {self.rejected} "
                f"+ errored {self.errored}"
            )
        return None

    def to_json(self) -> dict:
        mine = {f.name for f in fields(TokenizeReport)} - {f.name for f in fields(JobReport)}
        return (
            {"run_id": self.run_id}
            | {k: v for k, v in asdict(self).items() if k in mine}
            | {
                "timings": self.timings,
                "seconds": self.seconds,
            }
        )


@dataclass(frozen=True)
class _Plan:
    """Everything resolved on the driver before any executor runs."""

    table: str
    version: int
    where: str | None
    kept_only: bool
    files: toks.TokenizerFiles
    vocab_size: int
    eod: int | None
    dtype: str
    num_shards: int
    records_in: int

    def settings(self, cfg: TokenizeConfig) -> dict:
        """What decides the bytes (and so the shard set id)."""
        return {
            "format": FORMAT_VERSION,
            "eod_id": self.eod,
            "dtype": self.dtype,
            "num_shards": self.num_shards,
            "text_column": cfg.text_column,
            "id_column": cfg.id_column,
            "shard_hash": "pmod(xxhash64(id), num_shards)",
            "order": "id",
            "split_special_tokens": True,
            "add_special_tokens": False,
        }

    def shard_set_id(self, cfg: TokenizeConfig, name: str) -> str:
        key = {
            "name": name,
            "table": self.table,
            "version": self.version,
            "where": self.where,
            "kept_only": self.kept_only,
            "tokenizer_sha256": self.files.sha256,
            "settings": self.settings(cfg),
        }
        return hashlib.sha256(toks.canonical_json(key).encode()).hexdigest()[:20]


# ---------------------------------------------------------------------------------------------------- executors
_TOKENIZERS: dict[str, object] = {}


def _tokenizer(sha: str, broadcast):
    """One tokenizer per Python worker and tokenizer hash (workers are reused across tasks)."""
    tok = _TOKENIZERS.get(sha)
    if tok is None:
        tok = _TOKENIZERS[sha] = toks.from_json(broadcast.value)
    return tok


class _Encode:
    """Stage 1 (mapInArrow): (shard, id, text) → (shard, id, tokens as bytes, n_tokens, reason)."""

    def __init__(self, sha: str, broadcast, eod: int | None, dtype: str, batch_size: int):
        self.sha, self.broadcast, self.eod, self.dtype, self.batch_size = sha, broadcast, eod, dtype, batch_size

    def __call__(self, batches):
        import pyarrow as pa

        tok = _tokenizer(self.sha, self.broadcast)
        itemsize = np.dtype(toks.DTYPES[self.dtype]).itemsize
        for big in batches:
            for start in range(0, big.num_rows, self.batch_size):
                batch = big.slice(start, self.batch_size)
                texts = batch.column(2).to_pylist()
                good = [i for i, t in enumerate(texts) if t]
                reasons: list[str | None] = [None if t else "empty_text" for t in texts]
                enc, bad = self._encode(tok, [texts[i] for i in good])
                n_tokens = np.zeros(batch.num_rows, dtype=np.int64)
                n_tokens[good] = np.diff(enc.offsets)
                for j, message in bad.items():
                    reasons[good[j]] = f"tokenizer_error: {message}"
                    n_tokens[good[j]] = 0
                offsets = np.zeros(batch.num_rows + 1, dtype=np.int64)
                np.cumsum(n_tokens * itemsize, out=offsets[1:])
                if offsets[-1] >= 1 << 31:
                    raise ValueError("a tokenize batch exceeds 2 GiB of tokens: lower batch_size")
                validity = pa.array([r is None for r in reasons], pa.bool_())
                tokens = pa.BinaryArray.from_buffers(
                    pa.binary(),
                    batch.num_rows,
                    [validity.buffers()[1], pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(enc.tokens)],
                )
                yield pa.RecordBatch.from_arrays(
                    [
                        batch.column(0),
                        batch.column(1),
                        tokens,
                        pa.array(n_tokens, pa.int64()),
                        pa.array(reasons, pa.string()),
                    ],
                    names=["shard", "doc_id", "tokens", "n_tokens", "reason"],
                )

    def _encode(self, tok, texts: list[str]) -> tuple[toks.Encoded, dict[int, str]]:
        """Encode a batch; when the batch fails, encode one by one so a bad document fails alone."""
        try:
            return toks.encode_documents(tok, texts, self.eod, self.dtype), {}
        except Exception:  # noqa: BLE001 - isolate the document, report its error as a row
            pass
        parts, bad = [], {}
        for j, text in enumerate(texts):
            try:
                parts.append(toks.encode_documents(tok, [text], self.eod, self.dtype).tokens)
            except Exception as e:  # noqa: BLE001
                bad[j] = f"{type(e).__name__}: {e}"[:200]
                parts.append(np.zeros(0, dtype=toks.DTYPES[self.dtype]))
        lengths = np.array([len(p) for p in parts], dtype=np.int64)
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=toks.DTYPES[self.dtype])
        return toks.Encoded(flat, offsets), bad


_WRITE_ARROW = [
    ("kind", "string"),
    ("shard", "int32"),
    ("position", "int64"),
    ("doc_id", "string"),
    ("tokens", "int64"),
    ("reason", "string"),
    ("bin_sha256", "string"),
    ("idx_sha256", "string"),
    ("bin_bytes", "int64"),
    ("idx_bytes", "int64"),
    ("prefix", "string"),
]


def _write_schema():
    from pyspark.sql import types as T

    return T.StructType(
        [
            T.StructField("kind", T.StringType(), False),
            T.StructField("shard", T.IntegerType(), False),
            T.StructField("position", T.LongType(), True),
            T.StructField("doc_id", T.StringType(), True),
            T.StructField("tokens", T.LongType(), True),
            T.StructField("reason", T.StringType(), True),
            T.StructField("bin_sha256", T.StringType(), True),
            T.StructField("idx_sha256", T.StringType(), True),
            T.StructField("bin_bytes", T.LongType(), True),
            T.StructField("idx_bytes", T.LongType(), True),
            T.StructField("prefix", T.StringType(), True),
        ]
    )


class _StoreShard:
    """One shard written to ``<folder>/shard-NNNNN-<writer id>`` in a store: a local folder directly (ShardWriter's
    temporary names, renamed when complete), object storage through a local temporary folder and one upload per
    file. ``close()`` returns the ShardInfo with the final prefix."""

    def __init__(self, folder: str, shard: int, dtype: str, settings: S3Settings | None):
        writer_id = uuid.uuid4().hex[:12]  # unique per task attempt: no key is written twice
        self.prefix = join(folder, f"{SHARD_NAME.format(shard)}-{writer_id}")
        self.remote = is_remote(folder)
        self.settings = settings
        self.scratch = tempfile.mkdtemp(prefix="lakeforge-shard-") if self.remote else None
        local = f"{self.scratch}/shard" if self.remote else self.prefix
        self.writer = ShardWriter(local, dtype, writer_id)

    def add_documents(self, data, lengths) -> None:
        self.writer.add_documents(data, lengths)

    def close(self):
        from dataclasses import replace

        info = self.writer.close()
        if self.remote:
            try:
                store = open_store(self.prefix, self.settings)
                for suffix in (".bin", ".idx"):  # .idx last: a finished shard's index is the last key written
                    store.upload(info.prefix + suffix, self.prefix + suffix)
            finally:
                shutil.rmtree(self.scratch, ignore_errors=True)
        return replace(info, prefix=self.prefix)

    def abort(self) -> None:
        self.writer.abort()
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


class _WriteShards:
    """Stage 2 (mapInArrow over rows sorted by shard, doc_id): stream each shard into the store; one row per
    document and one ``kind = 'shard'`` row per finished shard (its prefix, sizes and hashes)."""

    def __init__(self, folder: str, dtype: str, settings: S3Settings | None = None):
        self.folder, self.dtype, self.settings = folder, dtype, settings

    def __call__(self, batches):
        import pyarrow as pa

        arrow_schema = pa.schema([(n, getattr(pa, t)()) for n, t in _WRITE_ARROW])
        names = arrow_schema.names
        writer: _StoreShard | None = None
        shard, position = -1, 0
        try:
            for batch in batches:
                shards = batch.column(0).to_numpy(zero_copy_only=False)
                ids = batch.column(1).to_pylist()
                tok_arr = batch.column(2)
                # binary, or large_binary (int64 offsets) when spark.sql.execution.arrow.useLargeVarTypes is set
                offset_type = np.int64 if pa.types.is_large_binary(tok_arr.type) else np.int32
                n_tok = batch.column(3).to_numpy(zero_copy_only=False)
                reasons = batch.column(4).to_pylist()
                out = {n: [] for n in names}
                # Runs of one shard are contiguous (sorted); write each run's tokens in one call.
                bounds = np.flatnonzero(np.diff(shards)) + 1
                for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(shards)], strict=True):
                    if lo == hi:
                        continue
                    s = int(shards[lo])
                    if s != shard:
                        if writer is not None:
                            self._emit_shard(out, shard, writer.close())
                            writer = None
                        shard, position = s, 0
                    run = tok_arr.slice(lo, hi - lo)
                    ok = [reasons[i] is None for i in range(lo, hi)]
                    if any(ok):
                        if writer is None:  # opened at its first written document: no empty shard files
                            writer = _StoreShard(self.folder, s, self.dtype, self.settings)
                        off = np.frombuffer(run.buffers()[1], dtype=offset_type)[run.offset : run.offset + len(run) + 1]
                        data = run.buffers()[2]
                        writer.add_documents(memoryview(data)[off[0] : off[-1]], n_tok[lo:hi][np.array(ok, dtype=bool)])
                    for i in range(lo, hi):
                        written = reasons[i] is None
                        out["kind"].append("doc")
                        out["shard"].append(s)
                        out["position"].append(position if written else None)
                        out["doc_id"].append(ids[i])
                        out["tokens"].append(int(n_tok[i]) if written else None)
                        out["reason"].append(reasons[i])
                        for k in ("bin_sha256", "idx_sha256", "bin_bytes", "idx_bytes", "prefix"):
                            out[k].append(None)
                        position += written
                yield pa.RecordBatch.from_pydict(out, schema=arrow_schema)
            if writer is not None:
                out = {n: [] for n in names}
                self._emit_shard(out, shard, writer.close())
                writer = None
                yield pa.RecordBatch.from_pydict(out, schema=arrow_schema)
        finally:
            if writer is not None:  # the task failed: leave no temporary file behind
                writer.abort()

    @staticmethod
    def _emit_shard(out: dict, shard: int, info) -> None:
        row = {
            "kind": "shard",
            "shard": shard,
            "position": info.documents,
            "doc_id": None,
            "tokens": info.tokens,
            "reason": None,
            "bin_sha256": info.bin_sha256,
            "idx_sha256": info.idx_sha256,
            "bin_bytes": info.bin_bytes,
            "idx_bytes": info.idx_bytes,
            "prefix": info.prefix,
        }
        for k, v in row.items():
            out[k].append(v)


# ---------------------------------------------------------------------------------------------------- driver
def output_root(lake, cfg: TokenizeConfig) -> str:
    """Where shard sets go: ``--set output=`` (a folder or an ``s3a://`` prefix), else ``<lakehouse>/tokens``."""
    if cfg.output:
        return spark_uri(cfg.output)
    return lake.files("tokens")


def shard_files(prefixes) -> list[str]:
    """The two files of each prefix, ``.bin`` then ``.idx``."""
    return [p + suffix for p in prefixes for suffix in (".bin", ".idx")]


def orphans(store: Store, folder: str, prefixes) -> list[str]:
    """Files in a shard set's folder that its ``token_shards`` row does not name: what failed task attempts, an
    interrupted run or a concurrent run that lost left behind. No reader looks at them; deleting them is safe."""
    named = set(shard_files(prefixes)) | {join(folder, "manifest.json")}
    return [uri for uri in store.list(folder) if uri not in named]


def _remove_orphans(store: Store, folder: str, prefixes) -> int:
    stale = orphans(store, folder, prefixes)
    for uri in stale:
        store.delete(uri)
    if not is_remote(folder):  # local folders: also the empty folders and temporary files a killed task left
        for p in sorted(Path(folder).rglob("*"), key=lambda x: len(x.parts), reverse=True):
            if p.is_file() and str(p) not in set(shard_files(prefixes)) and p.name != "manifest.json":
                p.unlink(missing_ok=True)
                stale.append(str(p))
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    return len(stale)


def _source(lake, table: str, version: int | None, where: str | None, cfg: TokenizeConfig):
    """The filtered source DataFrame and its resolved version; clear errors for every bad input."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    latest = lake.version(table)
    if latest is None:
        raise ValueError(f"table {lake.fq(table)} does not exist in {lake.root}")
    if version is None:
        version = latest
    elif not 0 <= version <= latest:
        raise ValueError(f"table {table} has no version {version} (versions 0 … {latest})")
    df = lake.read(table, version)
    for col in (cfg.id_column, cfg.text_column):
        if col not in df.columns:
            raise ValueError(f"table {table} v{version} has no column {col!r} (columns: {', '.join(df.columns)})")
    kept_only = cfg.kept_only and "drop_reason" in df.columns
    if kept_only:
        df = df.where(F.col("drop_reason").isNull())
    if where:
        try:
            df = df.where(F.expr(where))
            df.schema  # noqa: B018 - analysis happens here
        except AnalysisException as e:
            raise ValueError(f"--where {where!r}: {str(e).splitlines()[0]}") from None
        except Exception as e:  # ParseException and friends
            raise ValueError(f"--where {where!r}: {str(e).splitlines()[0]}") from None
    return df, version, kept_only


def plan(lake, cfg: TokenizeConfig, table: str, version: int | None, where: str | None):
    """Resolve and validate everything (tokenizer, dtype, source version, filter, shard count) before any write."""
    if not cfg.tokenizer:
        raise ValueError("no tokenizer: pass --tokenizer PATH (a tokenizer.json or a vocab.json + merges.txt folder)")
    files = toks.locate(cfg.tokenizer)
    tok = toks.load(files)
    n_ids = toks.cardinality(tok)
    dtype = toks.token_dtype(n_ids, cfg.dtype)
    eod = toks.eod_id(tok, cfg.eod_token) if cfg.append_eod else None
    df, version, kept_only = _source(lake, table, version, where, cfg)
    records_in = df.count()
    if records_in == 0:
        raise ValueError(
            f"no documents to tokenize: table {table} v{version}"
            + (" (kept rows)" if kept_only else "")
            + (f" where {where}" if where else "")
            + " matched nothing"
        )
    p = _Plan(table, version, where, kept_only, files, n_ids, eod, dtype, cfg.shards_for(records_in), records_in)
    return p, df, tok


def _partition_keys(spark, n: int) -> list[int]:
    """For each shard s, an int whose Spark hash partition (``pmod(hash(v), n)``, what ``repartition(n, col)``
    uses) is s: each shard then lands in its own partition, one shard per task."""
    from pyspark.sql import functions as F

    rows = (
        spark.range(0, 64 * n + 64)
        .select(F.col("id").cast("int").alias("v"), F.expr(f"pmod(hash(cast(id AS INT)), {n})").alias("p"))
        .groupBy("p")
        .agg(F.min("v").alias("v"))
        .collect()
    )
    keys = {r["p"]: r["v"] for r in rows}
    return [keys.get(s, s) for s in range(n)]  # a shard without a preimage (never seen) still works, shared


def _remove_tmp(lake, uri: str) -> None:
    if is_remote(uri):
        lake.store.delete_tree(uri)
    else:
        shutil.rmtree(uri, ignore_errors=True)


def _existing(lake, shard_set_id: str):
    if not lake.exists(TOKEN_SHARDS.name):
        return None
    rows = lake.read(TOKEN_SHARDS.name).where(f"shard_set_id = '{shard_set_id}'").collect()
    return rows[0] if rows else None


def run_tokenize(
    spark,
    lake,
    cfg: TokenizeConfig,
    run: RunInfo,
    name: str,
    table: str = "documents",
    version=None,
    where=None,
    s3_settings: S3Settings | None = None,
) -> TokenizeReport:
    """Tokenize ``table`` at ``version`` (latest when None), rows matching ``where``, into the shard set ``name``.

    ``s3_settings``: how executors reach an object-store output (default: the session's, ``lake.s3_settings``)."""
    from pyspark.sql import functions as F

    t0 = time.perf_counter()
    check_name(name)
    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def step(label: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[label] = round(now - mark, 3)
        mark = now

    p, df, tok = plan(lake, cfg, table, version, where)
    set_id = p.shard_set_id(cfg, name)
    root = output_root(lake, cfg)
    final = join(root, name, set_id)
    settings = s3_settings if s3_settings is not None else (lake.s3_settings if is_remote(final) else None)
    store = open_store(final, settings)
    report = TokenizeReport(
        run_id=run.run_id,
        job="tokenize",
        name=name,
        shard_set_id=set_id,
        records_in=p.records_in,
        num_shards=p.num_shards,
        path=final,
        source=table,
        source_version=p.version,
        dtype=p.dtype,
    )
    step("plan")
    run.input_tables = {lake.fq(table): p.version}
    run.inputs = [f"{lake.fq(table)}@v{p.version}"]

    prior = _existing(lake, set_id)
    if prior is not None and all(store.exists(f) for f in shard_files(prior["prefixes"])):
        report.noop = True
        for k in ("documents", "rejected", "errored", "tokens", "bytes", "content_hash"):
            setattr(report, k, prior[k])
        report.prefixes = list(prior["prefixes"])
        report.path = prior["path"]
        report.seconds = round(time.perf_counter() - t0, 3)
        return report
    if prior is not None:
        raise ValueError(
            f"shard set {name}/{set_id} is recorded in token_shards but files are missing under {prior['path']}: "
            "restore them, or delete that row to tokenize again"
        )

    if is_remote(final):
        store.check_bucket(final)  # one line (no bucket, no access) before any table or executor is touched
    for schema in (TOKEN_SHARDS, TOKEN_DOCUMENTS):
        lake.ensure(schema)
    # The tasks' rows go through Spark into the lakehouse (beside the tables), not into the shard store.
    tmp = join(lake.root, "tmp", f"tokenize-{set_id}-{run.run_id}")

    bc = spark.sparkContext.broadcast(tok.to_str())
    try:
        encoded_schema = "shard INT, doc_id STRING, tokens BINARY, n_tokens BIGINT, reason STRING"
        shard_expr = F.expr(f"pmod(xxhash64(`{cfg.id_column}`), {p.num_shards})").cast("int")
        src = df.select(shard_expr.alias("shard"), F.col(cfg.id_column).alias("doc_id"), F.col(cfg.text_column))
        if src.rdd.getNumPartitions() < spark.sparkContext.defaultParallelism:
            src = src.repartition(spark.sparkContext.defaultParallelism)  # tokenize on every core
        encoded = src.mapInArrow(_Encode(p.files.sha256, bc, p.eod, p.dtype, cfg.batch_size), encoded_schema)
        part = F.element_at(F.array(*[F.lit(v) for v in _partition_keys(spark, p.num_shards)]), F.col("shard") + 1)
        ordered = encoded.repartition(p.num_shards, part.alias("_part")).sortWithinPartitions("shard", "doc_id")
        written = ordered.mapInArrow(_WriteShards(final, p.dtype, settings), _write_schema())
        manifest = join(tmp, "_rows.parquet")
        written.write.mode("overwrite").parquet(manifest)
        step("tokenize_and_write")

        rows = spark.read.parquet(manifest)
        shards = sorted(rows.where("kind = 'shard'").collect(), key=lambda r: r["shard"])
        counts = (
            rows.where("kind = 'doc'")
            .agg(
                F.count(F.when(F.col("reason").isNull(), 1)).alias("documents"),
                F.count(F.when(F.col("reason") == "empty_text", 1)).alias("rejected"),
                F.count(F.when(F.col("reason").startswith("tokenizer_error"), 1)).alias("errored"),
                F.count("*").alias("seen"),
            )
            .first()
        )
        if counts["seen"] != p.records_in:
            raise RuntimeError(f"{counts['seen']} documents came back from the tasks, {p.records_in} went in")
        report.documents, report.rejected, report.errored = counts["documents"], counts["rejected"], counts["errored"]
        report.tokens = sum(r["tokens"] for r in shards)
        report.bytes = sum(r["bin_bytes"] for r in shards)
        if sum(r["position"] for r in shards) != report.documents:
            raise RuntimeError("shard document counts do not add up to the documents written")
        content = hashlib.sha256()
        for r in shards:
            content.update(f"{SHARD_NAME.format(r['shard'])}:{r['bin_sha256']}:{r['idx_sha256']}\n".encode())
        report.content_hash = content.hexdigest()
        report.prefixes = [r["prefix"] for r in shards]

        docs = rows.where("kind = 'doc'").select(
            F.lit(set_id).alias("shard_set_id"),
            "doc_id",
            F.when(F.col("reason").isNull(), F.col("shard")).alias("shard"),
            "position",
            "tokens",
            "reason",
        )
        meta = run.commit_metadata()
        with lake.commit_metadata(meta):
            (
                docs.select(*TOKEN_DOCUMENTS.names)
                .write.format("delta")
                .mode("overwrite")
                .option("replaceWhere", f"shard_set_id = '{set_id}'")
                .saveAsTable(lake.fq(TOKEN_DOCUMENTS.name))
            )
        step("token_documents")

        settings = p.settings(cfg)
        manifest_doc = {
            "shard_set_id": set_id,
            "name": name,
            "content_hash": report.content_hash,
            "source": {"table": table, "version": p.version, "filter": where, "kept_only": p.kept_only},
            "tokenizer": {
                "path": cfg.tokenizer,
                "kind": p.files.kind,
                "sha256": p.files.sha256,
                "vocab_size": p.vocab_size,
            },
            "settings": settings,
            "documents": report.documents,
            "tokens": report.tokens,
            "shards": [
                {
                    "shard": SHARD_NAME.format(r["shard"]),
                    "prefix": r["prefix"].rsplit("/", 1)[-1],
                    "documents": r["position"],
                    "tokens": r["tokens"],
                    "bin_sha256": r["bin_sha256"],
                    "idx_sha256": r["idx_sha256"],
                    "bin_bytes": r["bin_bytes"],
                    "idx_bytes": r["idx_bytes"],
                }
                for r in shards
            ],
            "run_id": run.run_id,
            "code_version": run.code_version,
        }
        store.write_bytes(
            join(final, "manifest.json"), (json.dumps(manifest_doc, indent=1, sort_keys=True) + "\n").encode()
        )
        step("manifest")

        row = {
            "shard_set_id": set_id,
            "name": name,
            "content_hash": report.content_hash,
            "source_table": table,
            "source_version": p.version,
            "filter": where,
            "kept_only": p.kept_only,
            "tokenizer_path": cfg.tokenizer,
            "tokenizer_kind": p.files.kind,
            "tokenizer_sha256": p.files.sha256,
            "vocab_size": p.vocab_size,
            "eod_id": p.eod,
            "dtype": p.dtype,
            "settings": toks.canonical_json(settings),
            "num_shards": p.num_shards,
            "records_in": p.records_in,
            "documents": report.documents,
            "rejected": report.rejected,
            "errored": report.errored,
            "tokens": report.tokens,
            "bytes": report.bytes,
            "path": final,
            "prefixes": report.prefixes,
            "shard_documents": [r["position"] for r in shards],
            "shard_tokens": [r["tokens"] for r in shards],
            "bin_sha256": [r["bin_sha256"] for r in shards],
            "idx_sha256": [r["idx_sha256"] for r in shards],
            "bin_bytes": [r["bin_bytes"] for r in shards],
            "idx_bytes": [r["idx_bytes"] for r in shards],
            "run_id": run.run_id,
            "code_version": run.code_version,
            "created_at": datetime.now(UTC),
        }
        lake.merge_new(TOKEN_SHARDS, spark.createDataFrame([row], TOKEN_SHARDS.to_spark()), meta)
        step("token_shards")  # published: the row names the files
        # A concurrent run of the same set may have published first (merge_new inserts only a new key): the row
        # that won names the files, everything else in the folder is an orphan.
        winner = _existing(lake, set_id)
        if winner is not None and list(winner["prefixes"]) != report.prefixes:
            report.prefixes, report.noop = list(winner["prefixes"]), True
        report.orphans_removed = _remove_orphans(store, final, report.prefixes)
        step("clean")
    finally:
        bc.unpersist()
        _remove_tmp(lake, tmp)
    report.timings = timings
    report.seconds = round(time.perf_counter() - t0, 3)
    return report
