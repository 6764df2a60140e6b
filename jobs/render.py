"""The text every job prints at the end of a run: one renderer per report, pure (strings from report data).

``--format json`` prints the reports' own ``to_json()`` instead (jobs.common.print_report).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

from curation.funnel import sort_rows, totals, unreconciled
from jobs.common import is_tty
from jobs.common import log as _log

# ------------------------------------------------------------------------------------------------------------------
# The funnel (stats rows) and the jobs that write one: curate, extract, filter, classify, dedup, import-text
# ------------------------------------------------------------------------------------------------------------------


def format_funnel(rows: list[dict]) -> str:
    """A run's funnel as a table: stage, documents in, dropped/errored by first reason, time and docs/s."""
    rows = sort_rows(rows)
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
    check = "OK" if unreconciled(rows) is None else "MISMATCH"
    lines.append(
        f"  reconcile  records_in {t['records_in']:,} = kept {t['kept']:,} + dropped {t['dropped']:,} + skipped "
        f"{t['skipped']:,} + errored {t['errored']:,}   [{check}]"
    )
    return "\n".join(lines)


def _reasons(rows: list[dict]) -> str:
    return ", ".join(f"{r['reason']} {r['count']:,}" for r in sorted(rows, key=lambda r: -r["count"]))


def format_runs(runs: list[dict]) -> str:
    """``lakeforge stats --all``: one line per run with its totals."""
    lines = [f"{'run_id':<34}{'job':<9}{'created_at':<28}{'records_in':>11}{'kept':>9}{'dropped':>9}{'errored':>9}"]
    for r in runs:
        lines.append(
            f"{r['run_id']:<34}{r['job']:<9}{r['created_at'][:26]:<28}{r['records_in']:>11,}"
            f"{r['kept']:>9,}{r['dropped']:>9,}{r['errored']:>9,}"
        )
    return "\n".join(lines)


NEXT_CURATE = 'lakeforge sql "SELECT drop_reason, count(*) FROM documents GROUP BY 1 ORDER BY 2 DESC"'


def curate_summary(report, next_step: str | None = NEXT_CURATE) -> str:
    """The funnel, timings, table versions and warnings of a curate/extract/filter/classify/dedup/import run."""
    lines = ["", format_funnel(report.funnel)]
    lines.append(
        f"  run         {report.seconds:.1f}s  (" + ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items()) + ")"
    )
    lines.append("  versions    " + ", ".join(f"{k} v{v}" for k, v in report.versions.items()))
    for w in report.warnings:
        lines.append(f"  warning     {w}")
    if next_step:
        lines.append(f"  next        {next_step}")
    return "\n".join(lines)


def filter_summary(report) -> str:
    return curate_summary(report) + f"\n  changed     {report.changed:,} document(s) changed verdict"


def classify_summary(report) -> str:
    lines = [curate_summary(report), f"  scored      {report.details['scored']:,} document(s)"]
    for name, d in report.details["classifiers"].items():
        op = ">=" if d["drop"] == "above" else "<"
        lines.append(
            f"  {name:<11} {d['model']}: {d['scored']:,} scored, {d['null_score']:,} null (language/empty), "
            f"{d['failing']:,} with score {op} {d['threshold']:.2f}"
        )
    return "\n".join(lines)


def dedup_summary(report) -> str:
    d = report.details
    lines = [curate_summary(report, next_step=None)]
    lines.append(f"  documents   {d.get('new', 0):,} new, {d.get('prior', 0):,} earlier survivors/unique ({d['mode']})")
    lines.append(
        f"  signatures  {d.get('signatures_computed', 0):,} computed, {d.get('reused_signatures', 0):,} reused"
    )
    lines.append(f"  lsh         {d['banding']}")
    if "candidate_pairs" in d:
        lines.append(f"  candidates  {d['candidate_pairs']:,} pairs; {d.get('edges', 0):,} edges after verification")
    lines.append(f"  components  {d.get('components_iterations', 0)} rounds")
    lines.append(
        '  next        lakeforge sql "SELECT doc_id, url, dup_of, dup_similarity FROM documents '
        'WHERE dup_of IS NOT NULL ORDER BY dup_similarity LIMIT 20"'
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------------
# ingest
# ------------------------------------------------------------------------------------------------------------------


def ingest_summary(report, lake) -> str:
    """The one-screen end-of-run summary, reconciliation included."""
    t = report.totals
    by_status: dict[str, int] = {}
    for f in report.files:
        by_status[f["status"]] = by_status.get(f["status"], 0) + 1
    read_s = report.details.get("read_seconds") or 0.0
    rate = t["records_in"] / read_s if read_s else 0.0
    skipped = {r["reason"]: r["count"] for r in report.funnel if r["outcome"] == "skipped"}
    lines = [
        "",
        f"ingest run {report.run_id}",
        f"  files       {len(report.files)}  (" + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) + ")",
        f"  records in  {t['records_in']:,}   read in {read_s:.1f}s ({rate:,.0f} records/s), run {report.seconds:.1f}s",
        f"  written     {t['kept']:,}  → {lake.fq('pages')}",
        f"  skipped     {t['skipped']:,}",
    ]
    for reason, n in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"      {n:>8,}  {reason}")
    lines.append(f"  errored     {t['errored']:,}  → {lake.fq('ingest_errors')}")
    for reason, n in sorted(report.details.get("errors_by_reason", {}).items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"      {n:>8,}  {reason}")
    bad = report.unreconciled()
    lines.append(
        f"  reconcile   records_in {t['records_in']:,} = written {t['kept']:,} + skipped "
        f"{t['skipped']:,} + errored {t['errored']:,}   [{bad or 'OK'}, per file and in total]"
    )
    lines.append("  versions    " + ", ".join(f"{k} v{v}" for k, v in report.versions.items()))
    for w in report.warnings:
        lines.append(f"  warning     {w}")
    problem_files = [f for f in report.files if f["status"] in ("failed", "partial")]
    if problem_files:
        lines.append('  files with faults (details: lakeforge sql "SELECT * FROM ingest_errors"):')
        for f in problem_files[:10]:
            lines.append(f"      {f['status']:<8} {f['source_file']}")
        if len(problem_files) > 10:
            lines.append(f"      … and {len(problem_files) - 10} more")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------------
