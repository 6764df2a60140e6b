"""The funnel of a run, as pure data: the ``stats`` rows a job writes (schemas/stats.py), their totals, and the
check that every record is accounted for.

A funnel is a list of rows ``(stage, reason, outcome, count)`` in stage order::

    input  ''        in       191     records the run read
    read   non_html  skipped  104     never became documents (not HTML, already curated, ...)
    read   truncated_gzip errored 1
    langid ''        in        86     documents entering the stage
    langid language_low_score dropped 12   first failing reason of a document
    langid language_low_score failed  15   documents failing it at all (first or not)
    output ''        kept      35

``records_in = kept + dropped + skipped + errored`` holds for every run (:func:`unreconciled` says when it does
not). Every job builds its rows with :func:`funnel_rows`, ``lakeforge stats`` and the report read them back with
:func:`totals`; nothing else adds them up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

CURATE_STAGES = (
    "decode",
    "url_filter",
    "extract",
    "langid",
    "gopher_repetition",
    "gopher_quality",
    "c4",
    "fineweb",
    "toxicity",
)
"""Stages a document goes through in ``curate`` / ``extract``, in order."""
FUNNEL_STAGES = (*CURATE_STAGES, "classifiers", "dedup")
"""Stages of the funnel: the curate stages, the trained classifiers (scored by ``curate`` or ``lakeforge classify``),
then ``lakeforge dedup`` (their rules live in the same verdict)."""
OUTCOMES = ("in", "skipped", "errored", "dropped", "failed", "kept")
"""``in``: entered the stage; ``dropped``/``errored``: the document's first failing reason (``errored``: it could not
be processed); ``failed``: fails the rule at all (first or not, not counted in the totals); ``skipped``: a record
that never became a document; ``kept``: passed every rule."""
TOTALS = ("records_in", "documents", "kept", "dropped", "skipped", "errored")

_ORDER = {"input": 0, "read": 0, **{s: i + 1 for i, s in enumerate(FUNNEL_STAGES)}, "output": len(FUNNEL_STAGES) + 1}


class UnknownReason(ValueError):
    """A document carries a drop reason that no rule of the job's config gives: it cannot be put in a stage."""


Head = Sequence[tuple[str, str, str, int]]
"""The rows before the stages: ``("input", "", "in", n)`` and the ``read`` stage's skipped / errored rows."""


def stage_order(stage: str) -> int:
    """The ``stage_order`` column: input/read 0, the funnel stages 1.., output last."""
    if stage not in _ORDER:
        raise ValueError(f"unknown funnel stage {stage!r}; known: {', '.join(_ORDER)}")
    return _ORDER[stage]


