"""bench/scale.py's pure parts, without Spark: the fixed + per-item fit, the linearity and memory checks, the
shuffle bytes of an event log, and the planted-duplicate quality of removals."""

from __future__ import annotations

import json

import pytest

from bench._scale_fit import event_log_shuffle_bytes, fit_linear, linearity, rss_growth, shuffle_bytes_written
from bench.scale import first_texts, parse_sizes, planted_groups, planted_quality


def test_fit_recovers_a_line():
    f = fit_linear([1000, 4000, 16000], [12.0 + 0.002 * n for n in (1000, 4000, 16000)])
    assert f["fixed_seconds"] == pytest.approx(12.0)
    assert f["per_item_seconds"] == pytest.approx(0.002)
    assert f["per_item_by_size"] == pytest.approx([0.002] * 3)
    assert linearity(f)["met"] is True and linearity(f)["worst_deviation"] == pytest.approx(0, abs=1e-9)


def test_linearity_fails_on_a_superlinear_cost():
    ns = [1000, 4000, 16000, 64000]
    f = fit_linear(ns, [5 + 1e-8 * n * n for n in ns])  # quadratic: the per-item cost grows with n
    lin = linearity(f)
    assert lin["met"] is False and lin["worst_deviation"] > 0.15


def test_linearity_is_not_judged_on_two_sizes():
    f = fit_linear([100, 200], [10.0, 30.0])
    assert f["per_item_seconds"] == pytest.approx(0.2) and f["fixed_seconds"] == pytest.approx(-10.0)
    assert linearity(f)["met"] is None


def test_fit_refuses_too_few_or_equal_sizes():
    with pytest.raises(ValueError, match="two sizes"):
        fit_linear([100], [1.0])
    with pytest.raises(ValueError, match="differ"):
        fit_linear([100, 100], [1.0, 2.0])


def test_rss_growth():
    assert rss_growth([1000.0, 1200.0, 1400.0]) == {"met": True, "ratio": pytest.approx(1.4), "limit": 1.5}
    assert rss_growth([1000.0, 1600.0])["met"] is False


def _task_end(written: int | None) -> str:
    metrics = {"Executor Run Time": 5}
    if written is not None:
        metrics["Shuffle Write Metrics"] = {"Shuffle Bytes Written": written, "Shuffle Records Written": 3}
    return json.dumps({"Event": "SparkListenerTaskEnd", "Stage ID": 0, "Task Metrics": metrics})


EVENTS = [
    json.dumps({"Event": "SparkListenerLogStart", "Spark Version": "4.0.0"}),
    _task_end(1200),
    _task_end(None),  # a result task: no shuffle write
    json.dumps({"Event": "SparkListenerStageCompleted", "Note": "SparkListenerTaskEnd"}),  # named, not one
    _task_end(34),
]


def test_shuffle_bytes_of_an_inline_log():
    assert shuffle_bytes_written(EVENTS) == 1234


def test_event_log_folder(tmp_path):
    app = tmp_path / "eventlog_v2_local-1"
    app.mkdir()
    (app / "events_1_local-1").write_text("\n".join(EVENTS) + "\n")
    (app / "events_2_local-1").write_text(_task_end(66) + "\n")
    (app / "appstatus_local-1").write_text("")
    assert event_log_shuffle_bytes(tmp_path) == 1300
    (app / "events_3_local-1.zstd").write_bytes(b"\x28\xb5\x2f\xfd")
    with pytest.raises(ValueError, match="compress=false"):
        event_log_shuffle_bytes(tmp_path)


def test_planted_quality(tmp_path):
    truth = tmp_path / "near_duplicates.jsonl"
    rows = [{"id": "t0000003", "of": "t0000001"}, {"id": "t0000004", "of": "t0000003"}, {"id": "t0000009", "of": "t0"}]
    truth.write_text("".join(json.dumps(r) + "\n" for r in rows))
    group, pairs = planted_groups(truth, 5)  # t0000009 is not among the first 5
    assert pairs == [("t0000003", "t0000001"), ("t0000004", "t0000003")]
    assert group["t0000004"] == group["t0000001"] == group["t0000003"]
    # t4 removed for t1 (same chain: right), t2 for t0 (planted nothing: wrong); the pair t3-t1 kept both
    q = planted_quality({"t0000004": "t0000001", "t0000002": "t0000000"}, group, pairs)
    assert q == {"removed": 2, "precision": 0.5, "recall": 0.5}
    assert planted_quality({}, group, pairs) == {"removed": 0, "precision": 1.0, "recall": 0.0}


