"""train-classifier / classify / curate / filter with trained classifiers, on real Spark and Delta and real data:
the Davidson tweets (toxicity, goal metrics), WikiText against crawled pages (quality, SQL input)."""

from __future__ import annotations

import json

import pytest

from curation.classify.source import TrainClassifierConfig
from curation.config import config_hash, load, to_dict
from curation.curate import CurateConfig
from curation.provenance import RunInfo
from curation.spark.classify import resolve_classifiers, run_classify, run_train_classifier
from curation.spark.curate import run_curate, run_filter
from curation.spark.text_import import TextImportConfig, run_import_text
from curation.warc.sources import resolve_inputs
from schemas import DOCUMENTS, MODELS

TOXICITY = {
    "name": "toxicity",
    "input": {
        "text_column": "tweet",
        "label_column": "class",
        "positive_values": [0, 1],
        "negative_values": [2],
        "train_where": "neither = 0 OR neither = count",
    },
    "model": {
        "positive_label": "toxic",
        "negative_label": "clean",
        "languages": ["en"],
        "fasttext": {"lr": 0.2, "epoch": 10, "dim": 50, "word_ngrams": 2, "minn": 3, "maxn": 6, "bucket": 100000},
    },
}


def _run(job, cfg):
    return RunInfo(job=job, config_hash=config_hash(cfg), config=to_dict(cfg))


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory, shared_data):
    """A lakehouse with the real WARCs curated and the toxicity model trained from the Davidson file."""
    from curation.config import LakehouseConfig
    from curation.spark.lakehouse import Lakehouse

    lake = Lakehouse(spark, LakehouseConfig(root=str(tmp_path_factory.mktemp("classify") / "lh"))).attach()
    data = json.loads(json.dumps(TOXICITY))
    data["input"]["labels"] = str(shared_data / "toxicity" / "davidson" / "labeled_data.csv")
    cfg = load(TrainClassifierConfig, data)
    report = run_train_classifier(spark, lake, cfg, _run("train-classifier", cfg))
    return lake, cfg, report


def test_toxicity_model_meets_its_goals_and_is_registered(trained):
    lake, cfg, report = trained
    assert report.created and report.model_id == "toxicity@v1"
    test = report.metrics["test"]
    # Goals of the issue, on the held-out test split (never used to choose anything).
    assert test["classes"]["toxic"]["f1"] >= 0.97 and test["macro_f1"] >= 0.92, test
    # The untuned baseline on the same split is clearly worse.
    assert report.baseline["test"]["at_0.5"]["macro_f1"] < test["macro_f1"] - 0.03
    counts = report.counts
    assert counts["rows_in"] == 19825 and report.unreconciled() is None
    assert counts["train"]["fitted"] < counts["train"]["positive"] + counts["train"]["negative"]  # train_where
    row = lake.read(MODELS.name).where("model_id = 'toxicity@v1'").first()
    assert row["threshold"] == report.metrics["threshold"] and row["languages"] == ["en"]
    source = json.loads(row["source"])
    assert source["kind"] == "file" and len(source["sha256"]) == 64
    assert json.loads(row["metrics"])["test"]["macro_f1"] == pytest.approx(test["macro_f1"])


def test_same_examples_and_settings_add_no_version_and_new_settings_do(spark, trained):
    lake, cfg, _ = trained
    before = lake.version(MODELS.name)
    again = run_train_classifier(spark, lake, cfg, _run("train-classifier", cfg))
    assert not again.created and again.model_id == "toxicity@v1" and lake.version(MODELS.name) == before
    other = load(TrainClassifierConfig, to_dict(cfg) | {"model": to_dict(cfg.model) | {"target": "precision>=0.99"}})
    v2 = run_train_classifier(spark, lake, other, _run("train-classifier", other))
    assert v2.created and v2.model_id == "toxicity@v2"
    assert v2.metrics["validation"]["classes"]["toxic"]["precision"] >= 0.99
    pinned = resolve_classifiers(lake, CurateConfig(classifiers={"toxicity": {"version": 1}}))
    assert pinned.classifiers["toxicity"].model.model_id == "toxicity@v1"
    latest = resolve_classifiers(lake, CurateConfig(classifiers={"toxicity": {}}))
    assert latest.classifiers["toxicity"].model.model_id == "toxicity@v2"
    with pytest.raises(ValueError, match="no version 7"):
        resolve_classifiers(lake, CurateConfig(classifiers={"toxicity": {"version": 7}}))
    with pytest.raises(ValueError, match="train it first"):
        resolve_classifiers(lake, CurateConfig(classifiers={"spam": {}}))


