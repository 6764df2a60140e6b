"""``lakeforge run``'s text: the end-of-run summary, its JSON form, and the progress line while a stage runs."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

from jobs.common import is_tty
from jobs.ingest import _log


def render_summary(report, report_path: Path | None, lakehouse: str = "lakehouse") -> str:
    """The end-of-run summary: one line per stage, what the run pinned, and how to look further."""
    from curation.pipeline import brief

    at = "" if lakehouse == "lakehouse" else f" --lakehouse {lakehouse}"
    lines = ["", f"pipeline {report.name}: run {report.pipeline_run_id} in {report.seconds:.1f}s"]
    reused = sorted({s.reused_run_id for s in report.stages if s.reused_run_id})
    if reused:
        lines.append(f"  skipped stages reuse the outputs of {', '.join(reused)}")
    for s in report.stages:
        state = "resumed" if s.resumed else s.status
        lines.append(f"  {s.stage:<26} {state:<10} {s.seconds:>7.1f}s  {brief(s.counts)}".rstrip())
    pinned = report.pinned
    if pinned.get("documents") is not None:
        lines.append(f"  documents   v{pinned['documents']}")
    for name, sid in pinned.get("shard_sets", {}).items():
        lines.append(f"  shard set   {name}/{sid}")
    if pinned.get("blend"):
        lines.append(f"  blend       {pinned['blend']}")
    if pinned.get("checkpoint"):
        lines.append(f"  checkpoint  {pinned['checkpoint']}")
        lines.append(f"  lineage     lakeforge lineage {Path(pinned['checkpoint']).parent} --files 3{at}")
    if report_path:
        lines.append(f"  report      {report_path}")
    lines.append(
        f'  record      lakeforge sql{at} "SELECT stage, status, seconds, outputs FROM runs WHERE pipeline_run_id = '
        f"'{report.pipeline_run_id}' ORDER BY stage_order\""
    )
    return "\n".join(lines)


def render_json(report, report_path: Path | None) -> str:
    """The run as one JSON object: ``pipeline_run_id``, ``name``, ``seconds``, ``stages`` (stage, status,
    resumed, seconds, outputs, counts, reused_run_id), ``pinned`` and ``report`` (the HTML report's path or null)."""
    return json.dumps(report.to_json() | {"report": str(report_path) if report_path else None}, default=str)


def render_files(done: int, total: int, records: int) -> str:
    return f"files {done}/{total} · records {records:,}"


def render_progress(stage: str, elapsed_s: float, files: str, active: list[tuple[int, int, int]]) -> str:
    """``dedup · 12s · files 1/3 · records 42 · Spark stage 7: 3/8 tasks``."""
    line = f"{stage} · {elapsed_s:.0f}s" + (f" · {files}" if files else "")
    spark = ", ".join(f"Spark stage {sid}: {done}/{tasks} tasks" for sid, done, tasks in active)
    return line + (f" · {spark}" if spark else "")


class Progress:
    """While a stage runs: Spark's active stage and task counts (and curate's file counts), rewritten in place on
    a terminal, or a plain log line every ``every`` seconds when stderr is not one (CI, a file)."""

    def __init__(self, spark, every: float = 15.0):
        self.spark = spark
        self.tty = is_tty()
        self.every = every
        self.files = ""

    def files_done(self, done: int, total: int, records: int) -> None:
        self.files = render_files(done, total, records)

    @contextmanager
    def watch(self, stage: str):
        from curation.pipeline import stage_kind
        from curation.spark.pipeline import StatusPoller

        if stage_kind(stage) == "train":
            yield  # the training process prints its own steps
            return
        self.files = ""
        last = [0.0]

        def tick(elapsed: float, active: list) -> None:
            line = render_progress(stage, elapsed, self.files, active)
            if self.tty:
                print(f"\r[lakeforge]   {line}\033[K", end="", file=sys.stderr, flush=True)
            elif elapsed - last[0] >= self.every:
                last[0] = elapsed
                _log(f"  {line}")

        try:
            with StatusPoller(self.spark.sparkContext, tick, every_s=0.5):
                yield
        finally:
            if self.tty:
                print("\r\033[K", end="", file=sys.stderr, flush=True)
