"""What every job shares: :class:`JobReport` (what one run did) and :class:`StepTimer` (where its time went).

A job (``run_curate``, ``run_dedup``, ``run_classify``, ...) makes a report, times its driver steps with
``report.step("name")``, writes its funnel (:func:`curation.spark.stage.write_funnel`) and ends with
``report.finish()``. The CLI prints ``report.to_json()`` or a text rendering, and exits 3 when
``report.unreconciled()`` names counts that do not add up. Jobs with figures of their own (training a classifier,
tokenizing, mixing) subclass the report and extend :meth:`JobReport.to_json` / :meth:`JobReport.unreconciled`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from curation import funnel


class StepTimer:
    """``step("name")`` ends the previous step (adding its seconds to ``into``) and starts the next; ``step(None)``
    ends the last one. Returns the seconds of the step it ended."""

    def __init__(self, into: dict[str, float]):
        self.into = into
        self.name: str | None = None
        self.t = time.perf_counter()

    def __call__(self, name: str | None) -> float:
        now = time.perf_counter()
        spent = now - self.t
        if self.name is not None:
            self.into[self.name] = round(self.into.get(self.name, 0.0) + spent, 3)
        self.name, self.t = name, now
        return spent


@dataclass
class JobReport:
    """What one job run did: its funnel and per-file rows, the table versions it left, and where the time went."""

    run_id: str
    job: str
    files: list[dict] = field(default_factory=list)
    """The per-input-file rows it wrote (``ingest_files`` / ``curate_files``)."""
    versions: dict[str, int | None] = field(default_factory=dict)
    """Table → the version after this run."""
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per driver step (prepare, process, write_documents, ...)."""
    stages: dict[str, dict] = field(default_factory=dict)
    """Per funnel stage: docs, seconds (task time), docs_per_s."""
    funnel: list[dict] = field(default_factory=list)
    """Its ``stats`` rows (:mod:`curation.funnel`)."""
    warnings: list[str] = field(default_factory=list)
    changed: int | None = None
    """Jobs that re-decide verdicts (filter, classify): documents whose verdict changed."""
    details: dict = field(default_factory=dict)
    """Job-specific figures (dedup: banding, candidate pairs, edges, component rounds; classify: per classifier)."""

    def __post_init__(self) -> None:
        self._t0 = time.perf_counter()
        self.step = StepTimer(self.timings)

    def finish(self) -> None:
        """End the last step and record the run's seconds."""
        self.step(None)
        self.seconds = time.perf_counter() - self._t0

    @property
    def totals(self) -> dict[str, int]:
        """The funnel totals (:func:`curation.funnel.totals`)."""
        return funnel.totals(self.funnel)

    def unreconciled(self) -> str | None:
        """None when every record is accounted for, in the funnel and per file; otherwise what does not add up."""
        return funnel.unreconciled(self.funnel) or funnel.file_unreconciled(self.files)

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "seconds": round(self.seconds, 3),
            "timings": self.timings,
            "stages": self.stages,
            "totals": self.totals,
            "versions": self.versions,
            "funnel": [{k: v for k, v in r.items() if k != "created_at"} for r in self.funnel],
            "files": self.files,
            "changed": self.changed,
            "details": self.details,
            "warnings": self.warnings,
        }
