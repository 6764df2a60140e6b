"""``lakeforge mix mixture.yaml`` / ``spark-submit jobs/mix.py``: pin a mixture of shard sets into a blend.

Arguments → curation.tokenize.mixture (the YAML) → curation.spark.mix (tokenize table components, pin, write the
blend JSON and a ``mixtures`` row) → with ``--check``, training.data builds the blend with Megatron-Core's
BlendedMegatronDatasetBuilder / GPTDataset and prints the realized share of every component.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file by spark-submit: make `jobs` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.common import Parser, add_session_args, run_main, start_run  # noqa: E402
from jobs.ingest import _log  # noqa: E402


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
    p.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    import json

    from curation.tokenize.mixture import load

    args = parser().parse_args(argv)
    mixture = load(args.mixture)
    from curation.spark.mix import run_mix

    spark, lake, run, start_s = start_run(args, "mix", mixture, inputs=[str(Path(args.mixture).resolve())])
    _log(f"run {run.run_id}: mixture {mixture.name!r}, {len(mixture.components)} components")
    report, blend = run_mix(spark, lake, mixture, run, args.out, log=_log)
    check = None
    if args.check:
        from training.data import check_blend

        _log(f"check: building the blend with Megatron-Core, {args.check_samples:,} training samples")
        check = check_blend(report.blend, args.check_samples, args.tolerance)
    if args.format == "json":
        out = report.to_json() | {"spark_start_seconds": round(start_s, 3)}
        if check:
            out["check"] = {
                "ok": check.ok,
                "samples": check.samples,
                "shares": {s.component: {"weight": s.weight, "realized": s.realized} for s in check.shares},
            }
        print(json.dumps(out, default=str))
    else:
        print(mix_summary(report, blend, check))
    return 1 if check is not None and not check.ok else 0


def mix_summary(report, blend, check=None) -> str:
    doc = report.blend
    state = "pinned (new)" if report.new else "pinned (same as an earlier pin: no new mixtures row)"
    lines = [f"mixture {report.name}/{report.mixture_id}: {state}", f"  blend file  {report.path}"]
    budget = doc.get("tokens_budget")
    lines.append(
        f"  settings    seq_length {doc['seq_length']}, split {doc['split']}, seed {doc['seed']}"
        + (f", budget {budget:,} tokens" if budget else "")
    )
    lines.append(f"  {'component':<14} {'weight':>7} {'tokens':>13} {'epochs':>8}  shard set (source)")
    for c in doc["components"]:
        epochs = "-" if c["epochs"] is None else f"{c['epochs']:.2f}"
        src = f"{c['source_table']} v{c['source_version']}" + (f" where {c['filter']}" if c["filter"] else "")
        lines.append(
            f"  {c['name']:<14} {c['weight']:>7.3f} {c['tokens']:>13,} {epochs:>8}  "
            f"{c['shard_set_name']}/{c['shard_set_id']} ({src})"
        )
    for w in doc["warnings"]:
        lines.append(f"  warning     {w}")
    if check is not None:
        lines.append(
            f"  check       Megatron-Core GPTDataset blend, {check.samples:,} training samples of "
            f"{check.sample_tokens} tokens: {'OK' if check.ok else 'FAILED'} (tolerance {check.tolerance})"
        )
        for s in check.shares:
            lines.append(
                f"    {s.component:<14} weight {s.weight:.4f}  realized {s.realized:.4f}  |diff| {s.error:.4f}"
            )
    lines.append(
        f'  next        training reads the blend file; lakeforge sql "SELECT * FROM mixtures WHERE mixture_id = '
        f"'{report.mixture_id}'\""
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_main(main))
