"""``lakeforge report`` on the lakehouse of a real ``lakeforge run`` (tests/pipeline_fixture.py: real WARCs
curated, WikiText imported, deduplicated, a toxicity classifier trained and applied, tokenized, mixed, 6 training
steps), rendered in headless Chromium: no console errors, every section displayed, every figure loaded, nothing
fetched from anywhere."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from curation.report import SECTIONS, write_report
from curation.spark.report import collect

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore::UserWarning")]  # e2e: a whole real pipeline run


@pytest.fixture(scope="module")
def report_lake(spark, pipeline_a):
    """The lakehouse of a real ``lakeforge run`` (tests/pipeline_fixture.py): curate, WikiText, dedup, a toxicity
    classifier, classify, tokenize, mix and 6 training steps, recorded in ``runs``; then a second, all-skipped run."""
    lake = pipeline_a["lake"].attach()  # other tests attach other lakehouses to the shared session
    return lake, pipeline_a["first"], pipeline_a["second"]


def test_collect_fills_every_section_from_the_pipeline_run(spark, report_lake):
    lake, first, _ = report_lake
    out = {s.stage: s.outputs for s in first.stages}
    data = collect(spark, lake, pipeline_run_id=first.pipeline_run_id)
    jobs = [r.job for r in data.funnel]
    assert "curate" in jobs and "dedup" in jobs and all(r.reconciles for r in data.funnel)
    assert data.documents_version == out["classify"]["documents"]  # the last documents version a stage wrote
    assert data.documents == lake.read("documents", data.documents_version).count()
    assert sum(x.documents for x in data.languages) == data.documents
    # Thresholds come from the recorded config of the run that decided the verdicts.
    assert not data.signals.config_is_default
    words = next(h for h in data.signals.groups["Gopher quality"] if h.column == "gopher_word_count")
    assert words.total == data.signals.documents > 0 and any(t.reason == "gopher_short_doc" for t in words.thresholds)
    assert data.classifiers is not None
    assert data.tokens.mixture.mixture_id == out["mix"]["mixture_id"]
    assert {c.name for c in data.tokens.mixture.components} == {"web", "wiki"}
    assert [s["iteration"] for s in data.training.steps] == list(range(1, 7))
    assert data.training.out_dir == out["train"]["out_dir"]
    assert {t.table for t in data.lineage.tables} >= {"documents", "stats", "mixtures", "token_shards", "runs"}
    stages = [(s.stage, s.status) for s in data.lineage.stages]
    assert stages == [(s.stage, "succeeded") for s in first.stages]
    offsets = [s.start_offset for s in data.lineage.stages]
    assert offsets == sorted(offsets) and offsets[-1] > 0
    # The fixture copies the start of WikiText (its lead piece and two articles: three documents) into a file of its
    # own, and the real inputs have no duplicates of their own: three clusters of two, each a copy and its original.
    d = data.duplicates
    assert d is not None and d.exact >= 2 and d.documents == sum(size * n for size, n in d.size_counts.items())
    assert d.largest[0].size == max(d.size_counts) and d.largest[0].survivor_url
    copies = [c for c in d.largest if any("wikitext-copy.txt" in u for u in [c.survivor_url, *c.urls])]
    assert len(copies) == d.clusters == 3 and all(c.size == 2 and c.exact == 1 for c in copies)


def test_an_all_skipped_run_reports_the_runs_that_made_its_outputs(spark, report_lake):
    lake, first, second = report_lake
    latest = lake.read("runs").agg({"pipeline_run_id": "max"}).first()[0]  # run ids sort by time
    assert collect(spark, lake).lineage.pipeline_run_id == latest  # the latest pipeline run, by default
    data = collect(spark, lake, pipeline_run_id=second.pipeline_run_id)
    assert data.lineage.pipeline_run_id == second.pipeline_run_id
    assert {s.status for s in data.lineage.stages} == {"skipped"}
    made = collect(spark, lake, pipeline_run_id=first.pipeline_run_id)
    assert [r.run_id for r in data.funnel] == [r.run_id for r in made.funnel]  # the producers' job runs
    # Each skipped stage names the run that built its output, how long that stage took there and its counts.
    took = {s.stage: (s.seconds, s.counts) for s in made.lineage.stages}
    assert {s.stage: (s.reused_run_id, s.built_seconds, s.counts) for s in data.lineage.stages} == {
        stage: (first.pipeline_run_id, seconds, counts) for stage, (seconds, counts) in took.items()
    }
    assert all(s.counts for s in data.lineage.stages)
    with pytest.raises(ValueError, match="no pipeline run 'nope'"):
        collect(spark, lake, pipeline_run_id="nope")


@pytest.fixture(scope="module")
def page(report_lake, tmp_path_factory) -> Path:
    """The report written by the job itself (``lakeforge report``), in process on the shared session."""
    import contextlib
    import io

    from jobs.common import run_main
    from jobs.report import main

    lake, first, _ = report_lake
    out = tmp_path_factory.mktemp("report-out") / "site"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = run_main(main, ["--lakehouse", lake.root, "--run", first.pipeline_run_id, "--out", str(out)])
    assert code == 0
    index = Path(stdout.getvalue().strip().splitlines()[-1])
    assert index == (out / "index.html").resolve() and index.is_file()
    return index


def test_the_job_writes_one_self_contained_page_and_its_figures(page):
    html = page.read_text()
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in html
    figures = sorted(p.name for p in (page.parent / "figures").glob("*.png"))
    assert {"training.png", "tokens.png", "pipeline-stages.png", "classifiers.png"} <= set(figures)
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
    # Every section has its data, except duplicates when this small input has none: then it says why, visibly (the
    # empty-lakehouse test below covers every section's "not available" line).
    missing = browser.execute_script(
        "return [...document.querySelectorAll('p.na')].map(p => [p.closest('section').id, p.innerText])"
    )
    assert all(sid == "duplicates" and text.startswith("not available: dedup ran") for sid, text in missing), missing
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
