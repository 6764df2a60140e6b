"""``lakeforge train`` (the installed command, new processes) on a blend whose shards and blend file are in the real
S3-compatible server: two stagers on one node download each file once; a damaged object is one line naming it and
exit 2; training runs on the staged copies and its checkpoint names the same mixture_id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation.storage import join, open_store

pytestmark = [pytest.mark.objectstore, pytest.mark.filterwarnings("ignore::UserWarning")]

REPO = Path(__file__).resolve().parents[2]
LAKEFORGE = Path(sys.executable).parent / "lakeforge"


def _conf(settings) -> list[str]:
    args = []
    for key, value in settings.hadoop().items():
        args += ["--conf", f"{key}={value}"]
    return args


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTER_", "RANK", "WORLD_SIZE", "LOCAL_", "AWS_"))}
    env.update(PYTHONWARNINGS="ignore", PYTHONPATH=f"{REPO}:{env.get('PYTHONPATH', '')}")
    return env


@pytest.fixture
def remote_blend(s3_blend, bucket, s3_settings) -> str:
    """The blend JSON in the lakehouse's mixtures folder in the bucket."""
    uri = join(f"s3a://{bucket}/lake", "mixtures", s3_blend["name"], f"{s3_blend['mixture_id']}.json")
    open_store(uri, s3_settings).write_bytes(uri, json.dumps(s3_blend).encode())
    return uri


def _stage(args: list[str], cache: Path) -> subprocess.Popen:
    cmd = [str(LAKEFORGE), "train", *args, "--cache-dir", str(cache), "--stage-only", "--format", "json"]
    return subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_stagers_download_once_and_a_damaged_object_exits_2(remote_blend, s3_blend, bucket, s3_settings, tmp_path):
    # by mixture name in an s3a:// lakehouse, and by the blend's URI: the same blend, staged once
    by_name = ["--mixture", s3_blend["name"], "--lakehouse", f"s3a://{bucket}/lake", *_conf(s3_settings)]
    by_uri = ["--mixture", remote_blend, *_conf(s3_settings)]
    procs = [_stage(by_name, tmp_path / "cache"), _stage(by_uri, tmp_path / "cache")]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    reports = [json.loads(o[0]) for o in outs]
    assert sum(r["downloaded"] for r in reports) == 4 and sorted(r["present"] for r in reports) == [0, 4]
    staged = {r["blend"] for r in reports}
    assert len(staged) == 1
    doc = json.loads(Path(staged.pop()).read_text())
    assert doc["mixture_id"] == s3_blend["mixture_id"] and doc["staged_from"] == remote_blend
    assert all(p.startswith(str(tmp_path / "cache")) for p in doc["blend"]["prefixes"])

    # a damaged object: one line naming it, exit 2, nothing of it in a fresh cache
    target = s3_blend["blend"]["prefixes"][0] + ".idx"
    store = open_store(target, s3_settings)
    data = bytearray(store.read_bytes(target))
    data[-1] ^= 0x01
    store.write_bytes(target, bytes(data))
    proc = _stage(by_uri, tmp_path / "fresh")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("lakeforge: error: shard file " + target), err
    assert not list((tmp_path / "fresh").rglob("*.idx"))

    # wrong credentials: one line, exit 2
    bad = [a.replace(s3_settings.secret_key, "wrong-secret") for a in by_uri]
    proc = _stage(bad, tmp_path / "fresh")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2 and "refused the credentials" in err and len(err.strip().splitlines()) == 1, err


def test_train_stages_then_trains_and_the_checkpoint_names_the_mixture(remote_blend, s3_blend, s3_settings, tmp_path):
    out = tmp_path / "run"
    cmd = [str(LAKEFORGE), "train", "--mixture", remote_blend, *_conf(s3_settings), "--cache-dir", str(tmp_path / "c")]
    for s in (
        "schedule.train_iters=4",
        "schedule.lr_warmup_iters=1",
        "schedule.micro_batch_size=4",
        "schedule.global_batch_size=4",
        "schedule.eval_interval=4",
        "schedule.eval_iters=1",
        "schedule.log_interval=1",
        "checkpoint.save_interval=4",
        f"out_dir={out}",
    ):
        cmd += ["--set", s]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert max(r["iteration"] for r in records if r["event"] == "step") == 4
    metas = sorted(out.rglob("lakeforge.json"))
    assert metas, sorted(str(p) for p in out.rglob("*"))[:20]
    meta = json.loads(metas[-1].read_text())
    assert meta["mixture_id"] == s3_blend["mixture_id"]
    assert meta["blend_path"].startswith(str(tmp_path / "c"))
