"""The Spark side of the stage kernel (:mod:`curation.stage`): the one funnel writer every job calls, and the
Spark status pollers behind the progress lines (:class:`StatusPoller`, :class:`FileProgress`).

Counts come from aggregations over the written documents, never from accumulators (a retried task would count
twice); the accumulator :class:`FileProgress` reads only feeds a progress line.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

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


def active_stages(sc, limit: int = 3) -> list[tuple[int, int, int]]:
    """Spark's active stages as ``(stage id, tasks done, tasks)``, at most ``limit``; [] when the context cannot
    say (e.g. it is stopping)."""
    try:
        tracker = sc.statusTracker()
        out = []
        for sid in tracker.getActiveStageIds()[:limit]:
            info = tracker.getStageInfo(sid)
            if info is not None:
                out.append((sid, info.numCompletedTasks, info.numTasks))
        return out
    except Exception:  # noqa: BLE001 — progress must never break the run
        return []


class StatusPoller:
    """While a ``with`` block runs: ``tick(elapsed_s, active_stages(sc))`` every ``every_s`` seconds from a daemon
    thread (the caller renders it: a terminal line, a log line)."""

    def __init__(self, sc, tick: Callable[[float, list[tuple[int, int, int]]], None], every_s: float = 0.5):
        self.sc, self.tick, self.every_s = sc, tick, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StatusPoller:
        t0 = time.perf_counter()

        def loop() -> None:
            while not self._stop.wait(self.every_s):
                self.tick(time.perf_counter() - t0, active_stages(self.sc))

        self._thread = threading.Thread(target=loop, name="lakeforge-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return False


class FileProgress:
    """While a one-task-per-file stage runs: ``callback(files_done, files_total, records_so_far)`` every ``every_s``
    seconds (a :class:`StatusPoller` tick) and once at the end. Files done are the finished tasks of this block's
    job group; records come from the accumulator ``acc`` (display only)."""

    def __init__(self, sc, total: int, acc, callback, every_s: float = 2.0):
        self.sc, self.total, self.acc, self.callback, self.every_s = sc, total, acc, callback, every_s
        self._group = f"lakeforge-files-{id(self)}"
        self._poller: StatusPoller | None = None

    def __enter__(self) -> FileProgress:
        if self.callback is None:
            return self
        self.sc.setJobGroup(self._group, "lakeforge: reading files")
        tick = lambda _elapsed, _stages: self.callback(self._files_done(), self.total, self.acc.value)  # noqa: E731
        self._poller = StatusPoller(self.sc, tick, self.every_s).__enter__()
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

    def __exit__(self, *exc) -> bool:
        if self._poller is not None:
            self._poller.__exit__(*exc)
            self.callback(self.total if exc[0] is None else self._files_done(), self.total, self.acc.value)
            self.sc.setLocalProperty("spark.jobGroup.id", None)
        return False
