"""``lakeforge train``: launch ``torchrun -m training.train`` on a pinned blend.

A thin wrapper: it finds the blend (a blend JSON, or a mixture name / mixture_id in the lakehouse's
``mixtures/`` folder, no Spark needed), takes the process count from the config's TP × PP (× ``--dp``), and runs
``python -m torch.distributed.run --standalone --nproc-per-node N -m training.train ...``. For several nodes, call
``torchrun`` yourself with the same arguments.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from jobs.common import JobError, Parser


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge train",
        description="Train a GPT with Megatron-Core on a pinned blend (tensor and pipeline parallel sizes from the "
        "config; data parallel = processes / (TP x PP)). Runs torchrun on this machine.",
    )
    p.add_argument(
        "--mixture",
        required=True,
        help="blend JSON from lakeforge mix, or a mixture name or mixture_id "
        "(the newest pinned blend under <lakehouse>/mixtures)",
    )
    p.add_argument("--config", default="conf/train.yaml", help="training YAML (default: conf/train.yaml)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override, e.g. parallel.tensor_model_parallel_size=2; repeatable",
    )
    p.add_argument("--dp", type=int, default=1, help="data-parallel replicas (processes = TP x PP x DP; default 1)")
    p.add_argument(
        "--resume", nargs="?", const="", metavar="PATH", help="continue from the newest checkpoint (or PATH)"
    )
    p.add_argument("--stop-at", type=int, metavar="ITER", help="checkpoint after step ITER and stop")
    p.add_argument(
        "--lakehouse", default="lakehouse", metavar="DIR|URI", help="where mixtures are looked up (s3a:// too)"
    )
    p.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="spark.hadoop.fs.s3a.* setting for a lakehouse in object storage (AWS_* variables work too)",
    )
    return p


def find_blend(mixture: str, lakehouse: str, conf: list[str] = ()) -> Path:
    p = Path(mixture)
    if p.is_file():
        return p
    from curation.storage import is_remote

    if is_remote(lakehouse):
        return _remote_blend(mixture, lakehouse, conf)
    root = Path(lakehouse) / "mixtures"
    by_id = sorted(root.glob(f"*/{mixture}.json"))
    if by_id:
        return by_id[0]
    named = (
        sorted((root / mixture).glob("*.json"), key=lambda f: f.stat().st_mtime) if (root / mixture).is_dir() else []
    )
    if named:
        return named[-1]
    raise JobError(f"--mixture {mixture}: not a blend file, nor a mixture name or id under {root}")


def _remote_blend(mixture: str, lakehouse: str, conf: list[str]) -> Path:
    """The blend JSON of a lakehouse in object storage (by mixture id, or the only one of a name), copied into a
    local cache folder: the trainer reads a local file (its shards are fetched by the data loader)."""
    from curation.storage import S3Settings, join, open_store, spark_uri
    from jobs.common import conf_args, s3_conf

    root = join(spark_uri(lakehouse), "mixtures")
    store = open_store(root, S3Settings.from_hadoop(s3_conf(conf_args(list(conf)))))
    store.check_bucket(root)
    found = [u for u in store.list(root) if u.endswith(".json")]
    by_id = [u for u in found if u.rsplit("/", 1)[1] == f"{mixture}.json"]
    named = [u for u in found if u.rsplit("/", 2)[1] == mixture]
    if len(named) > 1 and not by_id:
        ids = ", ".join(u.rsplit("/", 1)[1].removesuffix(".json") for u in named)
        raise JobError(f"--mixture {mixture}: several blends of that name under {root}; give one id ({ids})")
    if not by_id and not named:
        raise JobError(f"--mixture {mixture}: not a blend file, nor a mixture name or id under {root}")
    uri = (by_id or named)[0]
    local = Path("~/.cache/lakeforge/blends").expanduser() / uri.rsplit("/", 1)[1]
    store.download(uri, local)
    return local


def command(args: argparse.Namespace) -> list[str]:
    from training.config import load_config

    cfg = load_config(args.config, args.set)
    par = cfg.parallel
    nproc = par.tensor_model_parallel_size * par.pipeline_model_parallel_size * args.dp
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    blend = find_blend(args.mixture, args.lakehouse, args.conf)
    cmd += ["-m", "training.train", "--config", args.config, "--mixture", str(blend)]
    for s in args.set:
        cmd += ["--set", s]
    if args.resume is not None:
        cmd += ["--resume"] + ([args.resume] if args.resume else [])
    if args.stop_at is not None:
        cmd += ["--stop-at", str(args.stop_at)]
    return cmd


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    cmd = command(args)
    print("[lakeforge] " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.call(cmd)