def test_first_texts_reads_across_shards(tmp_path):
    (tmp_path / "texts-00000.jsonl").write_text('{"id": "a"}\n{"id": "b"}\n')
    (tmp_path / "texts-00001.jsonl").write_text('{"id": "c"}\n{"id": "d"}\n')
    out = first_texts(tmp_path, 3, tmp_path / "first.jsonl")
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["a", "b", "c"]


def test_parse_sizes():
    assert parse_sizes("1000,4_000") == [1000, 4000]
    assert parse_sizes("64000") == [64000]  # one size: with --previous (a measured curve) or --smoke
    for bad in ("", "4000,1000", "0,10", "10,10"):
        with pytest.raises(Exception, match="increasing and positive"):
            parse_sizes(bad)


def test_previous_rows_join_the_sizes_not_measured_again(tmp_path):
    from bench.scale import previous_rows

    earlier = {
        "smoke": False,
        "dedup_threshold": None,
        "curate": [_row(1000, 30.0, 900.0), _row(4000, 70.0, 950.0)],
        "dedup": [{"n": 20_000, "seconds": 50.0, "peak_rss_mib": 3000.0}],
    }
    log = tmp_path / "scale.log"
    log.write_text("[bench] curate at 1,000 docs\n" + json.dumps(earlier) + "\n")
    kept = previous_rows(log, ["curate", "dedup"], {"curate": [4000, 64_000], "dedup": [1_000_000]}, None)
    assert [r["n"] for r in kept["curate"]] == [1000] and kept["curate"][0]["previous"] == "scale.log"
    assert [r["n"] for r in kept["dedup"]] == [20_000]
    with pytest.raises(SystemExit, match="other settings"):  # another threshold: another curve
        previous_rows(log, ["dedup"], {"dedup": [1_000_000]}, 0.7)


def test_summarize_one_size_judges_nothing_of_the_curve():
    from bench.scale import summarize

    fit, goals = summarize("dedup", [_row(1000, 10.0, 800.0)])
    assert fit == {"sizes": 1}
    assert [g["met"] for g in goals] == [None, None] and {g["figure"] for g in goals} == {"one size"}


def _row(n: int, seconds: float, rss: float, **extra) -> dict:
    return {"n": n, "asked": n, "seconds": seconds, "peak_rss_mib": rss, **extra}


def test_summarize_judges_the_datatrove_goals():
    from bench.scale import summarize

    dt = {"seconds": 100.0, "peak_rss_mib": 900.0, "precision": 0.99, "recall": 0.9}
    rows = [
        _row(20_000, 10.0, 800.0, precision=1.0, recall=0.95, datatrove=dt | {"n": 20_000, "per_s": 200.0}),
        _row(100_000, 40.0, 1000.0, precision=1.0, recall=0.95, datatrove=dt | {"n": 100_000, "per_s": 1000.0}),
        _row(300_000, 130.0, 1100.0, precision=1.0, recall=0.85, datatrove=dt | {"n": 300_000, "per_s": 1000.0}),
    ]
    fit, goals = summarize("dedup", rows)
    assert fit["sizes"] == 3 and rows[0]["per_s"] == 2000.0
    speed = [g["met"] for g in goals if g["goal"].startswith("≥ 1.5×")]
    assert speed == [None, True, False]  # below 100k: not judged; 2.5× at ≥ P/R; 2.3× but a lower recall
    assert [g["met"] for g in goals if g["goal"].startswith("peak RSS ≤")] == [True, False, False]
    curate = [_row(1000, 50.0, 900.0), _row(16_000, 200.0, 1000.0, datatrove={"n": 16_000, "per_s": 50.0})]
    _, goals = summarize("curate", curate)
    assert [g["met"] for g in goals if "datatrove" in g["goal"]] == [False]  # 80 docs/s vs 50: 1.6×, under 2×
