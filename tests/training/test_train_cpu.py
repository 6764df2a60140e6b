"""training.train end to end on the CPU: torchrun subprocesses (gloo, fp32) on a blend of GPT-2 tokens of
tinyshakespeare, read back from their log.jsonl and checkpoints.

One 20-step TP=1 run is the reference; the others are compared to it. Hidden dropout is on (0.1) so that exact
resumption depends on the RNG states in the checkpoint; it is the same stream at TP=1 and TP=2 (it acts on the full
hidden state, outside the tensor-parallel region), so the two layouts stay comparable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("megatron.core")

REPO = Path(__file__).resolve().parents[2]
SETTINGS = [
    "schedule.train_iters=20",
    "schedule.lr_warmup_iters=2",
    "schedule.micro_batch_size=4",
    "schedule.global_batch_size=8",  # 2 micro-batches per step: gradient accumulation, and a 2-stage pipeline
    "schedule.eval_interval=4",
    "schedule.eval_iters=2",
    "schedule.log_interval=5",
    "checkpoint.save_interval=5",
    "checkpoint.keep_last=2",
    "model.hidden_dropout=0.1",
]
TP_TOLERANCE = 1e-4
"""TP=2 against TP=1, same weights and data: only the order of fp32 sums differs (observed: equal to ~1e-6)."""
RESHARD_TOLERANCE = 1e-5
"""Validation loss of a TP=2 checkpoint evaluated at TP=1 or PP=2 (same weights, no dropout in evaluation)."""


@dataclass
class Run:
    out: Path
    records: list[dict]

    @property
    def losses(self) -> dict[int, float]:
        """Training loss per iteration (the last line of an iteration counts)."""
        return {r["iteration"]: r["loss"] for r in self.records if r["event"] == "step"}

    @property
    def steps(self) -> dict[int, dict]:
        return {r["iteration"]: r for r in self.records if r["event"] == "step"}

    @property
    def val(self) -> dict[int, float]:
        return {r["iteration"]: r["val_loss"] for r in self.records if r["event"] == "eval"}

    def event(self, name: str) -> dict:
        return next(r for r in self.records if r["event"] == name)


def train(blend: Path, out: Path, *extra: str, nproc: int = 1, settings=(), expect_rc: int = 0):
    """``torchrun --standalone --nproc-per-node nproc -m training.train``; the Run, or the completed process when
    a failure is expected."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    cmd += ["-m", "training.train", "--config", str(REPO / "conf" / "train.yaml"), "--mixture", str(blend)]
    for s in [*SETTINGS, f"out_dir={out}", *settings]:
        cmd += ["--set", s]
    cmd += list(extra)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTER_", "RANK", "WORLD_SIZE", "LOCAL_"))}
    env.update(PYTHONWARNINGS="ignore", LAKEFORGE_CPU_SHIMS_OFF="")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    if expect_rc != 0:
        assert proc.returncode != 0, proc.stdout[-3000:]
        return proc
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    log = out / "log.jsonl"
    return Run(out, [json.loads(line) for line in log.read_text().splitlines()])


@pytest.fixture(scope="module")
def tp1(shakespeare_blend, tmp_path_factory) -> Run:
    """The reference: TP=1, 20 steps, checkpoints every 5 (the last two kept)."""
    return train(shakespeare_blend, tmp_path_factory.mktemp("tp1"))


@pytest.fixture(scope="module")
def tp2(shakespeare_blend, tmp_path_factory) -> Run:
    """TP=2 on 2 processes, stopped (with a checkpoint) after step 4 of the same 20-step schedule."""
    return train(
        shakespeare_blend,
        tmp_path_factory.mktemp("tp2"),
        "--stop-at",
        "4",
        nproc=2,
        settings=["parallel.tensor_model_parallel_size=2"],
    )


