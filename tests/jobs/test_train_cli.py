"""``lakeforge train`` (the torchrun command it builds) and finding a checkpoint's metadata for ``lineage``."""

from __future__ import annotations

import json
import sys

import pytest

from curation.spark.lineage import checkpoint_metadata
from jobs.common import JobError
from jobs.train import command, find_blend, parser


def _blend_dir(tmp_path):
    mixtures = tmp_path / "lake" / "mixtures" / "demo"
    mixtures.mkdir(parents=True)
    (mixtures / "aaaaaaaaaaaaaaaaaaaa.json").write_text("{}")
    return tmp_path / "lake", mixtures / "aaaaaaaaaaaaaaaaaaaa.json"


def test_command_runs_torchrun_with_tp_times_pp_times_dp_processes(tmp_path):
    lake, blend = _blend_dir(tmp_path)
    args = parser().parse_args(
        [
            "--mixture",
            "demo",
            "--lakehouse",
            str(lake),
            "--set",
            "parallel.tensor_model_parallel_size=2",
            "--set",
            "parallel.pipeline_model_parallel_size=2",
            "--dp",
            "2",
            "--resume",
            "--stop-at",
            "5",
        ]
    )
    cmd = command(args)
    assert cmd[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=8"]
    assert cmd[5:11] == ["-m", "training.train", "--config", "conf/train.yaml", "--mixture", str(blend)]
    assert cmd[11:] == [
        "--set",
        "parallel.tensor_model_parallel_size=2",
        "--set",
        "parallel.pipeline_model_parallel_size=2",
        "--resume",
        "--stop-at",
        "5",
    ]


def test_blend_is_found_by_file_name_or_id_and_errors_are_clear(tmp_path):
    lake, blend = _blend_dir(tmp_path)
    assert find_blend(str(blend), str(lake)) == blend
    assert find_blend("aaaaaaaaaaaaaaaaaaaa", str(lake)) == blend
    assert find_blend("demo", str(lake)) == blend
    with pytest.raises(JobError, match="not a blend file, nor a mixture name or id"):
        find_blend("nope", str(lake))
    bad = parser().parse_args(["--mixture", str(blend), "--set", "parallel.tensor_model_parallel_size=3"])
    with pytest.raises(ValueError, match="must be a multiple of parallel.tensor_model_parallel_size"):
        command(bad)  # 4 heads do not split over TP=3: refused before torchrun starts


def test_checkpoint_metadata_takes_the_newest_complete_checkpoint(tmp_path):
    for it in (10, 20):
        d = tmp_path / f"iter_{it:07d}"
        d.mkdir()
        (d / "lakeforge.json").write_text(json.dumps({"mixture_id": f"m{it}", "iteration": it}))
    (tmp_path / ".tmp-iter_0000030").mkdir()  # a save that was killed: never read
    meta = checkpoint_metadata(tmp_path)
    assert meta["iteration"] == 20 and meta["metadata_file"].endswith("iter_0000020/lakeforge.json")
    assert checkpoint_metadata(tmp_path / "iter_0000010")["mixture_id"] == "m10"
    with pytest.raises(ValueError, match="no such file"):
        checkpoint_metadata(tmp_path / "absent")
