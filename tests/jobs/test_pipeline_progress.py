"""Progress while a stage runs: Spark's stage and task counts, as plain log lines when stderr is not a terminal."""

from __future__ import annotations

import time

from jobs.render import Progress, render_progress


def test_the_progress_line_names_the_stage_files_and_spark_tasks():
    line = render_progress("dedup", 12.4, "files 1/3 · records 42", [(7, 3, 8), (8, 0, 2)])
    assert line == "dedup · 12s · files 1/3 · records 42 · Spark stage 7: 3/8 tasks, Spark stage 8: 0/2 tasks"
    assert render_progress("mix", 1.0, "", []) == "mix · 1s"


def test_progress_is_plain_lines_off_a_terminal(spark, capsys):
    progress = Progress(spark, every=0.5)
    assert progress.tty is False  # pytest captures stderr: not a terminal, as in CI

    def slow(rows):
        for r in rows:
            time.sleep(0.4)
            yield r

    with progress.watch("dedup"):
        progress.files_done(1, 3, 42)
        spark.sparkContext.parallelize(range(8), 4).mapPartitions(slow).count()
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if "dedup ·" in x]
    assert lines, err
    assert "\r" not in err and "\033[" not in err  # no in-place rewriting off a terminal
    assert all(x.startswith("[lakeforge]") for x in lines)
    assert any("Spark stage" in x and "tasks" in x for x in lines), lines
    assert any("files 1/3 · records 42" in x for x in lines), lines


def test_training_stage_prints_its_own_steps(spark, capsys):
    with Progress(spark, every=0.1).watch("train"):
        time.sleep(0.3)
    assert capsys.readouterr().err == ""