def test_tp1_loss_falls_and_every_step_is_logged(tp1, shakespeare_blend):
    losses, steps = tp1.losses, tp1.steps
    assert sorted(losses) == list(range(1, 21))
    assert 10.5 < losses[1] < 11.2  # untrained: about ln(50304) = 10.83
    first, last = sum(losses[i] for i in range(1, 6)) / 5, sum(losses[i] for i in range(16, 21)) / 5
    assert last < first - 0.4, losses
    assert tp1.val[20] < tp1.val[4] < losses[1]
    assert steps[2]["lr"] == pytest.approx(1e-3) and steps[20]["lr"] == pytest.approx(1e-4)  # warmup, cosine
    assert all(0 < s["grad_norm"] < 100 and s["tokens_per_s"] > 0 for s in steps.values())
    assert steps[20]["consumed_samples"] == 160 and steps[1]["mfu"] is None  # no MFU without a peak on the CPU
    start = tp1.event("start")
    assert (start["tp"], start["pp"], start["dp"], start["device"], start["precision"]) == (1, 1, 1, "cpu", "fp32")
    assert start["attention"] == "sdpa" and start["flops_per_token"] > 6 * start["params"] > 0

    blend = json.loads(shakespeare_blend.read_text())
    names = sorted(p.name for p in (tp1.out / "checkpoints").iterdir())
    assert names == ["iter_0000015", "iter_0000020"]  # keep_last 2
    meta = json.loads((tp1.out / "checkpoints" / "iter_0000020" / "lakeforge.json").read_text())
    assert meta["iteration"] == 20 and meta["consumed_samples"] == 160
    assert meta["mixture_id"] == blend["mixture_id"] and meta["blend_path"] == str(shakespeare_blend.resolve())
    assert len(meta["config_hash"]) == 16 and meta["code_version"] and meta["layout"] == {"tp": 1, "pp": 1, "dp": 1}
    assert meta["config"]["model"]["hidden_dropout"] == 0.1


def test_resume_is_exact(tp1, shakespeare_blend, tmp_path):
    """Steps 16–20 after resuming from step 15 equal the uninterrupted run's bit for bit, although a save was
    killed half-way (its temporary folder is left behind)."""
    ckpts = tmp_path / "checkpoints"
    shutil.copytree(tp1.out / "checkpoints" / "iter_0000015", ckpts / "iter_0000015")
    killed = ckpts / ".tmp-iter_0000018"
    killed.mkdir()
    (killed / "__0_0.distcp").write_bytes(b"half a shard")

    resumed = train(shakespeare_blend, tmp_path, "--resume")

    ev = resumed.event("resumed")
    assert ev["iteration"] == 15 and ev["rng_restored"] is True and ev["checkpoint"].endswith("iter_0000015")
    assert sorted(resumed.steps) == list(range(16, 21))
    for i in range(16, 21):
        a, b = tp1.steps[i], resumed.steps[i]
        assert (b["loss"], b["grad_norm"], b["lr"]) == (a["loss"], a["grad_norm"], a["lr"]), i
    assert (resumed.val[16], resumed.val[20]) == (tp1.val[16], tp1.val[20])
    assert sorted(p.name for p in ckpts.iterdir()) == ["iter_0000015", "iter_0000020"]  # temporary folder gone


def test_tp2_losses_equal_tp1(tp1, tp2):
    assert tp2.event("start")["tp"] == 2
    assert sorted(tp2.losses) == [1, 2, 3, 4]
    for i in range(1, 5):
        assert tp2.losses[i] == pytest.approx(tp1.losses[i], abs=TP_TOLERANCE), i
    assert tp2.val[4] == pytest.approx(tp1.val[4], abs=TP_TOLERANCE)
    assert [p.name for p in (tp2.out / "checkpoints").iterdir()] == ["iter_0000004"]  # --stop-at saves


def test_tp2_checkpoint_loads_at_tp1(tp1, tp2, shakespeare_blend, tmp_path):
    run = train(
        shakespeare_blend,
        tmp_path,
        "--resume",
        str(tp2.out / "checkpoints"),
        "--stop-at",
        "8",
        settings=["checkpoint.save=false"],
    )
    ev = run.event("resumed")
    assert ev["iteration"] == 4 and ev["rng_restored"] is False  # another layout: RNG streams start afresh
    assert ev["val_loss"] == pytest.approx(tp2.val[4], abs=RESHARD_TOLERANCE)
    assert sorted(run.losses) == [5, 6, 7, 8]
    # the same weights, optimizer state and data; only dropout's masks differ from the reference's
    for i in range(5, 9):
        assert run.losses[i] == pytest.approx(tp1.losses[i], abs=0.05), i