def funnel_rows(
    *,
    run_id: str,
    job: str,
    head: Head,
    first: Mapping[str | None, int],
    failed: Mapping[str, int],
    reason_stage: Mapping[str, str],
    stages: Sequence[str] = FUNNEL_STAGES,
    error_reasons: Iterable[str] = (),
    seconds: Mapping[str, float] | None = None,
    docs: Mapping[str, int] | None = None,
    documents_version: int | None = None,
    created_at: datetime | None = None,
) -> list[dict]:
    """The ``stats`` rows of one run.

    ``first``: documents by first failing reason (``None``: kept); ``failed``: documents by every reason they fail;
    ``reason_stage``: each reason → the stage whose rule gives it (a reason missing there raises
    :class:`UnknownReason`, so nothing is silently counted under the wrong stage); ``stages``: the stages this job
    reports, in order (when it reports several, one after the curate stages appears only if it dropped something);
    ``error_reasons``: reasons counted as ``errored`` rather than ``dropped``; ``seconds``/``docs``: task time and
    documents per stage (the stage's ``in`` row carries them).
    """
    seconds, docs = seconds or {}, docs or {}
    errors = frozenset(error_reasons)
    for reason in [r for r in first if r is not None] + list(failed):
        stage = reason_stage.get(reason)
        if stage is None:
            raise UnknownReason(
                f"documents carry the drop reason {reason!r}, which no rule of the {job} config gives "
                f"(known: {', '.join(sorted(reason_stage)) or 'none'})"
            )
        if stage not in stages:
            raise UnknownReason(f"drop reason {reason!r} belongs to stage {stage!r}, which the {job} funnel lacks")

    rows = list(head)
    remaining = sum(first.values())
    for stage in stages:
        reasons = sorted(r for r in first if r is not None and reason_stage[r] == stage)
        if stage not in CURATE_STAGES and len(stages) > 1 and not reasons:
            continue
        rows.append((stage, "", "in", remaining))
        for reason in reasons:
            rows.append((stage, reason, "errored" if reason in errors else "dropped", first[reason]))
            remaining -= first[reason]
        rows += [(stage, r, "failed", failed[r]) for r in sorted(failed) if reason_stage[r] == stage]
    rows.append(("output", "", "kept", first.get(None, 0)))

    now = created_at or datetime.now(UTC)
    out = []
    for stage, reason, outcome, count in rows:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown funnel outcome {outcome!r}")
        timed = outcome == "in" and stage in FUNNEL_STAGES and bool(seconds.get(stage))
        out.append(
            {
                "run_id": run_id,
                "job": job,
                "stage_order": stage_order(stage),
                "stage": stage,
                "reason": reason,
                "outcome": outcome,
                "count": int(count),
                "seconds": round(seconds[stage], 3) if timed else None,
                "docs_per_s": round(docs.get(stage, 0) / seconds[stage], 1) if timed else None,
                "documents_version": documents_version,
                "created_at": now,
            }
        )
    return out


def stage_speeds(seconds: Mapping[str, float], docs: Mapping[str, int]) -> dict[str, dict]:
    """Per funnel stage that spent time: documents, task seconds and documents per second."""
    return {
        s: {
            "docs": docs.get(s, 0),
            "seconds": round(seconds[s], 3),
            "docs_per_s": round(docs.get(s, 0) / seconds[s], 1),
        }
        for s in FUNNEL_STAGES
        if seconds.get(s)
    }


def totals(rows: Iterable[Mapping]) -> dict[str, int]:
    """``records_in``, ``documents`` (entering the first stage), ``kept``, ``dropped``, ``skipped``, ``errored``."""
    out = dict.fromkeys(TOTALS, 0)
    for r in rows:
        stage, outcome, count = r["stage"], r["outcome"], int(r["count"] or 0)
        if stage == "input" and outcome == "in":
            out["records_in"] += count
        elif outcome in ("kept", "dropped", "skipped", "errored"):
            out[outcome] += count
        if stage == "decode" and outcome == "in" and not r.get("reason"):
            out["documents"] += count
    return out


def unreconciled(rows: Iterable[Mapping]) -> str | None:
    """None when ``records_in = kept + dropped + skipped + errored``; otherwise what does not add up."""
    t = totals(rows)
    accounted = t["kept"] + t["dropped"] + t["skipped"] + t["errored"]
    if t["records_in"] != accounted:
        return f"records_in {t['records_in']} != kept + dropped + skipped + errored = {accounted}"
    return None


def sort_rows(rows: Iterable[Mapping]) -> list:
    """Rows in display order: by stage, the stage's ``in`` row first, then by reason."""
    return sorted(rows, key=lambda r: (r["stage_order"], r["outcome"] != "in", r["reason"]))


def file_unreconciled(files: Iterable[Mapping]) -> str | None:
    """Per-file accounting of the ``*_files`` rows: ``records_in = written + skipped + errored`` for each file."""
    bad = [
        f["source_file"]
        for f in files
        if f["records_in"] != f["written"] + sum((f["skipped"] or {}).values()) + f["errored"]
    ]
    return f"records do not add up in {', '.join(bad)}" if bad else None
