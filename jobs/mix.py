"""``lakeforge mix mixture.yaml``: pin a mixture of shard sets into a blend.

Arguments → curation.tokenize.mixture (the YAML) → curation.spark.mix (tokenize table components, pin, write the
blend JSON and a ``mixtures`` row) → with ``--check``, training.data builds the blend with Megatron-Core's
BlendedMegatronDatasetBuilder / GPTDataset and prints the realized share of every component (shards in object
storage are staged into the local shard cache first); with ``--export DIR``, training.shard_cache writes the shards
and Megatron-LM's ``--data-path`` list to DIR.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from jobs.common import JobError, Parser, add_session_args, log, start_run
from jobs.render import mix_summary


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge mix",
        description="Resolve a mixture.yaml's components (a table version + SQL filter, tokenized on the cluster, "
        "or an existing shard set) to concrete shard sets, pin them with their weights into a blend JSON that "
        "Megatron-Core's BlendedMegatronDatasetConfig takes, record it in the `mixtures` table, and report the "
        "epochs each weight implies for the token budget. See conf/mixture.yaml.",
    )
    p.add_argument("mixture", metavar="MIXTURE_YAML")
    p.add_argument("--out", default=None, metavar="FILE", help="also write the blend JSON here")
    p.add_argument(
        "--check",
        action="store_true",
        help="build the blend with Megatron-Core (GPTDataset) and print "
        "the realized share of each component; exit 1 if any is off its weight by more than --tolerance",
    )
    p.add_argument("--check-samples", type=int, default=10_000, help="training samples the check draws (10000)")
    p.add_argument("--tolerance", type=float, default=0.01, help="allowed |share − weight| (default 0.01)")
    p.add_argument(
        "--export",
        default=None,
        metavar="DIR",
        help="also write the blend for Megatron-LM: the shard files (checked against their recorded sha256) under "
        "DIR and DIR/data-path.txt (w1 prefix1 w2 prefix2 …), DIR/split.txt: "
        "pretrain_gpt.py --data-path $(cat DIR/data-path.txt) --split $(cat DIR/split.txt)",
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="where --check stages shards that are in object storage "
        "(default: $LAKEFORGE_SHARD_CACHE or ~/.cache/lakeforge/shards)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    from curation.spark.mix import run_mix
    from curation.tokenize.mixture import load

    args = parser().parse_args(argv)
    mixture = load(args.mixture)
    spark, lake, run, start_s = start_run(args, "mix", mixture, inputs=[str(Path(args.mixture).resolve())])
    log(f"run {run.run_id}: mixture {mixture.name!r}, {len(mixture.components)} components")
    report, _ = run_mix(spark, lake, mixture, run, args.out, log=log)
    check = exported = None
    if args.check or args.export:
        from curation.storage import StoreError
        from training import shard_cache

        try:
            if args.export:
                log(f"export: the blend's shards and Megatron-LM's --data-path list → {args.export}")
                exported = shard_cache.export_megatron(report.blend, args.export, lake.s3_settings)
            if args.check:
                from training.data import check_blend

                blend = report.blend
                if shard_cache.remote_prefixes(blend):
                    cache = args.cache_dir or os.environ.get("LAKEFORGE_SHARD_CACHE") or shard_cache.DEFAULT_CACHE
                    blend, staged = shard_cache.stage_blend(blend, cache, lake.s3_settings, source=report.path)
                    log(f"check: staged {staged.downloaded} shard files into {staged.cache_dir}")
                log(f"check: building the blend with Megatron-Core, {args.check_samples:,} training samples")
                check = check_blend(blend, args.check_samples, args.tolerance)
        except StoreError as e:
            raise JobError(str(e)) from None
    if args.format == "json":
        out = report.to_json() | {"spark_start_seconds": round(start_s, 3)}
        if check:
            shares = {s.component: {"weight": s.weight, "realized": s.realized} for s in check.shares}
            out["check"] = {"ok": check.ok, "samples": check.samples, "shares": shares}
        if exported:
            out["export"] = exported
        print(json.dumps(out, default=str))
    else:
        print(mix_summary(report, check))
        if exported:
            where = exported["dir"]
            print(f"exported {exported['prefixes']} shards to {where}: --data-path $(cat {where}/data-path.txt)")
    return 1 if check is not None and not check.ok else 0
