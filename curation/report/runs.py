"""A ``lakeforge run`` as the report shows it: the ``runs`` table's rows (schemas/runs.py) of one pipeline run →
one :class:`~curation.report.model.PipelineStage` per stage, its last event."""

from __future__ import annotations

import json

from curation.report.model import PipelineStage

_STATUS_RANK = {"running": 0, "skipped": 1, "failed": 2, "succeeded": 3}


def pipeline_stages(rows: list[dict], producers: list[dict] = ()) -> list[PipelineStage]:
    """``runs`` rows of one pipeline run → one stage each (its last event), in stage order, with start offsets.

    ``producers``: ``succeeded`` rows of the runs that skipped stages reused (``reused_run_id``); a skipped stage
    gets the seconds its output took to build there, and the counts of that build."""
    built = {(p["pipeline_run_id"], p["stage"]): p for p in producers if p["status"] == "succeeded"}
    final: dict[str, dict] = {}
    for r in rows:
        key = (str(r.get("ended_at") or r.get("started_at")), _STATUS_RANK.get(r["status"], 0))
        have = final.get(r["stage"])
        if have is None or key >= (
            str(have.get("ended_at") or have.get("started_at")),
            _STATUS_RANK.get(have["status"], 0),
        ):
            final[r["stage"]] = r
    starts = [r["started_at"] for r in rows if r.get("started_at") is not None]
    t0 = min(starts) if starts else None
    out = []
    for r in sorted(final.values(), key=lambda r: (r["stage_order"], str(r.get("started_at")))):
        producer = built.get((r.get("reused_run_id"), r["stage"]), {}) if r["status"] == "skipped" else {}
        offset = None
        if t0 is not None and r.get("started_at") is not None:
            try:
                offset = (r["started_at"] - t0).total_seconds()
            except TypeError:
                offset = None
        out.append(
            PipelineStage(
                stage_order=r["stage_order"],
                stage=r["stage"],
                status=r["status"],
                seconds=r.get("seconds"),
                job_run_id=r.get("job_run_id"),
                started_at=str(r.get("started_at") or "")[:19],
                ended_at=str(r.get("ended_at") or "")[:19],
                start_offset=offset,
                inputs=parse_json(r.get("inputs")),
                outputs=parse_json(r.get("outputs")),
                counts=parse_json(r.get("counts")) or parse_json(producer.get("counts")),
                reused_run_id=r.get("reused_run_id"),
                built_seconds=producer.get("seconds"),
                error=r.get("error"),
                command=r.get("command"),
            )
        )
    return out


def parse_json(text: str | None) -> dict:
    """A JSON object column (``inputs``, ``outputs``, ``counts``) as a dict; other JSON wrapped, bad JSON kept raw."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"raw": text}
    return value if isinstance(value, dict) else {"value": value}
