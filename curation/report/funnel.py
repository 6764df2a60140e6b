"""The funnel of a run from its ``stats`` rows (schemas/stats.py), and which runs the report shows."""

from __future__ import annotations

from collections import defaultdict

from curation.funnel import sort_rows, totals
from curation.report.model import FunnelRun, FunnelStage

FUNNEL_JOBS = ("curate", "extract", "dedup", "classify", "filter")
"""Jobs whose funnel the report draws (their latest run that reached a verdict); other jobs (import) are only listed."""
_OUTER = ("input", "read", "output")


def funnel_run(rows: list[dict], note: str = "") -> FunnelRun:
    """One run's ``stats`` rows (dicts with the table's columns) → its funnel, stages in pipeline order."""
    if not rows:
        raise ValueError("a funnel needs at least one stats row")
    rows = sort_rows(rows)
    first = rows[0]
    sums = totals(rows)
    skipped: dict[str, int] = defaultdict(int)
    read_errors: dict[str, int] = defaultdict(int)
    stages: dict[str, FunnelStage] = {}
    for r in rows:
        stage, outcome, reason, count = r["stage"], r["outcome"], r["reason"], int(r["count"] or 0)
        if outcome == "skipped":
            skipped[reason or stage] += count
        if stage == "read" and outcome == "errored":
            read_errors[reason or "errored"] += count
        if stage in _OUTER:
            continue
        s = stages.setdefault(stage, FunnelStage(stage, 0))
        if outcome == "in" and reason == "":
            s.entered = count
            s.seconds, s.docs_per_s = r.get("seconds"), r.get("docs_per_s")
        elif outcome in ("dropped", "errored"):
            s.reasons[reason] = s.reasons.get(reason, 0) + count
            if outcome == "dropped":
                s.dropped += count
            else:
                s.errored += count
        elif outcome == "failed":
            s.failed[reason] = s.failed.get(reason, 0) + count
    return FunnelRun(
        run_id=first["run_id"],
        job=first["job"],
        created_at=str(max(str(r["created_at"]) for r in rows))[:19],
        documents_version=max(
            (r["documents_version"] for r in rows if r.get("documents_version") is not None), default=None
        ),
        stages=list(stages.values()),
        skipped_reasons=dict(skipped),
        read_errors=dict(read_errors),
        note=note,
        **{k: sums[k] for k in ("records_in", "kept", "dropped", "skipped", "errored")},
    )


def choose_runs(summaries: list[dict], job_run_ids: list[str] | None = None) -> list[tuple[str, str]]:
    """Which runs to show: ``(run_id, why)`` pairs.

    ``summaries``: one dict per run with ``run_id``, ``job``, ``created_at`` and ``decided`` (documents that
    reached a verdict: kept + dropped). With ``job_run_ids`` (a pipeline run's stages), the runs among them, in
    that order. Otherwise, per job of :data:`FUNNEL_JOBS`, the latest run that decided something (a rerun that found
    everything already curated decides nothing and says little), or the latest run when none did; oldest first.
    """
    known = {s["run_id"]: s for s in summaries}
    if job_run_ids:
        picked = [(r, "a stage of the pipeline run") for r in job_run_ids if r in known]
        if picked:
            return picked
    out = []
    by_job: dict[str, list[dict]] = defaultdict(list)
    for s in summaries:
        by_job[s["job"]].append(s)
    for job in [j for j in FUNNEL_JOBS if j in by_job]:
        runs = sorted(by_job[job], key=lambda s: str(s["created_at"]))
        deciding = [s for s in runs if (s.get("decided") or 0) > 0]
        if deciding:
            chosen = deciding[-1]
            later = len(runs) - 1 - runs.index(chosen)
            why = f"latest {job} run that decided documents"
            if later:
                why += f" ({later} later {job} run{'s' if later > 1 else ''} decided none: inputs already done)"
        else:
            chosen, why = runs[-1], f"latest {job} run"
        out.append((str(chosen["created_at"]), chosen["run_id"], why))
    return [(run_id, why) for _, run_id, why in sorted(out)]
