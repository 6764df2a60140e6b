"""``lakeforge stats``: the funnel of a curate / extract / filter run from the ``stats`` table.

Also home of the funnel renderer the curate, extract and filter jobs print at the end of a run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.common import JobError, Parser, add_session_args, open_lakehouse, run_main  # noqa: E402


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge stats",
        description="Print the funnel of a run: records in, per stage the documents it saw, what it dropped by "
        "reason and how fast it went, and what was kept. Default: the latest run.",
    )
    p.add_argument("--run", default=None, metavar="RUN_ID", help="run id (default: the latest run in stats)")
    p.add_argument("--all", action="store_true", help="list every run with its totals instead")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_session_args(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    spark, lake = open_lakehouse(args, "lakeforge-stats", quick_jit=True)
    if not lake.exists("stats"):
        raise JobError(f"no stats table in {lake.root}: run `lakeforge curate` first")
    stats = spark.table(lake.fq("stats"))
    if args.all:
        by_run: dict[str, list[dict]] = defaultdict(list)
        for r in stats.collect():  # one scan: the table holds a few dozen rows per run
            by_run[r["run_id"]].append(r.asDict())
        out = [
            {
                "run_id": run_id,
                "job": rows[0]["job"],
                "created_at": str(max(x["created_at"] for x in rows)),
                **totals(rows),
            }
            for run_id, rows in by_run.items()
        ]
        out.sort(key=lambda r: r["created_at"])
        if args.format == "json":
            print(json.dumps(out, indent=1))
        else:
            print(
                f"{'run_id':<34}{'job':<9}{'created_at':<28}{'records_in':>11}{'kept':>9}{'dropped':>9}{'errored':>9}"
            )
            for r in out:
                print(
                    f"{r['run_id']:<34}{r['job']:<9}{r['created_at'][:26]:<28}{r['records_in']:>11,}"
                    f"{r['kept']:>9,}{r['dropped']:>9,}{r['errored']:>9,}"
                )
        return 0
    run_id = args.run
    if run_id is None:
        latest = stats.orderBy(stats.created_at.desc()).select("run_id").first()
        if latest is None:
            raise JobError("the stats table is empty")
        run_id = latest["run_id"]
    rows = [r.asDict() for r in stats.where(stats.run_id == run_id).collect()]
    if not rows:
        raise JobError(f"no run {run_id!r} in {lake.fq('stats')}")
    if args.format == "json":
        print(json.dumps({"run_id": run_id, "totals": totals(rows), "funnel": rows}, default=str, indent=1))
    else:
        print(format_funnel(rows))
    return 0 if reconciles(rows) else 3


def totals(rows: list[dict]) -> dict:
    out = dict.fromkeys(("records_in", "kept", "dropped", "skipped", "errored"), 0)
    for r in rows:
        if r["stage"] == "input" and r["outcome"] == "in":
            out["records_in"] += r["count"]
        elif r["outcome"] in out:
            out[r["outcome"]] += r["count"]
    return out


def reconciles(rows: list[dict]) -> bool:
    t = totals(rows)
    return t["records_in"] == t["kept"] + t["dropped"] + t["skipped"] + t["errored"]


def format_funnel(rows: list[dict]) -> str:
    """A run's funnel as a table: stage, documents in, dropped/errored by first reason, time and docs/s."""
    rows = sorted(rows, key=lambda r: (r["stage_order"], r["outcome"] != "in", r["reason"]))
    first = rows[0]
    t = totals(rows)
    lines = [
        f"{first['job']} run {first['run_id']}   documents v{first['documents_version']}",
        f"  {'stage':<20}{'in':>10}{'dropped':>10}{'errored':>10}{'seconds':>10}{'docs/s':>10}"
        "   reasons (first failing)",
    ]
    by_stage: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_stage[r["stage"]].append(r)
    skipped = [r for r in rows if r["outcome"] == "skipped"]
    read_errors = [r for r in rows if r["stage"] == "read" and r["outcome"] == "errored"]
    lines.append(f"  {'records in':<20}{t['records_in']:>10,}")
    if skipped:
        lines.append(f"  {'skipped (read)':<20}{sum(r['count'] for r in skipped):>10,}   " + _reasons(skipped))
    if read_errors:
        lines.append(f"  {'errored (read)':<20}{sum(r['count'] for r in read_errors):>10,}   " + _reasons(read_errors))
    for stage, group in by_stage.items():
        total = next((r for r in group if r["outcome"] == "in" and r["reason"] == ""), None)
        if stage in ("input", "read", "output") or total is None:
            continue
        dropped = [r for r in group if r["outcome"] == "dropped"]
        errored = [r for r in group if r["outcome"] == "errored"]
        secs = f"{total['seconds']:.2f}" if total["seconds"] is not None else "-"
        rate = f"{total['docs_per_s']:,.0f}" if total["docs_per_s"] is not None else "-"
        lines.append(
            f"  {stage:<20}{total['count']:>10,}{sum(r['count'] for r in dropped):>10,}"
            f"{sum(r['count'] for r in errored):>10,}{secs:>10}{rate:>10}   " + _reasons(dropped + errored)
        )
    lines.append(f"  {'kept':<20}{t['kept']:>10,}")
    check = "OK" if reconciles(rows) else "MISMATCH"
    lines.append(
        f"  reconcile  records_in {t['records_in']:,} = kept {t['kept']:,} + dropped {t['dropped']:,} + skipped "
        f"{t['skipped']:,} + errored {t['errored']:,}   [{check}]"
    )
    return "\n".join(lines)


def _reasons(rows: list[dict]) -> str:
    return ", ".join(f"{r['reason']} {r['count']:,}" for r in sorted(rows, key=lambda r: -r["count"]))


if __name__ == "__main__":
    sys.exit(run_main(main))