# train-classifier
# ------------------------------------------------------------------------------------------------------------------


def format_train_report(report, name: str | None = None) -> str:
    """A trained classifier (a TrainReport): its examples, threshold and metrics; ``name``: how to use it next."""
    from curation.classify.metrics import format_classes
    from curation.classify.train import SPLITS

    m = report.metrics
    lines = [
        f"  model       {report.model_id}  ({'new' if report.created else 'registered before: same data, settings'})",
        f"  file        {report.row.get('path')}",
        "  examples    "
        + ", ".join(
            f"{s} {report.counts[s]['positive']:,}+/{report.counts[s]['negative']:,}-" for s in SPLITS if report.counts
        )
        + (f"  (fitted on {report.counts['train']['fitted']:,})" if report.counts else ""),
    ]
    if report.counts and report.counts.get("rejected"):
        lines.append("  rejected    " + ", ".join(f"{k} {v:,}" for k, v in report.counts["rejected"].items()))
    lines.append(f"  threshold   {m['threshold']:.2f}  (best {m['target']} on the validation split)")
    lines.append(format_classes(m["validation"], "  validation, at the operating threshold:"))
    lines.append(format_classes(m["test"], "  test (held out), at the operating threshold:"))
    if m["test"].get("roc_auc") is not None:
        lines.append(f"  test ROC AUC {m['test']['roc_auc']:.4f}")
    if report.baseline:
        lines.append(format_classes(report.baseline["test"]["at_0.5"], "  untuned fastText baseline, test, argmax:"))
    if name:
        lines.append(f"  next        add `classifiers: {{{name}: {{}}}}` to the curate config, then lakeforge classify")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------------------
# tokenize, mix, lineage
# ------------------------------------------------------------------------------------------------------------------


def tokenize_summary(r) -> str:
    state = "already there (same inputs, same bytes): nothing written" if r.noop else f"written in {r.seconds:.1f} s"
    lines = [
        f"shard set {r.name}/{r.shard_set_id}: {state}",
        f"  source      {r.source} v{r.source_version}",
        f"  documents   {r.records_in:,} in = {r.documents:,} written + {r.rejected:,} rejected (empty text) "
        f"+ {r.errored:,} errored",
        f"  tokens      {r.tokens:,} ({r.dtype}, {r.bytes / 1e6:,.1f} MB in {len(r.prefixes)} shards)",
        f"  content     sha256 {r.content_hash}",
        f"  path        {r.path}",
    ]
    if not r.noop and r.seconds:
        lines.append(f"  speed       {r.tokens / r.seconds:,.0f} tokens/s end to end")
    lines.append(f"  next        lakeforge sql \"SELECT * FROM token_shards WHERE name = '{r.name}'\"")
    return "\n".join(lines)


def mix_summary(report, check=None) -> str:
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


def lineage_text(doc: dict) -> str:
    """checkpoint → mixture → shard sets → table versions → source files, as a tree."""
    lines = []
    ck = doc.get("checkpoint")
    if ck:
        it = f"iteration {ck['iteration']}" if "iteration" in ck else "checkpoint"
        lines.append(f"checkpoint {Path(ck['metadata_file']).parent}  ({it})")
    m = doc["mixture"]
    lines.append(f"└─ mixture {m['name']}/{m['mixture_id']}  pinned by {m['run_id']} at {m['created_at']}")
    lines.append(f"   blend {m['path']}  (seq_length {m['seq_length']}, split {m['split']})")
    for i, c in enumerate(doc["components"]):
        last = i == len(doc["components"]) - 1
        branch, cont = ("└─", "   ") if last else ("├─", "│  ")
        s, src = c["shard_set"], c["source"]
        lines.append(
            f"   {branch} {c['name']}  weight {c['weight']:.3f} → shard set {s['name']}/{s['shard_set_id']}  "
            f"({s['documents']:,} documents, {s['tokens']:,} tokens, content {s['content_hash'][:12]})"
        )
        where = f" where {src['filter']}" if src["filter"] else ""
        kept = " (kept rows)" if src["kept_only"] else ""
        lines.append(f"   {cont}   ← table {src['table']} v{src['version']}{where}{kept}")
        lines.append(
            f"   {cont}   ← {c['files_total']:,} source file(s), {c['documents_traced']:,} documents traced"
            + (f"; top {len(c['files'])} by tokens:" if c["files"] else "")
        )
        for f in c["files"]:
            lines.append(f"   {cont}       {f['source_file']}  ({f['documents']:,} docs, {f['tokens']:,} tokens)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# lakeforge run: the end-of-run summary, its JSON form, and the progress line while a stage runs
# --------------------------------------------------------------------------------------------------------------


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
        from curation.spark.stage import StatusPoller

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