def test_pp2_loads_the_tp2_checkpoint_and_loss_falls(tp2, shakespeare_blend, tmp_path):
    run = train(
        shakespeare_blend,
        tmp_path,
        "--resume",
        str(tp2.out / "checkpoints"),
        "--stop-at",
        "14",
        nproc=2,
        settings=["parallel.pipeline_model_parallel_size=2", "checkpoint.save=false"],
    )
    assert run.event("start")["pp"] == 2
    ev = run.event("resumed")
    assert ev["iteration"] == 4 and ev["val_loss"] == pytest.approx(tp2.val[4], abs=RESHARD_TOLERANCE)
    losses = run.losses
    assert sorted(losses) == list(range(5, 15))
    assert sum(losses[i] for i in (12, 13, 14)) / 3 < sum(losses[i] for i in (5, 6, 7)) / 3 - 0.1, losses
    assert run.val[12] < ev["val_loss"]


def test_pp2_trains_from_scratch(shakespeare_blend, tmp_path):
    run = train(
        shakespeare_blend,
        tmp_path,
        "--stop-at",
        "8",
        nproc=2,
        settings=["parallel.pipeline_model_parallel_size=2", "checkpoint.save=false"],
    )
    losses = run.losses
    assert 10.5 < losses[1] < 11.2 and losses[8] < losses[1] - 0.2, losses
    assert run.val[8] < run.val[4]


def test_dp2_matches_tp1(tp1, shakespeare_blend, tmp_path):
    """Two data-parallel ranks, one micro-batch each: the same samples per step as TP=1's two micro-batches and
    the same averaged gradient (only dropout's masks differ: DP ranks share their seed, as in Megatron-LM)."""
    run = train(shakespeare_blend, tmp_path, "--stop-at", "4", nproc=2, settings=["checkpoint.save=false"])
    assert (run.event("start")["dp"], run.event("start")["micro_batches"]) == (2, 1)
    for i in range(1, 5):
        assert run.losses[i] == pytest.approx(tp1.losses[i], abs=0.02), i
        assert run.steps[i]["grad_norm"] == pytest.approx(tp1.steps[i]["grad_norm"], rel=0.05), i
    assert run.val[4] == pytest.approx(tp1.val[4], abs=0.02)


def _main(blend: Path, out: Path, *extra: str, settings=()) -> int:
    """training.train.main in this process: what fails before any process group is started."""
    from training.train import main

    argv = ["--config", str(REPO / "conf" / "train.yaml"), "--mixture", str(blend)]
    for s in [*SETTINGS, f"out_dir={out}", *settings]:
        argv += ["--set", s]
    return main(argv + list(extra))


def test_bad_settings_fail_before_training(shakespeare_blend, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert _main(shakespeare_blend, tmp_path, settings=["parallel.tensor_model_parallel_size=2"]) == 2
    assert "1 ranks cannot hold tensor × pipeline parallel = 2 × 1 = 2" in capsys.readouterr().err
    assert _main(shakespeare_blend, tmp_path, settings=["model.num_heads=8"]) == 2
    assert "unknown setting(s) num_heads" in capsys.readouterr().err
    assert _main(tmp_path / "nothing.json", tmp_path) == 2
    assert "no such file" in capsys.readouterr().err
    assert _main(shakespeare_blend, tmp_path, "--resume", str(tmp_path / "none")) == 2
    assert "no checkpoint in" in capsys.readouterr().err
    assert not (tmp_path / "log.jsonl").exists()


def test_resume_refuses_another_blend_and_a_fresh_run_refuses_old_checkpoints(tp1, shakespeare_blend, tmp_path, capsys):
    other = json.loads(shakespeare_blend.read_text())
    other["blend"]["weights"] = [0.5, 0.5]
    other["mixture_id"] = "another-mixture"
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other))
    ckpt = tp1.out / "checkpoints" / "iter_0000015"
    assert _main(other_path, tmp_path / "run", "--resume", str(ckpt)) == 2
    err = capsys.readouterr().err
    assert "was trained on mixture" in err and "resume with the same blend" in err

    shutil.copytree(ckpt, tmp_path / "again" / "checkpoints" / ckpt.name)
    assert _main(shakespeare_blend, tmp_path / "again") == 2
    assert "already holds checkpoints: pass --resume" in capsys.readouterr().err


def test_a_torchrun_failure_says_why(shakespeare_blend, tmp_path):
    """The same checks under torchrun: the worker prints the reason and exits 2 (torchrun then reports it)."""
    proc = train(shakespeare_blend, tmp_path, settings=["schedule.global_batch_size=6"], expect_rc=2)
    assert "error: TrainConfig.schedule: schedule.global_batch_size (6) must be a multiple of" in proc.stderr
    assert "exitcode  : 2" in proc.stderr
