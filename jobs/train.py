"""``lakeforge train``: launch ``torchrun -m training.train`` on a pinned blend.

A thin wrapper: it finds the blend (a blend JSON, or a mixture name / mixture_id in the lakehouse's
``mixtures/`` folder, no Spark needed), takes the process count from the config's TP × PP (× ``--dp``), and runs
``python -m torch.distributed.run --standalone --nproc-per-node N -m training.train ...``. For several nodes, call
``torchrun`` yourself with the same arguments.

A blend whose shards are in object storage (a lakehouse at ``s3a://``) is staged first, once per node, into a local
cache (``--cache-dir``; default ``$LAKEFORGE_SHARD_CACHE`` or ``~/.cache/lakeforge/shards``) by
``training.shard_cache``: each file checked against the sha256 its ``token_shards`` row records, files already
there not downloaded again; torchrun then trains on the staged blend (same ``mixture_id``). ``--stage-only`` stages
and stops (run it on every node before a multi-node ``torchrun``). S3 settings: ``--conf fs.s3a.KEY=VALUE`` (the
Hadoop keys Spark jobs take, with or without ``spark.hadoop.``), else boto3's chain (environment, profile, role).
"""

from __future__ import annotations

import argparse
import json
import os
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
        "--lakehouse", default="lakehouse", metavar="DIR", help="where mixtures are looked up (a folder or s3a://…)"
    )
    g = p.add_argument_group("shards in object storage")
    g.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help=f"local shard cache (default: $LAKEFORGE_SHARD_CACHE or {DEFAULT_CACHE}); one download per node",
    )
    g.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="fs.s3a.KEY=VALUE",
        help="S3 setting, repeatable (e.g. --conf fs.s3a.endpoint=http://127.0.0.1:9000); default: boto3's chain",
    )
    g.add_argument("--stage-only", action="store_true", help="stage the shards into the cache, print where, stop")
    g.add_argument("--format", choices=("text", "json"), default="text", help="--stage-only's report on stdout")
    return p


DEFAULT_CACHE = "~/.cache/lakeforge/shards"


def s3_settings(args: argparse.Namespace):
    """The object-store settings: ``--conf`` (``fs.s3a.KEY=VALUE`` or ``spark.hadoop.fs.s3a.KEY=VALUE``), completed
    from the environment as every other subcommand does (:func:`jobs.common.s3_conf`)."""
    from curation.storage import S3Settings
    from jobs.common import s3_conf

    conf = {}
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep or "fs.s3a." not in key:
            raise JobError(f"--conf {item!r}: expected fs.s3a.KEY=VALUE (or spark.hadoop.fs.s3a.KEY=VALUE)")
        conf["spark.hadoop." + key.removeprefix("spark.hadoop.")] = value
    return S3Settings.from_hadoop(s3_conf(conf))


def cache_dir(args: argparse.Namespace) -> str:
    return args.cache_dir or os.environ.get("LAKEFORGE_SHARD_CACHE") or DEFAULT_CACHE


def find_blend(mixture: str, lakehouse: str, settings=None) -> Path | str:
    """The blend file (a local path, or an ``s3a://`` URI when the lakehouse is in object storage)."""
    from curation.storage import is_remote

    if is_remote(mixture):
        return mixture
    p = Path(mixture)
    if p.is_file():
        return p
    if is_remote(lakehouse):
        return _find_remote_blend(mixture, lakehouse, settings)
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


def _find_remote_blend(mixture: str, lakehouse: str, settings) -> str:
    from curation.storage import join, open_store

    root = join(lakehouse, "mixtures")
    blends = [u for u in open_store(root, settings).list(root) if u.endswith(".json")]
    by_id = [u for u in blends if u.rsplit("/", 1)[-1] == f"{mixture}.json"]
    named = [u for u in blends if u.startswith(join(root, mixture) + "/")]
    if by_id:
        return by_id[0]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(u.rsplit("/", 1)[-1].removesuffix(".json") for u in named)
        raise JobError(f"--mixture {mixture}: {len(named)} pinned blends under {root}/{mixture}; give an id ({ids})")
    raise JobError(f"--mixture {mixture}: not a blend file, nor a mixture name or id under {root}")


def stage(args: argparse.Namespace, settings=None):
    """The blend to train on: found, read, and — when its shards are in object storage — staged into the local
    cache (checked). Returns (local blend path, StageReport or None). ``settings``: the object-store settings when
    the caller has them (``lakeforge run``: its session's), else from ``--conf`` and the environment."""
    from curation.storage import StoreError, is_remote, open_store
    from training.shard_cache import remote_prefixes, stage_blend

    settings = settings or s3_settings(args)
    where = find_blend(args.mixture, args.lakehouse, settings)
    try:
        if is_remote(str(where)):
            doc = json.loads(open_store(str(where), settings).read_bytes(str(where)))
        else:
            doc = json.loads(Path(where).read_text())
        if not isinstance(doc, dict) or doc.get("format") != "lakeforge-blend/1":
            raise JobError(f"--mixture {where}: not a lakeforge blend (format {doc.get('format')!r})")
        if not remote_prefixes(doc) and not is_remote(str(where)):
            return Path(where), None  # all local: train on it as it is
        _, report = stage_blend(doc, cache_dir(args), settings, source=str(where), force_write=True)
    except StoreError as e:
        raise JobError(str(e)) from None
    except json.JSONDecodeError as e:
        raise JobError(f"--mixture {where}: not JSON ({e})") from None
    return Path(report.blend_path), report


def command(args: argparse.Namespace, blend: Path | str | None = None) -> list[str]:
    from training.config import load_config

    cfg = load_config(args.config, args.set)
    par = cfg.parallel
    nproc = par.tensor_model_parallel_size * par.pipeline_model_parallel_size * args.dp
    blend = blend if blend is not None else find_blend(args.mixture, args.lakehouse)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
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
    blend, report = stage(args)
    if report is not None:
        print(
            f"[lakeforge] staged {report.files} shard files in {report.cache_dir}: {report.downloaded} downloaded "
            f"({report.downloaded_bytes:,} bytes), {report.present} already there, {report.seconds:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    if args.stage_only:
        out = {"blend": str(blend), "staged": report is not None} | (report.to_json() if report else {})
        print(json.dumps(out) if args.format == "json" else str(blend))
        return 0
    cmd = command(args, blend)
    print("[lakeforge] " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.call(cmd)
