"""The Spark side of the stage kernel (:mod:`curation.stage`): the one funnel writer every job calls, and the
progress poller of the jobs that read files.

Counts come from aggregations over the written documents, never from accumulators (a retried task would count
twice); the accumulator :class:`FileProgress` reads only feeds a progress line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from curation import funnel
from curation.stage import JobReport
from schemas import CURATE_FILES, DOCUMENTS, INGEST_ERRORS, STATS


def reason_counts(docs) -> tuple[Counter, Counter]:
    """(documents by first failing reason, with None for kept; documents by every reason they fail)."""
    first: Counter = Counter()
    failed: Counter = Counter()
    if docs is not None:
        for r in docs.groupBy("drop_reason").count().collect():
            first[r["drop_reason"]] = r["count"]
        for r in docs.selectExpr("explode(drop_reasons) AS reason").groupBy("reason").count().collect():
            failed[r["reason"]] = r["count"]
    return first, failed


def write_funnel(
    lake,
    report: JobReport,
    docs,
    head: funnel.Head,
    *,
    reason_stage: Mapping[str, str],
    stages: Sequence[str] = funnel.FUNNEL_STAGES,
    error_reasons: Iterable[str] = (),
    timings: Iterable[Mapping] = (),
    meta: str | None = None,
) -> None:
    """Build the run's funnel from ``docs`` (the documents it decided; None: none) and the task ``timings``
    (``{stage, seconds, docs}`` rows), append it to ``stats`` (commit metadata ``meta``) and record it, the stage
    speeds and the table versions in ``report``. See :func:`curation.funnel.funnel_rows` for the other arguments."""
    first, failed = reason_counts(docs)
    seconds: Counter = Counter()
    done: Counter = Counter()
    for t in timings:
        seconds[t["stage"]] += t["seconds"]
        done[t["stage"]] += t["docs"]
    rows = funnel.funnel_rows(
        run_id=report.run_id,
        job=report.job,
        head=head,
        first=first,
        failed=failed,
        reason_stage=reason_stage,
        stages=stages,
        error_reasons=error_reasons,
        seconds=seconds,
        docs=done,
        documents_version=lake.version(DOCUMENTS.name),
    )
    report.stages = funnel.stage_speeds(seconds, done)
    lake.append(STATS, lake.spark.createDataFrame(rows, STATS.to_spark()), meta)
    report.funnel = rows
    lake.create_views()
    report.versions.update(
        {t: lake.version(t) for t in (DOCUMENTS.name, INGEST_ERRORS.name, CURATE_FILES.name, STATS.name)}
    )


class FileProgress:
    """Polls Spark's status tracker while a one-task-per-file stage runs and calls
    ``callback(files_done, files_total, records_so_far)`` every ``every_s`` seconds (and once at the end)."""

    def __init__(self, sc, total: int, acc, callback, every_s: float = 2.0):
        self.sc = sc
        self.total = total
        self.acc = acc
        self.callback = callback
        self.every_s = every_s
        self._stop = None
        self._thread = None

    def __enter__(self):
        import threading

        if self.callback is None:
            return self
        self._stop = threading.Event()
        group = f"lakeforge-files-{id(self)}"
        self.sc.setJobGroup(group, "lakeforge: reading files")
        self._group = group

        def loop():
            while not self._stop.wait(self.every_s):
                self.callback(self._files_done(), self.total, self.acc.value)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def _files_done(self) -> int:
        tracker = self.sc.statusTracker()
        done = 0
        for job_id in tracker.getJobIdsForGroup(self._group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job else []:
                stage = tracker.getStageInfo(stage_id)
                if stage and stage.numTasks == self.total:
                    done = max(done, stage.numCompletedTasks)
        return done

    def __exit__(self, *exc):
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
            self.callback(self.total if exc[0] is None else self._files_done(), self.total, self.acc.value)
            self.sc.setLocalProperty("spark.jobGroup.id", None)
        return False
