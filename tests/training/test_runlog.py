"""``training.runlog``: what ``RunLog`` writes is what the readers give back, and reading imports no torch."""

from __future__ import annotations

import subprocess
import sys

from training.runlog import RunLog, read_events, read_log


def test_what_runlog_writes_the_readers_give_back(tmp_path, capsys):
    log = RunLog(tmp_path / "run", enabled=True)
    log.write_config({"seed": 7})
    log.event("start", world=1, mixture_id="m1", iteration=0)
    for i in (1, 2):
        step = {"iteration": i, "loss": 3.0 / i, "lr": 1e-3, "grad_norm": 1.0, "tokens_per_s": 100.0 * i}
        log.step(step | {"tflops_per_device": 0.1, "mfu": None, "skipped": False}, echo=True)
    log.event("eval", iteration=2, val_loss=2.5)
    log.event("checkpoint", iteration=2, path="ck/iter_2", seconds=0.1)
    # a second attempt, resumed from iteration 1, redoes iteration 2: its line counts
    log.event("resumed", checkpoint="ck/iter_1", iteration=1, rng_restored=True, val_loss=None)
    log.step({"iteration": 2, "loss": 1.25, "lr": 1e-3, "grad_norm": None, "tokens_per_s": 90.0}, echo=False)
    assert "iter      2 loss 1.5000" in capsys.readouterr().out  # the echoed step, on stdout for the console

    assert [e["event"] for e in read_events(tmp_path / "run")] == [
        "start", "step", "step", "eval", "checkpoint", "resumed", "step",
    ]  # fmt: skip
    got = read_log(tmp_path / "run")
    assert sorted(got.steps) == [1, 2] and got.steps[2]["loss"] == 1.25 and got.resumed == 1
    assert got.start["mixture_id"] == "m1" and "event" not in got.start
    assert got.checkpoint_iterations() == [2] and got.checkpoints[0]["path"] == "ck/iter_2"
    assert got.summary() == {"iteration": 2, "loss": 1.25, "tokens_per_s": 90.0, "val_loss": 2.5}
    assert (tmp_path / "run" / "config.json").read_text().strip().startswith("{")


def test_a_disabled_log_writes_nothing_and_a_missing_log_reads_none(tmp_path):
    RunLog(tmp_path / "rank1", enabled=False).event("start", world=2)
    assert not (tmp_path / "rank1").exists()
    assert read_log(tmp_path / "rank1") is None and read_events(tmp_path) is None


def test_reading_the_log_imports_no_torch():
    code = "import sys, training.runlog, curation.report.training; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False", out.stderr