def test_curate_scores_classify_is_incremental_and_filter_rethresholds(spark, trained, shared_data):
    lake, _, _ = trained
    cfg = resolve_classifiers(lake, CurateConfig(classifiers={"toxicity": {"version": 1}}))
    sources = resolve_inputs([str(shared_data / "warc" / "dolma")], cfg.read.paths_base)
    report = run_curate(spark, lake, sources, cfg, _run("curate", cfg))
    assert report.unreconciled() is None
    docs = lake.read(DOCUMENTS.name)
    rows = docs.select("doc_id", "text", "language", "toxicity_score", "toxicity_model", "drop_reasons").collect()
    assert rows and all(r["toxicity_model"] == "toxicity@v1" for r in rows)
    for r in rows:  # English text: a score; anything else: null
        assert (r["toxicity_score"] is not None) == (r["language"] == "en" and bool(r["text"])), r["doc_id"]
    # The scores equal the pure scorer's on the same texts (stable, shipped model = registered model).
    from curation.classify.model import Scorer

    ref = cfg.classifiers["toxicity"].model
    expect = Scorer(ref).scores([r["text"] for r in rows], [r["language"] for r in rows])
    assert [r["toxicity_score"] for r in rows] == expect
    # classify with the same versions: nothing to score; then an import adds unscored rows (nulls, no crash).
    again = run_classify(spark, lake, cfg, _run("classify", cfg))
    assert again.details["scored"] == 0 and again.unreconciled() is None
    run_import_text(
        spark,
        lake,
        [str(shared_data / "corpora" / "tinyshakespeare" / "input.txt")],
        TextImportConfig(split="paragraphs"),
        _run("import-text", cfg),
    )
    third = run_classify(spark, lake, cfg, _run("classify", cfg))
    assert third.details["scored"] > 1000  # the imported paragraphs (no language: null score, model recorded)
    assert lake.read(DOCUMENTS.name).where("toxicity_model IS NULL").count() == 0
    # Re-threshold: everything English with a score >= 0.0 fails; the verdict changes, the scores do not.
    low = resolve_classifiers(lake, CurateConfig(classifiers={"toxicity": {"version": 1, "threshold": 0.0}}))
    scores_before = {r["doc_id"]: r["toxicity_score"] for r in lake.read(DOCUMENTS.name).collect()}
    filtered = run_filter(spark, lake, low, _run("filter", low))
    after = lake.read(DOCUMENTS.name)
    n_scored = sum(v is not None for v in scores_before.values())
    assert after.where("array_contains(drop_reasons, 'toxicity_high')").count() == n_scored > 0
    assert filtered.changed >= 1
    assert {r["doc_id"]: r["toxicity_score"] for r in after.collect()} == scores_before
    # Version 2 configured: filter warns that the stored scores come from v1.
    v2 = resolve_classifiers(lake, CurateConfig(classifiers={"toxicity": {}}))
    if v2.classifiers["toxicity"].model.version > 1:
        warn = run_filter(spark, lake, v2, _run("filter", v2)).warnings
        assert any("toxicity@v1" in w and "lakeforge classify" in w for w in warn)


def test_quality_model_from_sql_pins_table_versions(spark, trained, shared_data):
    lake, _, _ = trained
    wiki = shared_data / "corpora" / "wikitext2_partial"
    run_import_text(
        spark, lake, [str(wiki / "valid.txt")], TextImportConfig(split="wikitext"), _run("import-text", CurateConfig())
    )
    version = lake.version(DOCUMENTS.name)
    cfg = load(
        TrainClassifierConfig,
        {
            "name": "quality",
            "input": {
                "positive_sql": "SELECT doc_id, text FROM documents WHERE source_file LIKE '%wikitext%'",
                "negative_sql": "SELECT doc_id, text FROM documents WHERE url LIKE 'http%' AND language = 'en'",
            },
            "model": {
                "positive_label": "hq",
                "negative_label": "web",
                "languages": ["en"],
                "chunk_words": 100,
                "max_per_class": 500,
                "split": {"validation": 0.2, "test": 0.2},
                "fasttext": {"epoch": 20, "dim": 50, "word_ngrams": 2, "bucket": 100000, "min_count": 2},
            },
        },
    )
    report = run_train_classifier(spark, lake, cfg, _run("train-classifier", cfg))
    source = json.loads(report.row["source"])
    assert source["kind"] == "sql" and source["tables"] == {lake.fq("documents"): version}
    assert report.metrics["test"]["roc_auc"] > 0.9
    with pytest.raises(ValueError, match="text"):
        bad = load(
            TrainClassifierConfig,
            to_dict(cfg)
            | {"input": {"positive_sql": "SELECT url FROM documents", "negative_sql": "SELECT text FROM documents"}},
        )
        run_train_classifier(spark, lake, bad, _run("train-classifier", bad))


def test_bad_labelled_inputs_are_clear_errors(spark, lake, tmp_path):
    csv = tmp_path / "l.csv"
    csv.write_text("text,label\nhello there,1\n")
    for inp, message in (
        ({"labels": str(tmp_path / "missing.csv"), "positive_values": [1]}, "not found"),
        ({"labels": str(csv), "text_column": "tweet", "positive_values": [1]}, "no column 'tweet'"),
        ({"labels": str(tmp_path / "x.xlsx"), "positive_values": [1]}, "not found|unknown format"),
    ):
        cfg = load(TrainClassifierConfig, {"name": "t", "input": inp})
        with pytest.raises(ValueError, match=message):
            run_train_classifier(spark, lake, cfg, _run("train-classifier", cfg))
    cfg = load(TrainClassifierConfig, {"name": "t", "input": {"labels": str(csv), "positive_values": [1]}})
    with pytest.raises(ValueError, match="only positive"):
        run_train_classifier(spark, lake, cfg, _run("train-classifier", cfg))
