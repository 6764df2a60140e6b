"""``lakeforge dedup`` on real Spark and Delta: equal to the pure reference, partition- and order-invariant,
incremental against earlier versions, kept by ``filter``, answerable in SQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from curation.curate import CurateConfig
from curation.dedup.cluster import deduplicate
from curation.dedup.config import DedupConfig
from curation.provenance import RunInfo
from curation.spark.dedup import run_dedup
from schemas import DOCUMENTS, MINHASH_SIGNATURES


def _articles(shared_data: Path, n: int) -> list[str]:
    out = []
    for name in ("valid.txt", "test.txt"):
        text = (shared_data / "corpora" / "wikitext2_partial" / name).read_text(encoding="utf-8")
        out += [a for a in text.split("\n = ") if 800 <= len(a) <= 12000]
    return out[:n]


def _edit(text: str, rate: float, rng: random.Random) -> str:
    w = text.split()
    for _ in range(max(1, int(len(w) * rate))):
        op = rng.random()
        i = rng.randrange(len(w))
        if op < 0.4:
            w[i] = rng.choice(["alpha", "beta", "gamma"])
        elif op < 0.7:
            del w[i]
        else:
            w.insert(i, rng.choice(["delta", "omega"]))
    return " ".join(w)


def corpus(shared_data: Path, n: int = 30, seed: int = 0, prefix: str = "") -> list[dict]:
    """Real articles plus exact (cosmetic) copies, near copies at small edit rates, and far copies."""
    rng = random.Random(seed)
    docs = []
    for i, text in enumerate(_articles(shared_data, n)):
        docs.append({"doc_id": f"{prefix}a{i:03d}", "text": text, "warc_date": None})
        if i % 4 == 0:
            docs.append({"doc_id": f"{prefix}e{i:03d}", "text": text.upper().replace(",", " ,"), "warc_date": None})
        if i % 3 == 0:
            when = datetime(2020, 1, 1 + i % 20, tzinfo=UTC) if i % 2 else None
            docs.append({"doc_id": f"{prefix}n{i:03d}", "text": _edit(text, 0.005, rng), "warc_date": when})
            docs.append({"doc_id": f"{prefix}m{i:03d}", "text": _edit(text, 0.012, rng), "warc_date": None})
        if i % 5 == 0:
            docs.append({"doc_id": f"{prefix}f{i:03d}", "text": _edit(text, 0.2, rng), "warc_date": None})
    return docs


def write_documents(spark, lake, docs: list[dict], partitions: int = 2, drop: dict | None = None) -> None:
    """Append ``docs`` to ``documents`` as kept rows (or dropped with ``drop[doc_id]``), in ``partitions`` files."""
    lake.ensure(DOCUMENTS)
    rows = []
    for d in docs:
        row = DOCUMENTS.empty_row() | {k: v for k, v in d.items()}
        reason = (drop or {}).get(d["doc_id"])
        row |= {
            "source_file": "test.jsonl",
            "payload_truncated": False,
            "text_length": len(d["text"]),
            "drop_reasons": [reason] if reason else [],
            "drop_reason": reason,
            "run_id": "test",
            "verdict_run_id": "test",
        }
        rows.append(row)
    df = spark.createDataFrame(rows, DOCUMENTS.to_spark()).repartition(partitions)
    lake.append(DOCUMENTS, df, '{"job": "test"}')


def dedup_columns(lake) -> dict[str, tuple]:
    rows = lake.read(DOCUMENTS.name).select(
        "doc_id", "dup_cluster_id", "dup_of", "dup_similarity", "dup_exact", "drop_reason"
    )
    return {
        r["doc_id"]: (
            r["dup_cluster_id"],
            r["dup_of"],
            None if r["dup_similarity"] is None else round(r["dup_similarity"], 12),
            r["dup_exact"],
            r["drop_reason"],
        )
        for r in rows.collect()
    }


def _run(spark, lake, cfg=None, full=False):
    cfg = cfg or DedupConfig()
    return run_dedup(spark, lake, cfg, RunInfo(job="dedup", config_hash="test", config={}), full=full)


def _expected(docs, cfg, prior=(), before=None):
    out = dict(before or {})
    for doc_id, a in deduplicate(docs, cfg, prior).items():
        reason = None if a.dup_exact is None else ("exact_duplicate" if a.dup_exact else "near_duplicate")
        sim = None if a.dup_similarity is None else round(a.dup_similarity, 12)
        out[doc_id] = (a.dup_cluster_id, a.dup_of, sim, a.dup_exact, reason)
    return out


# survivor_task_mb=0: every component is resolved round by round across tasks (the path of a component too large for
# one task); the result must not change
@pytest.mark.parametrize("task_mb", [32.0, 0.0], ids=["components-in-one-task", "components-across-tasks"])
def test_dedup_equals_the_reference_and_reconciles(spark, lake, shared_data, task_mb):
    docs = corpus(shared_data)
    write_documents(spark, lake, docs)
    report = _run(spark, lake, DedupConfig(survivor_task_mb=task_mb))
    got = dedup_columns(lake)
    assert got == _expected(docs, DedupConfig())
    clusters = len({v[0] for v in got.values() if v[0] is not None})
    assert report.details["large_components"] == (0 if task_mb else clusters)
    assert (report.details["survivor_rounds_distributed"] > 0) == (task_mb == 0)
    exact = sum(1 for v in got.values() if v[4] == "exact_duplicate")
    near = sum(1 for v in got.values() if v[4] == "near_duplicate")
    assert exact >= 8 and near >= 10  # the corpus has them; the reference agrees on which
    assert all(got[d["doc_id"]][4] is None for d in docs if d["doc_id"].startswith("f"))  # far copies stay
    t = report.totals
    assert t["records_in"] == len(docs) == t["kept"] + t["dropped"] and t["dropped"] == exact + near
    assert report.details["signatures_computed"] == len(docs)
    sigs = lake.read(MINHASH_SIGNATURES.name)
    assert sigs.count() == len(docs) and sigs.select("signature_key").distinct().count() == 1
    hist = lake.history(DOCUMENTS.name, 1).select("operation", "userMetadata").first()
    assert hist["operation"] == "MERGE" and '"job":"dedup"' in hist["userMetadata"]

    # SQL answers "what did this page duplicate, and how similar was it"; kept is a query
    rows = spark.sql(
        f"SELECT d.doc_id, s.doc_id AS original, d.dup_similarity FROM {lake.fq('documents')} d "
        f"JOIN {lake.fq('documents')} s ON d.dup_of = s.doc_id WHERE d.doc_id = 'n000'"
    ).collect()
    assert len(rows) == 1 and rows[0]["original"] == "a000" and 0.8 <= rows[0]["dup_similarity"] < 1.0
    kept = {r["doc_id"] for r in spark.sql(f"SELECT doc_id FROM {lake.fq('kept')}").collect()}
    assert "a000" in kept and "n000" not in kept and "e000" not in kept


def test_partitions_grow_with_the_text_and_the_setting_is_restored(spark, lake, shared_data):
    from curation.spark.dedup import partitions_for

    cfg = DedupConfig(partition_mb=1)
    assert partitions_for(0, cfg, 4) == 4 and partitions_for(3 * 2**20 + 1, cfg, 2) == 4
    assert partitions_for(10 * 2**30, DedupConfig(), 8) == 160  # 10 GiB of text at the default 64 MB
    docs = corpus(shared_data, n=12, seed=3)
    write_documents(spark, lake, docs)
    before = spark.conf.get("spark.sql.shuffle.partitions")
    chars = sum(len(d["text"]) for d in docs)
    small = DedupConfig(partition_mb=chars / 2**20 / 4.5)  # 4.5 partitions of text: 5, above the session's 4
    report = _run(spark, lake, small)
    assert int(before) < 5 and report.details["partitions"] == 5
    assert spark.conf.get("spark.sql.shuffle.partitions") == before
    assert dedup_columns(lake) == _expected(docs, small)  # the same decisions in more partitions


def test_result_does_not_depend_on_partitions_or_order(spark, tmp_path, shared_data):
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    docs = corpus(shared_data, n=12, seed=5)
    results = []
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        for k, parts in enumerate((1, 3, 16)):
            shuffled = docs[:]
            random.Random(k).shuffle(shuffled)
            lake = Lakehouse(spark, LakehouseConfig(root=str(tmp_path / f"lake{parts}"))).attach()
            spark.conf.set("spark.sql.shuffle.partitions", str(parts))
            write_documents(spark, lake, shuffled, partitions=parts)
            _run(spark, lake)
            results.append(dedup_columns(lake))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    assert results[0] == results[1] == results[2]
    assert sum(v[1] is not None for v in results[0].values()) >= 6


@pytest.mark.parametrize("task_mb", [32.0, 0.0], ids=["components-in-one-task", "components-across-tasks"])
def test_incremental_dedup_against_earlier_survivors(spark, lake, shared_data, task_mb):
    first = corpus(shared_data, n=16, seed=1, prefix="z")  # "z…" ids sort after every new id
    write_documents(spark, lake, first)
    _run(spark, lake)
    before = dedup_columns(lake)
    survivors = {d for d, v in before.items() if v[1] is None}

    rng = random.Random(9)
    arts = _articles(shared_data, 16)
    second = [
        {"doc_id": "a-exact", "text": arts[0].lower(), "warc_date": None},  # exact copy of z-a000 (a survivor)
        {"doc_id": "b-near", "text": _edit(arts[3], 0.005, rng), "warc_date": None},
        {"doc_id": "c-new", "text": "A new page about something else entirely. " * 3, "warc_date": None},
        {"doc_id": "d-copy", "text": "A new page about something else entirely. " * 3, "warc_date": None},
    ]
    write_documents(spark, lake, second)
    report = _run(spark, lake, DedupConfig(survivor_task_mb=task_mb))
    got = dedup_columns(lake)
    assert report.details["new"] == 4 and report.details["prior"] == len(survivors)
    assert report.details["signatures_computed"] == 4  # earlier signatures are read back, not recomputed
    assert got["a-exact"][:2] == ("za000", "za000") and got["a-exact"][4] == "exact_duplicate"
    assert got["b-near"][1] == before["za003"][0] and got["b-near"][4] == "near_duplicate"  # za003's survivor
    assert got["d-copy"][1] == "c-new"  # new documents deduplicate among themselves too
    for d in survivors:  # earlier survivors stay survivors
        assert got[d][1] is None and got[d][4] is None
    assert {d: v for d, v in got.items() if d.startswith("z")} == before  # nothing earlier was reassigned
    prior = [d for d in first if d["doc_id"] in survivors]
    assert got == _expected(prior + second, DedupConfig(), prior={d["doc_id"] for d in prior}, before=before)

    # a rerun finds nothing new and changes nothing
    version = lake.version(DOCUMENTS.name)
    again = _run(spark, lake)
    assert again.details["new"] == 0 and dedup_columns(lake) == got
    assert lake.version(DOCUMENTS.name) == version


def test_filter_keeps_duplicate_verdicts_and_only_kept_documents_take_part(spark, lake, shared_data):
    from curation.spark.curate import run_filter

    docs = corpus(shared_data, n=12, seed=2)
    docs[0]["gopher_word_count"] = 10  # the signal behind the drop, so filter's verdict agrees
    dropped = {"a000": "gopher_short_doc"}  # a document the filters dropped never becomes a survivor
    write_documents(spark, lake, docs, drop=dropped)
    _run(spark, lake)
    got = dedup_columns(lake)
    assert got["a000"][0] is None and got["a000"][4] == "gopher_short_doc"
    assert got["e000"][1] != "a000"
    report = run_filter(spark, lake, CurateConfig(), RunInfo(job="filter", config_hash="t", config={}))
    assert report.changed == 0 and dedup_columns(lake) == got
    rows = {(r["stage"], r["reason"], r["outcome"]): r["count"] for r in report.funnel}
    assert rows.get(("dedup", "exact_duplicate", "dropped"), 0) == sum(v[4] == "exact_duplicate" for v in got.values())


def test_full_rerun_with_a_new_threshold_reuses_signatures(spark, lake, shared_data):
    docs = corpus(shared_data, n=12, seed=4)
    write_documents(spark, lake, docs)
    _run(spark, lake)
    strict = DedupConfig(threshold=0.97)
    report = _run(spark, lake, strict, full=True)
    assert report.details["signatures_computed"] == 0 and report.details["reused_signatures"] == len(docs)
    assert dedup_columns(lake) == _expected(docs, strict)


def test_missing_documents_is_a_clear_error(spark, lake):
    with pytest.raises(ValueError, match="run `lakeforge curate` first"):
        _run(spark, lake)
    with pytest.raises(ValueError, match="not a column"):
        _run(spark, lake, DedupConfig(survivor_order=("no_such_column",)))


def test_older_documents_tables_gain_the_dedup_columns(spark, lake):
    from dataclasses import replace

    old = replace(DOCUMENTS, fields=tuple(f for f in DOCUMENTS.fields if not f.name.startswith(("dup_", "dedup_"))))
    old = replace(old, fields=tuple(f for f in old.fields if f.name != "text_hash"))
    lake.ensure(old)
    lake.ensure(DOCUMENTS)
    assert set(DOCUMENTS.names) <= set(lake.read(DOCUMENTS.name).columns)
    assert lake.history(DOCUMENTS.name, 1).first()["operation"] == "ADD COLUMNS"
