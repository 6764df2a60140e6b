"""Lineage: a mixture (or a checkpoint trained on one) → shard sets → table versions and filters → source files.

Every link is a table lookup, never a guess:

* ``mixtures`` (by ``mixture_id``) names the shard set of every component and its weight;
* ``token_shards`` gives each set's source table, version, filter and tokenizer hash;
* ``token_documents`` lists the documents each set wrote, with their shard and Megatron document index;
* the source table *at that version* (Delta time travel) gives each document's ``source_file`` — the WARC (or text)
  file — and, for crawled pages, the ``record_offset`` of its gzip member in that file.
"""

from __future__ import annotations

import json
from pathlib import Path

from schemas import MIXTURES, TOKEN_DOCUMENTS, TOKEN_SHARDS

CHECKPOINT_METADATA = ("lakeforge.json", "lakeforge_checkpoint.json", "metadata.json")
"""File names under a checkpoint folder that may hold its metadata (the first with a ``mixture_id`` wins);
``training.checkpoint`` writes ``lakeforge.json`` into every ``iter_NNNNNNN`` folder."""


def checkpoint_metadata(path: str | Path) -> dict:
    """The metadata of a checkpoint folder (or a metadata/blend JSON file): must name a ``mixture_id``. A folder of
    ``iter_NNNNNNN`` checkpoints (training's save dir) means its newest complete one."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"checkpoint {path}: no such file or folder")
    if p.is_dir() and not any((p / n).is_file() for n in CHECKPOINT_METADATA):
        iters = [
            c
            for c in p.glob("iter_*")
            if c.is_dir() and c.name[5:].isdigit() and (c / CHECKPOINT_METADATA[0]).is_file()
        ]
        if iters:
            p = max(iters, key=lambda c: int(c.name[5:]))
    candidates = [p] if p.is_file() else [p / n for n in CHECKPOINT_METADATA] + sorted(p.glob("*.json"))
    for c in candidates:
        if c.is_file():
            try:
                doc = json.loads(c.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(doc, dict) and doc.get("mixture_id"):
                return doc | {"metadata_file": str(c)}
    raise ValueError(
        f"checkpoint {path}: no metadata JSON with a mixture_id (looked for {', '.join(CHECKPOINT_METADATA)})"
    )


def lineage(spark, lake, mixture_id: str, files_per_component: int | None = None) -> dict:
    """The whole chain for ``mixture_id`` as plain data."""
    from pyspark.sql import functions as F

    if not lake.exists(MIXTURES.name):
        raise ValueError(f"no mixtures table in {lake.root}: pin a mixture with lakeforge mix first")
    rows = lake.read(MIXTURES.name).where(F.col("mixture_id") == mixture_id).collect()
    if not rows:
        raise ValueError(f"mixture {mixture_id} is not in {lake.fq(MIXTURES.name)} (this lakehouse: {lake.root})")
    m = rows[0]
    out = {
        "mixture": {
            "mixture_id": m["mixture_id"],
            "name": m["name"],
            "path": m["path"],
            "run_id": m["run_id"],
            "created_at": str(m["created_at"]),
            "tokenizer_sha256": m["tokenizer_sha256"],
            "seq_length": m["seq_length"],
            "split": m["split"],
        },
        "components": [],
    }
    sets = {
        r["shard_set_id"]: r
        for r in lake.read(TOKEN_SHARDS.name).where(F.col("shard_set_id").isin(list(m["shard_set_ids"]))).collect()
    }
    token_docs = lake.read(TOKEN_DOCUMENTS.name)
    for name, weight, set_id in zip(m["components"], m["weights"], m["shard_set_ids"], strict=True):
        s = sets.get(set_id)
        if s is None:
            raise ValueError(f"component {name}: shard set {set_id} is not in {lake.fq(TOKEN_SHARDS.name)}")
        source = lake.read(s["source_table"], s["source_version"])
        cols = [c for c in ("doc_id", "source_file", "record_offset") if c in source.columns]
        docs = token_docs.where((F.col("shard_set_id") == set_id) & F.col("reason").isNull()).select("doc_id", "tokens")
        joined = docs.join(source.select(*cols), "doc_id", "left")
        by_file = joined.groupBy("source_file").agg(F.count("*").alias("documents"), F.sum("tokens").alias("tokens"))
        files = by_file.orderBy(F.desc("tokens"), "source_file")
        if files_per_component:
            files = files.limit(files_per_component)
        file_rows = [
            {"source_file": r["source_file"], "documents": r["documents"], "tokens": r["tokens"]}
            for r in files.collect()
        ]
        totals = by_file.agg(F.count("*").alias("files"), F.sum("documents").alias("documents")).first()
        out["components"].append(
            {
                "name": name,
                "weight": weight,
                "shard_set": {
                    "shard_set_id": set_id,
                    "name": s["name"],
                    "content_hash": s["content_hash"],
                    "path": s["path"],
                    "documents": s["documents"],
                    "tokens": s["tokens"],
                    "tokenizer_sha256": s["tokenizer_sha256"],
                },
                "source": {
                    "table": s["source_table"],
                    "version": s["source_version"],
                    "filter": s["filter"],
                    "kept_only": s["kept_only"],
                },
                "files_total": totals["files"],
                "documents_traced": totals["documents"] or 0,
                "files": file_rows,
            }
        )
    return out
