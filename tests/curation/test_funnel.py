"""The pure funnel (curation/funnel.py) and the job report (curation/stage.py) on inline counts."""

from __future__ import annotations

import pytest

from curation import funnel
from curation.curate import ERROR_REASONS, CurateConfig, reason_stages
from curation.stage import JobReport, StepTimer


def curate_rows(first, failed, head=None):
    return funnel.funnel_rows(
        run_id="r1",
        job="curate",
        head=head or [("input", "", "in", sum(first.values()) + 3), ("read", "non_html", "skipped", 3)],
        first=first,
        failed=failed,
        reason_stage=reason_stages(CurateConfig()),
        error_reasons=ERROR_REASONS,
        seconds={"langid": 2.0},
        docs={"langid": 10},
    )


def test_rows_put_each_reason_in_its_stage_and_reconcile():
    first = {None: 5, "gopher_short_doc": 2, "extraction_failed": 1, "exact_duplicate": 2}
    failed = {"gopher_short_doc": 3, "exact_duplicate": 2, "extraction_failed": 1}
    rows = curate_rows(first, failed)
    by = {(r["stage"], r["reason"], r["outcome"]): r for r in rows}
    assert by[("gopher_quality", "gopher_short_doc", "dropped")]["count"] == 2
    assert by[("gopher_quality", "gopher_short_doc", "failed")]["count"] == 3
    assert by[("extract", "extraction_failed", "errored")]["count"] == 1  # an error reason is errored, not dropped
    assert by[("dedup", "exact_duplicate", "dropped")]["count"] == 2
    # documents entering each stage shrink by what the stages before dropped
    assert by[("decode", "", "in")]["count"] == 10
    assert by[("langid", "", "in")]["count"] == 9
    assert by[("dedup", "", "in")]["count"] == 7
    assert by[("langid", "", "in")]["docs_per_s"] == 5.0
    assert ("classifiers", "", "in") not in by  # a stage after the curate ones appears only when it dropped something
    assert by[("output", "", "kept")]["count"] == 5
    assert [r["stage_order"] for r in rows] == sorted(r["stage_order"] for r in rows)
    assert funnel.totals(rows) == {
        "records_in": 13,
        "documents": 10,
        "kept": 5,
        "dropped": 4,
        "skipped": 3,
        "errored": 1,
    }
    assert funnel.unreconciled(rows) is None


def test_an_unknown_reason_is_an_error_not_a_toxicity_drop():
    with pytest.raises(funnel.UnknownReason, match="made_up_reason"):
        curate_rows({None: 1, "made_up_reason": 1}, {"made_up_reason": 1})
    # a reason of a stage the job does not report is an error too (dedup's funnel has only the dedup stage)
    with pytest.raises(funnel.UnknownReason, match="gopher_quality"):
        funnel.funnel_rows(
            run_id="r",
            job="dedup",
            head=[("input", "", "in", 2)],
            first={"gopher_short_doc": 2},
            failed={},
            reason_stage=reason_stages(CurateConfig()),
            stages=("dedup",),
        )


def test_unreconciled_names_the_mismatch():
    rows = curate_rows({None: 5}, {}, head=[("input", "", "in", 9)])
    assert funnel.unreconciled(rows) == "records_in 9 != kept + dropped + skipped + errored = 5"


def test_job_report_times_steps_and_reconciles_files():
    report = JobReport("r1", "ingest")
    report.step("read")
    report.step("write")
    report.finish()
    assert set(report.timings) == {"read", "write"} and report.seconds >= 0
    assert report.unreconciled() is None  # no funnel, no files: nothing to account for
    report.files = [{"source_file": "a.warc", "records_in": 4, "written": 2, "skipped": {"x": 1}, "errored": 0}]
    assert report.unreconciled() == "records do not add up in a.warc"
    report.files[0]["errored"] = 1
    assert report.unreconciled() is None
    assert report.to_json()["totals"]["records_in"] == 0


def test_step_timer_adds_repeated_steps():
    into: dict[str, float] = {}
    step = StepTimer(into)
    step("a")
    step("b")
    step("a")
    step(None)
    assert set(into) == {"a", "b"}
