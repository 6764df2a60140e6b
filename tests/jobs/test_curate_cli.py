"""``lakeforge curate`` → ``stats`` → ``filter`` → ``sql`` as a user runs them: separate processes, one lakehouse."""

from __future__ import annotations

import json

from test_cli import run


def test_curate_stats_filter_sql_in_new_processes(tmp_path, shared_data):
    warc = shared_data / "warc"
    lists = shared_data / "toxicity" / "ldnoobw"
    cur = run(
        "curate",
        "--input",
        str(warc / "dolma" / "sample-0000.warc.gz"),
        "--input",
        str(warc / "whirlwind"),
        "--set",
        f"toxicity.wordlist_dir={lists}",
        "--master",
        "local[2]",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert cur.returncode == 0, cur.stderr[-3000:]
    report = json.loads(cur.stdout)  # stdout is pure JSON
    t = report["totals"]
    assert t["records_in"] == t["kept"] + t["dropped"] + t["skipped"] + t["errored"]
    assert t["documents"] >= 20 and t["kept"] > 0
    assert report["stages"]["extract"]["docs_per_s"] > 0

    stats = run("stats", "--format", "json", cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr[-2000:]  # 3 when the stored funnel does not reconcile
    funnel = json.loads(stats.stdout)
    assert funnel["run_id"] == report["run_id"] and funnel["totals"] == t
    assert {r["stage"] for r in funnel["funnel"]} >= {"input", "extract", "output"}

    flt = run("filter", "--set", "gopher_quality.min_doc_words=400", "--format", "json", cwd=tmp_path)
    assert flt.returncode == 0, flt.stderr[-2000:]
    changed = json.loads(flt.stdout)
    assert changed["changed"] > 0
    assert changed["totals"]["kept"] < t["kept"]  # some kept documents are now too short

    q = run(
        "sql",
        "--format",
        "json",
        "SELECT (SELECT count(*) FROM kept) AS kept_now, "
        "(SELECT count(*) FROM documents VERSION AS OF 1 WHERE drop_reason IS NULL) AS kept_before",
        cwd=tmp_path,
    )
    assert q.returncode == 0, q.stderr[-2000:]
    assert json.loads(q.stdout) == [{"kept_now": changed["totals"]["kept"], "kept_before": t["kept"]}]
