"""megatron-core's ``IndexedDataset`` on disk, written and read without importing megatron (or torch).

A shard is a *prefix*: ``<prefix>.bin`` holds the tokens of every document back to back; ``<prefix>.idx`` holds

    b"MMIDIDX\\x00\\x00"  <Q version=1>  <B dtype code>  <Q sequence count>  <Q document-index count>
    int32 sequence lengths · int64 byte offsets of the sequences · int64 document indices (0, 1, …, n)

Each document is one sequence (``IndexedDatasetBuilder.add_document`` with one item). ``ShardWriter`` writes both
files under temporary names and renames them into place only when they are complete, ``.bin`` first and ``.idx``
last: a reader that finds ``<prefix>.idx`` finds a finished shard, and an interrupted writer leaves only files
whose names no reader looks for.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INDEX_HEADER = b"MMIDIDX\x00\x00"
DTYPE_CODES = {
    np.dtype(np.uint8): 1,
    np.dtype(np.int8): 2,
    np.dtype(np.int16): 3,
    np.dtype(np.int32): 4,
    np.dtype(np.int64): 5,
    np.dtype(np.float64): 6,
    np.dtype(np.float32): 7,
    np.dtype(np.uint16): 8,
}
CODE_DTYPES = {v: k for k, v in DTYPE_CODES.items()}
TMP_MARK = ".tmp-"
"""Temporary files carry this in their name: ``<prefix>.bin.tmp-<writer id>``."""


@dataclass(frozen=True)
class ShardInfo:
    """A finished shard: its prefix, what it holds, and the hashes of its two files."""

    prefix: str
    documents: int
    tokens: int
    bin_bytes: int
    bin_sha256: str
    idx_sha256: str
    idx_bytes: int = 0


def index_bytes(dtype, lengths: np.ndarray) -> bytes:
    """The ``.idx`` file for documents of ``lengths`` tokens each (one sequence per document)."""
    dt = np.dtype(dtype)
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) and (lengths.min() < 0 or lengths.max() > np.iinfo(np.int32).max):
        raise ValueError("a sequence length does not fit int32")
    pointers = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        np.cumsum(lengths[:-1] * dt.itemsize, out=pointers[1:])
    doc_indices = np.arange(len(lengths) + 1, dtype=np.int64)
    return b"".join(
        (
            INDEX_HEADER,
            struct.pack("<Q", 1),
            struct.pack("<B", DTYPE_CODES[dt]),
            struct.pack("<Q", len(lengths)),
            struct.pack("<Q", len(doc_indices)),
            lengths.astype("<i4").tobytes(),
            pointers.astype("<i8").tobytes(),
            doc_indices.astype("<i8").tobytes(),
        )
    )


class ShardWriter:
    """Stream documents into ``<prefix>.bin``; ``close()`` writes ``<prefix>.idx`` and renames both into place.

    ``writer_id`` makes the temporary names unique per attempt (Spark may run a task twice); two attempts that
    finish both rename identical bytes onto the same names, so the result is the same either way.
    """

    def __init__(self, prefix: str | Path, dtype, writer_id: str = "0"):
        self.prefix = str(prefix)
        self.dtype = np.dtype(dtype)
        if self.dtype not in DTYPE_CODES:
            raise ValueError(f"dtype {self.dtype} has no IndexedDataset code")
        self._tmp = f"{TMP_MARK}{writer_id}"
        Path(self.prefix).parent.mkdir(parents=True, exist_ok=True)
        self._bin = open(self.prefix + ".bin" + self._tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._sha = hashlib.sha256()
        self._lengths: list[np.ndarray] = []
        self._tokens = 0

    def add_documents(self, data, lengths: np.ndarray) -> None:
        """Append documents given as their concatenated tokens (``data``: bytes-like in this dtype, little-endian)
        and their lengths in tokens."""
        lengths = np.asarray(lengths, dtype=np.int64)
        mv = memoryview(data).cast("B")
        n = int(lengths.sum())
        if mv.nbytes != n * self.dtype.itemsize:
            raise ValueError(f"{mv.nbytes} bytes given for {n} tokens of {self.dtype}")
        self._bin.write(mv)
        self._sha.update(mv)
        self._lengths.append(lengths)
        self._tokens += n

    def add_document(self, tokens: np.ndarray) -> None:
        arr = np.ascontiguousarray(tokens, dtype=self.dtype.newbyteorder("<"))
        self.add_documents(arr.tobytes(), np.array([len(arr)]))

    def close(self) -> ShardInfo:
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, dtype=np.int64)
        self._bin.flush()
        os.fsync(self._bin.fileno())
        self._bin.close()
        idx = index_bytes(self.dtype, lengths)
        idx_tmp = self.prefix + ".idx" + self._tmp
        with open(idx_tmp, "wb") as f:
            f.write(idx)
            f.flush()
            os.fsync(f.fileno())
        os.replace(self.prefix + ".bin" + self._tmp, self.prefix + ".bin")
        os.replace(idx_tmp, self.prefix + ".idx")
        return ShardInfo(
            prefix=self.prefix,
            documents=len(lengths),
            tokens=self._tokens,
            bin_bytes=self._tokens * self.dtype.itemsize,
            bin_sha256=self._sha.hexdigest(),
            idx_sha256=hashlib.sha256(idx).hexdigest(),
            idx_bytes=len(idx),
        )

    def abort(self) -> None:
        """Close and delete the temporary files (nothing is renamed)."""
        if not self._bin.closed:
            self._bin.close()
        for suffix in (".bin", ".idx"):
            Path(self.prefix + suffix + self._tmp).unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


@dataclass(frozen=True)
class Index:
    """A parsed ``.idx``: dtype, per-document lengths and byte offsets."""

    dtype: np.dtype
    lengths: np.ndarray
    pointers: np.ndarray
    document_indices: np.ndarray


def read_index(prefix: str | Path) -> Index:
    """Parse ``<prefix>.idx``; ``ValueError`` when it is not an IndexedDataset index."""
    data = Path(str(prefix) + ".idx").read_bytes()
    if data[:9] != INDEX_HEADER:
        raise ValueError(f"{prefix}.idx: not a Megatron IndexedDataset index (bad header)")
    (version,) = struct.unpack_from("<Q", data, 9)
    (code,) = struct.unpack_from("<B", data, 17)
    n_seq, n_doc = struct.unpack_from("<QQ", data, 18)
    if version != 1 or code not in CODE_DTYPES:
        raise ValueError(f"{prefix}.idx: unsupported version {version} or dtype code {code}")
    off = 34
    lengths = np.frombuffer(data, dtype="<i4", count=n_seq, offset=off)
    pointers = np.frombuffer(data, dtype="<i8", count=n_seq, offset=off + 4 * n_seq)
    doc_indices = np.frombuffer(data, dtype="<i8", count=n_doc, offset=off + 12 * n_seq)
    return Index(CODE_DTYPES[code], lengths, pointers, doc_indices)


def read_documents(prefix: str | Path) -> list[np.ndarray]:
    """Every document of a shard as an array of token ids (memory-mapped ``.bin``)."""
    index = read_index(prefix)
    if not len(index.lengths):
        return []
    tokens = np.memmap(str(prefix) + ".bin", dtype=index.dtype.newbyteorder("<"), mode="r")
    item = index.dtype.itemsize
    return [tokens[p // item : p // item + n] for p, n in zip(index.pointers, index.lengths, strict=True)]


def shard_exists(prefix: str | Path) -> bool:
    """Both files of a finished shard are there (temporary files do not count)."""
    return Path(str(prefix) + ".bin").is_file() and Path(str(prefix) + ".idx").is_file()
