"""``TokenizeConfig``: how a table becomes a set of Megatron shards (``conf/tokenize.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

FORMAT_VERSION = 1
"""Bumped when the bytes lakeforge writes for the same inputs change; part of every shard set's key."""

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class TokenizeConfig:
    """Every setting of ``lakeforge tokenize``. Those that change the shards' bytes are in ``byte_settings``."""

    tokenizer: str | None = None
    """A ``tokenizer.json`` file, or a folder with ``tokenizer.json`` or GPT-2 ``vocab.json`` + ``merges.txt``."""
    eod_token: str | None = None
    """End-of-document token; null: the first of ``<|endoftext|>``, ``</s>``, ``<|end_of_text|>``, … the
    vocabulary has."""
    append_eod: bool = True
    """Append the end-of-document token to every document (what Megatron's GPTDataset expects between documents)."""
    dtype: str = "auto"
    """Token dtype in ``.bin``: auto (uint16 when every id is below 65,536, else int32), uint16 or int32."""
    text_column: str = "text"
    id_column: str = "doc_id"
    kept_only: bool = True
    """Read only rows whose ``drop_reason`` is null (when the table has that column)."""
    num_shards: int | None = None
    """Shards per set; null: ``max(min_shards, ceil(documents / docs_per_shard))``, fewer when that would give a
    shard under ``min_docs_per_shard`` documents. Documents go to shard
    ``pmod(xxhash64(doc_id), num_shards)`` and are in ``doc_id`` order inside it, so the bytes never depend on
    the cluster."""
    docs_per_shard: int = 200_000
    min_shards: int = 4
    min_docs_per_shard: int = 1_000
    """A shard gets at least this many documents when there are enough (a small set is one shard): Megatron
    splits every shard into train/valid/test by documents, and a tiny shard leaves a split empty."""
    batch_size: int = 1024
    """Documents per ``encode_batch`` call in a task."""
    output: str | None = None
    """Folder for shard sets; null: ``<lakehouse>/tokens``. Executors write here: on a cluster it must be a
    shared filesystem path, like the lakehouse."""

    def __post_init__(self) -> None:
        if self.num_shards is not None and self.num_shards < 1:
            raise ValueError("num_shards must be at least 1")
        if self.docs_per_shard < 1 or self.min_shards < 1 or self.min_docs_per_shard < 1:
            raise ValueError("docs_per_shard, min_shards and min_docs_per_shard must be at least 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.dtype not in ("auto", "uint16", "int32"):
            raise ValueError(f"dtype {self.dtype!r}: expected auto, uint16 or int32")

    def shards_for(self, documents: int) -> int:
        """How many shards ``documents`` documents get (never more shards than documents)."""
        if self.num_shards is not None:
            return max(1, min(self.num_shards, documents))
        n = max(self.min_shards, -(-documents // self.docs_per_shard))
        return max(1, min(n, documents // self.min_docs_per_shard))


def check_name(name: str) -> str:
    if not NAME.match(name or ""):
        raise ValueError(
            f"name {name!r}: use letters, digits, '_', '.' and '-' (at most 100, not starting with a symbol)"
        )
    return name
