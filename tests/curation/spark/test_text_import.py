"""``import-text``: JSON Lines and text files into ``documents``; bad lines quarantined; a rerun adds nothing."""

from __future__ import annotations

import json

import pytest

from curation.provenance import RunInfo
from curation.spark.text_import import TextImportConfig, run_import_text
from schemas import DOCUMENTS, INGEST_ERRORS


def _run(spark, lake, paths):
    return run_import_text(spark, lake, [str(p) for p in paths], TextImportConfig(), RunInfo("import", "t", {}))


def test_import_reconciles_quarantines_and_is_idempotent(spark, lake, shared_data, tmp_path):
    speeches = (shared_data / "corpora" / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8").split("\n\n")
    jsonl = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"id": f"s{i}", "text": t}) for i, t in enumerate(speeches[:20])]
    lines += ["{not json", json.dumps({"id": "no-text"}), json.dumps({"text": "no id"})]
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = tmp_path / "page.txt"
    page.write_text(speeches[30], encoding="utf-8")

    report = _run(spark, lake, [jsonl, page])
    t = report.totals
    assert t["records_in"] == 24 and t["kept"] == 21 and t["errored"] == 3 and report.unreconciled() is None
    docs = {r["url"]: r for r in lake.read(DOCUMENTS.name).collect()}
    assert docs[f"{jsonl}#s3"]["text"] == speeches[3] and docs[f"{jsonl}#s3"]["source_file"] == str(jsonl)
    assert docs[f"{page}#page.txt"]["text"] == speeches[30]
    reasons = sorted(r["reason"] for r in lake.read(INGEST_ERRORS.name).collect())
    assert reasons == ["bad_json", "missing_id", "missing_text"]

    again = _run(spark, lake, [jsonl, page])
    assert again.totals["kept"] == 0 and again.unreconciled() is None
    assert lake.read(DOCUMENTS.name).count() == 21 and lake.read(INGEST_ERRORS.name).count() == 3
    with pytest.raises(ValueError, match="input not found"):
        _run(spark, lake, [tmp_path / "missing.jsonl"])
