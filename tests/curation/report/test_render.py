"""The report's pure parts on inline data: the page (sections, embedded figures, nothing external, escaping,
"not available" lines, thresholds), the funnel, bins, the verdict config, the training log, realized shares."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta

import numpy as np
import pytest

from curation.report import SECTIONS, ReportData, build_figures, render_html, write_report
from curation.report.funnel import choose_runs, funnel_run
from curation.report.model import (
    ClassifierInfo,
    DuplicateCluster,
    Duplicates,
    Histogram,
    LanguageCount,
    Lineage,
    Mixture,
    MixtureComponent,
    RuleCount,
    ShardSet,
    Signals,
    TableVersion,
    Threshold,
    Tokens,
)
from curation.report.runs import pipeline_stages
from curation.report.signals import BinSpec, bin_spec, rule_thresholds, verdict_config
from curation.report.training import read_training_log, realized_shares

EVIL = '<script>alert("x")</script>&'
PNG = b"\x89PNG\r\n\x1a\n"


def _stats(run_id: str, job: str = "curate") -> list[dict]:
    base = {"run_id": run_id, "job": job, "documents_version": 3, "created_at": "2026-11-23 10:00:00"}
    rows = [
        ("input", 0, "", "in", 12),
        ("read", 0, "record_type=request", "skipped", 2),
        ("decode", 1, "", "in", 10),
        ("decode", 1, "binary_content", "errored", 1),
        ("gopher_quality", 6, "", "in", 9),
        ("gopher_quality", 6, "gopher_short_doc", "dropped", 3),
        ("gopher_quality", 6, "gopher_short_doc", "failed", 4),
        ("fineweb", 8, "", "in", 6),
        ("fineweb", 8, "fineweb_line_punct_ratio", "dropped", 1),
        ("output", 9, "", "kept", 5),
    ]
    return [
        base
        | {"stage": s, "stage_order": o, "reason": r, "outcome": oc, "count": n, "seconds": 0.5, "docs_per_s": 20.0}
        for s, o, r, oc, n in rows
    ]


def full_data() -> ReportData:
    """Every section filled, with data values that need escaping."""
    thr = [Threshold("gopher_word_count", "<", 50.0, "gopher_short_doc", "gopher_quality")]
    far = [Threshold("gopher_word_count", ">", 100000.0, "gopher_long_doc", "gopher_quality")]
    words = Histogram("gopher_word_count", BinSpec(0, 4, 8, True).edges(), [1, 0, 2, 5, 9, 3, 1, 0],
                      [0, 0, 1, 4, 8, 2, 0, 0], True, thr + far, 2)  # fmt: skip
    punct_thr = [Threshold("fineweb_line_punct_ratio", "<", 0.12, "fineweb_line_punct_ratio", "fineweb")]
    punct = Histogram("fineweb_line_punct_ratio", BinSpec(0, 1, 10).edges(), [4, 1, 0, 0, 1, 2, 3, 5, 2, 1],
                      [0, 0, 0, 0, 1, 2, 3, 5, 2, 1], False, punct_thr)  # fmt: skip
    score = Histogram("toxicity_score", BinSpec(0, 1, 20).edges(), [3] * 20, [2] * 20, False,
                      [Threshold("toxicity_score", ">=", 0.61, "toxicity_high", "classifiers")], 7)  # fmt: skip
    sim = Histogram("dup_similarity", BinSpec(0.78, 1.0, 11).edges(), [0, 1, 2, 0, 0, 1, 0, 3, 0, 1, 0],
                    [0] * 11, False, [Threshold("dup_similarity", ">=", 0.8, "near_duplicate", "dedup")])  # fmt: skip
    t0 = datetime(2026, 11, 23, 10, 0, 0)
    runs = [
        {"pipeline_run_id": "p1", "pipeline": "demo", "stage_order": 0, "stage": "curate", "status": "running",
         "started_at": t0, "ended_at": None},
        {"pipeline_run_id": "p1", "pipeline": "demo", "stage_order": 0, "stage": "curate", "status": "succeeded",
         "started_at": t0, "ended_at": t0 + timedelta(seconds=40), "seconds": 40.0, "job_run_id": "curate-1",
         "outputs": json.dumps({"documents": 3, "stats": 2}), "counts": json.dumps({"kept": 5})},
        {"pipeline_run_id": "p1", "pipeline": "demo", "stage_order": 1, "stage": "train", "status": "skipped",
         "started_at": t0 + timedelta(seconds=41), "ended_at": t0 + timedelta(seconds=41), "seconds": 0.0,
         "reused_run_id": "p0", "outputs": json.dumps({"out_dir": "runs/x", "checkpoint": "runs/x/ck"})},
    ]  # fmt: skip
    return ReportData(
        title=f"report {EVIL}",
        generated_at="2026-11-23 10:00:00 UTC",
        lakehouse="/lake",
        documents_version=3,
        documents=20,
        kept=5,
        funnel=[funnel_run(_stats(f"curate-{EVIL}"), "latest curate run")],
        languages=[LanguageCount("en", 15, 5), LanguageCount(None, 5, 0), LanguageCount(EVIL, 1, 0)],
        signals=Signals(
            groups={"Gopher quality": [words], "C4 and FineWeb": [punct]},
            rules=[RuleCount("gopher_quality", "gopher_word_count", "<", 50, "gopher_short_doc", 4, 3)],
            config_source="the config of curate run curate-1 (documents v3)",
            documents=18,
        ),
        classifiers=[ClassifierInfo("toxicity", score, 53, {"toxicity@v1": 53}, "toxic", {"threshold": 0.61})],
        duplicates=Duplicates(
            clusters=2,
            documents=5,
            duplicates=3,
            exact=2,
            near=1,
            size_counts={2: 1, 3: 1},
            largest=[
                DuplicateCluster("c1", 3, 2, 0, 1.0, f"https://example.com/{EVIL}", ["https://a.example/x?q=1&y=2"]),
                DuplicateCluster("c2", 2, 0, 1, 0.83, None, ["https://b.example/"]),
            ],
            similarity=sim,
            dedup_config="dedup run d-1: threshold 0.8.",
        ),  # fmt: skip
        tokens=Tokens(
            Mixture(
                "m1",
                "demo",
                [
                    MixtureComponent("web", 0.2, 1000, 3, "s1", "web_en", "documents v3", 4.0, 0.21),
                    MixtureComponent("wiki", 0.8, 9000, 9, "s2", "wiki", "documents v3", 1.0, 0.79),
                ],
                path="/lake/mixtures/demo/m1.json",
                realized_note="162 training samples",
            ),
            [ShardSet("s1", "web_en", "documents v3", 3, 1000, 1, "2026-11-23 10:00:00")],
        ),  # fmt: skip
        training=read_training_log_from_lines(),
        lineage=Lineage(
            tables=[TableVersion("documents", 3, 20, "WRITE", "curate", "curate-1", "2026-11-23 10:00:00", "abc")],
            pipeline_run_id="p1",
            pipeline="demo",
            stages=pipeline_stages(runs, PRODUCERS),
        ),
    )


_LOG: list[dict] = [
    {"event": "start", "world": 1, "device": "cpu", "params": 1234, "mixture_id": "m1"},
    *(
        {"event": "step", "iteration": i, "loss": 10 - i * 0.1, "lr": 1e-3, "tokens_per_s": 2000 + i}
        for i in range(1, 6)
    ),
    {"event": "eval", "iteration": 5, "val_loss": 9.6},
    {"event": "checkpoint", "iteration": 5, "path": "ck/iter_5", "seconds": 0.2},
]


def read_training_log_from_lines():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="report-log-") as d:
        (Path(d) / "log.jsonl").write_text("\n".join(json.dumps(e) for e in _LOG) + "\n")
        return read_training_log(d)


@pytest.fixture(scope="module")
def page() -> tuple[ReportData, dict, str]:
    data = full_data()
    figures = build_figures(data)
    return data, figures, render_html(data, figures)


def test_every_section_is_there_in_order_with_its_heading(page):
    _, _, html = page
    found = re.findall(r'<section id="([a-z]+)"><h2>', html)
    assert found == list(SECTIONS)
    assert "not available" not in html


def test_figures_are_embedded_pngs_and_nothing_is_external(page):
    _, figures, html = page
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == sum(len(f) for f in figures.values()) >= 8
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    for section, figs in figures.items():
        assert figs, f"{section} has no figure"
    # No resource from elsewhere: no http(s) in src/href/url(), no <link>, <script src>, @import.
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert "<link" not in html and "@import" not in html and "<script" not in html.replace("&lt;script", "")


def test_data_values_are_escaped(page):
    _, _, html = page
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html  # the run id, title, URL, language
    assert "https://a.example/x?q=1&amp;y=2" in html


def test_thresholds_and_numbers_appear(page):
    _, _, html = page
    for text in ("gopher_short_doc", "0.61", "toxicity_high", "curate-1 (documents v3)", "threshold 0.8",
                 "162 training samples", "21.0%", "9.6 @ 5"):  # fmt: skip
        assert text in html, text
    assert "reconcile: records in 12 = kept 5 + dropped 4 + skipped 2 + errored 1 [OK]" in html


def test_absent_data_says_why_in_every_section():
    data = ReportData(title="empty", generated_at="now", lakehouse="/lake")
    data.missing["training"] = "no log.jsonl in runs/x: `lakeforge train --set out_dir=runs/x` writes it"
    html = render_html(data)
    assert re.findall(r'<section id="([a-z]+)">', html) == list(SECTIONS)
    assert html.count('<p class="na">not available: ') == len(SECTIONS)
    assert "lakeforge train --set out_dir=runs/x" in html  # the specific reason wins over the default
    assert "lakeforge dedup" in html and "lakeforge mix" in html and "<img" not in html


def test_write_report_writes_the_page_and_the_same_pngs(tmp_path, page):
    data, figures, _ = page
    index = write_report(data, tmp_path / "out")
    assert index == tmp_path / "out" / "index.html"
    html = index.read_text()
    pngs = sorted((tmp_path / "out" / "figures").glob("*.png"))
    assert len(pngs) == sum(len(f) for f in figures.values())
    for p in pngs:
        assert base64.b64encode(p.read_bytes()).decode() in html
    # Deterministic: the same data gives the same bytes.
    again = build_figures(data)
    assert [f.png for fs in again.values() for f in fs] == [f.png for fs in figures.values() for f in fs]


def test_threshold_lines_are_drawn_at_their_values():
    import matplotlib.pyplot as plt

    from curation.report.figures import _draw_histogram

    h = full_data().signals.groups["Gopher quality"][0]
    fig, ax = plt.subplots()
    _draw_histogram(ax, h)
    xs = [line.get_xdata()[0] for line in ax.lines]
    texts = [t.get_text() for t in ax.texts]
    plt.close(fig)
    assert xs == [50.0]  # inside the axis: a dashed line
    assert "< 50" in texts and "> 100,000 →" in texts  # far outside: named at the edge


# ------------------------------------------------------------------------------------------------- pure helpers
def test_funnel_reconciles_and_keeps_first_and_any_failing_counts():
    run = funnel_run(_stats("r1"))
    assert (run.records_in, run.kept, run.dropped, run.skipped, run.errored) == (12, 5, 4, 2, 1)
    assert run.reconciles
    gq = next(s for s in run.stages if s.stage == "gopher_quality")
    assert (gq.entered, gq.dropped, gq.reasons, gq.failed) == (9, 3, {"gopher_short_doc": 3}, {"gopher_short_doc": 4})
    assert [s.stage for s in run.stages] == ["decode", "gopher_quality", "fineweb"]


def test_choose_runs_prefers_the_latest_run_that_decided_something():
    s = [
        {"run_id": "c1", "job": "curate", "created_at": "2026-01-01", "decided": 50},
        {"run_id": "c2", "job": "curate", "created_at": "2026-01-02", "decided": 0},
        {"run_id": "d1", "job": "dedup", "created_at": "2026-01-03", "decided": 0},
        {"run_id": "i1", "job": "import", "created_at": "2026-01-04", "decided": 9},
    ]
    chosen = choose_runs(s)
    assert [r for r, _ in chosen] == ["c1", "d1"]
    assert "1 later curate run decided none" in chosen[0][1]
    assert [r for r, _ in choose_runs(s, ["d1", "zzz"])] == ["d1"]  # a pipeline's stages win


def test_bins_cover_the_data_and_nearby_thresholds_only():
    far = [Threshold("gopher_word_count", ">", 1e9, "long", "q"), Threshold("gopher_word_count", "<", 50, "short", "q")]
    spec = bin_spec("gopher_word_count", 3, 4000, far)
    assert spec.log and spec.contains(50) and spec.contains(4000) and not spec.contains(1e9)
    edges = spec.edges()
    assert len(edges) == spec.bins + 1 and edges[0] == 0 and edges[-1] == pytest.approx(4000)
    ratio = bin_spec("fineweb_line_punct_ratio", 0.2, 0.9, [Threshold("fineweb_line_punct_ratio", "<", 0.12, "p")])
    assert ratio.lo == 0 and 0.9 <= ratio.hi <= 1.0 and not ratio.log
    stop = bin_spec("gopher_stop_words", 2, 8, [Threshold("gopher_stop_words", "<", 2, "few")])
    assert (stop.lo, stop.hi, stop.bins) == (1.5, 8.5, 7)  # one bin per whole number
    assert bin_spec("language_score", 0.7, 0.99).edges()[:2] == [0.0, pytest.approx(1 / 30)]


def test_verdict_config_takes_the_newest_recorded_curate_config_else_defaults():
    from curation.config import to_dict
    from curation.curate import CurateConfig

    cfg = to_dict(CurateConfig())
    cfg["gopher_quality"]["min_doc_words"] = 77
    commits = [
        (1, json.dumps({"job": "curate", "run_id": "c1", "config": to_dict(CurateConfig())})),
        (2, json.dumps({"job": "filter", "run_id": "f1", "config": cfg, "config_hash": "h1"})),
        (3, json.dumps({"job": "dedup", "run_id": "d1", "config": {"threshold": 0.8}})),
        (4, "not json"),
    ]
    got, source, default = verdict_config(commits)
    assert not default and got.gopher_quality.min_doc_words == 77 and "filter run f1 (documents v2" in source
    assert any(t.reason == "gopher_short_doc" and t.value == 77 for t in rule_thresholds(got))
    got, source, default = verdict_config([(3, commits[2][1])])
    assert default and got == CurateConfig() and "defaults" in source


def test_training_log_keeps_the_last_line_of_a_redone_step(tmp_path):
    lines = [json.dumps(e) for e in _LOG] + [
        '{"event": "step", "iteration": 5, "lo',  # cut mid-write by a crash
        json.dumps({"event": "resumed", "iteration": 4}),
        json.dumps({"event": "step", "iteration": 5, "loss": 1.5, "lr": 1e-3, "tokens_per_s": 10}),
    ]
    (tmp_path / "log.jsonl").write_text("\n".join(lines))
    t = read_training_log(tmp_path)
    assert [s["iteration"] for s in t.steps] == [1, 2, 3, 4, 5] and t.steps[-1]["loss"] == 1.5
    assert t.evals == [{"iteration": 5, "val_loss": 9.6}] and t.resumed == 1 and t.start["params"] == 1234
    assert read_training_log(tmp_path / "nothing") is None


def test_realized_shares_come_from_the_matching_blended_index(tmp_path):
    blend = {"components": [{"name": "a", "prefixes": ["/p/a0", "/p/a1"]}, {"name": "b", "prefixes": ["/p/b0"]}]}
    desc = {"class": "BlendedDataset", "datasets": [{"dataset_path": p} for p in ("/p/a0", "/p/a1", "/p/b0")]}
    (tmp_path / "h1-BlendedDataset-train-description.txt").write_text(json.dumps(desc))
    np.save(tmp_path / "h1-BlendedDataset-train-dataset_index.npy", np.array([0, 1, 2, 2, 0, 1, 2, 2], dtype=np.int16))
    other = desc | {"datasets": desc["datasets"][:1]}
    (tmp_path / "h2-BlendedDataset-train-description.txt").write_text(json.dumps(other))
    shares, note = realized_shares(tmp_path, blend)
    assert shares == {"a": 0.5, "b": 0.5} and "8 training samples" in note
    shares, note = realized_shares(tmp_path, {"components": [{"name": "c", "prefixes": ["/q"]}]})
    assert shares is None and "no training index" in note


PRODUCERS = [
    {
        "pipeline_run_id": "p0",
        "stage": "train",
        "status": "succeeded",
        "seconds": 73.8,
        "counts": json.dumps({"iteration": 20, "loss": 10.04}),
    },
    {"pipeline_run_id": "p0", "stage": "train", "status": "running", "seconds": None},
    {"pipeline_run_id": "p0", "stage": "curate", "status": "succeeded", "seconds": 12.0},
]
"""The earlier run p0 whose train output the skipped stage reused (its curate row must not leak onto p1's curate)."""


def test_pipeline_stages_keep_the_last_event_of_each_stage():
    stages = full_data().lineage.stages
    assert [(s.stage, s.status) for s in stages] == [("curate", "succeeded"), ("train", "skipped")]
    assert stages[0].outputs == {"documents": 3, "stats": 2} and stages[1].start_offset == 41.0
    assert stages[1].outputs["out_dir"] == "runs/x" and stages[1].reused_run_id == "p0"
    assert stages[0].built_seconds is None and stages[1].built_seconds == 73.8
    assert stages[0].counts == {"kept": 5} and stages[1].counts == {"iteration": 20, "loss": 10.04}  # p0's build


def test_a_skipped_stage_shows_the_run_that_built_its_output():
    html = render_html(full_data(), build_figures(full_data()))
    assert "built in 73.8 s by p0" in html
    assert "iteration=20" in html  # the counts of that build
