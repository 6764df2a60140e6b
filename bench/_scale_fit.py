"""The pure parts of bench/scale.py: the fixed + per-item fit, its linearity and memory checks, and the shuffle bytes
of a Spark event log. Stdlib only; unit-tested in tests/bench/test_scale.py without Spark."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

LINEAR_TOLERANCE = 0.15  # per-item cost within ±15% of the fit's, from the second size on
RSS_GROWTH_LIMIT = 1.5  # peak RSS at the largest size ≤ 1.5× the smallest's


def fit_linear(ns: Sequence[float], seconds: Sequence[float]) -> dict:
    """Least squares ``seconds = fixed + per_item × n`` over the sizes, and the per-item cost each size implies.

    ``per_item_by_size[i]`` is ``(seconds[i] - fixed) / n[i]``; ``deviation_by_size[i]`` is its relative distance
    from the fit's ``per_item``. Needs two sizes or more, not all equal."""
    if len(ns) != len(seconds) or len(ns) < 2:
        raise ValueError(f"need two sizes or more and one time per size, got {len(ns)} sizes, {len(seconds)} times")
    k = len(ns)
    mean_n, mean_s = sum(ns) / k, sum(seconds) / k
    var = sum((n - mean_n) ** 2 for n in ns)
    if var == 0:
        raise ValueError(f"the sizes must differ, got {list(ns)}")
    per_item = sum((n - mean_n) * (s - mean_s) for n, s in zip(ns, seconds, strict=True)) / var
    fixed = mean_s - per_item * mean_n
    by_size = [(s - fixed) / n for n, s in zip(ns, seconds, strict=True)]
    dev = [(c - per_item) / per_item if per_item else float("inf") for c in by_size]
    return {
        "fixed_seconds": fixed,
        "per_item_seconds": per_item,
        "per_item_by_size": by_size,
        "deviation_by_size": dev,
        "sizes": k,
    }


def linearity(fit: dict, tolerance: float = LINEAR_TOLERANCE) -> dict:
    """Goal: the per-item cost of every size from the second on within ±``tolerance`` of the fit's.

    With two sizes the line passes through both points and says nothing: ``met`` is None (not judged)."""
    worst = max(abs(d) for d in fit["deviation_by_size"][1:])
    met = None if fit["sizes"] < 3 else worst <= tolerance
    return {"met": met, "worst_deviation": worst, "tolerance": tolerance}


def rss_growth(peaks: Sequence[float], limit: float = RSS_GROWTH_LIMIT) -> dict:
    """Goal: peak RSS at the largest size at most ``limit``× the smallest size's (sizes in increasing order)."""
    ratio = peaks[-1] / peaks[0] if peaks[0] > 0 else float("inf")
    return {"met": ratio <= limit, "ratio": ratio, "limit": limit}


def shuffle_bytes_written(lines: Iterable[str]) -> int:
    """The shuffle bytes a Spark application wrote: the sum of ``Task Metrics → Shuffle Write Metrics → Shuffle
    Bytes Written`` over its ``SparkListenerTaskEnd`` events (one JSON object a line, Spark's event log)."""
    total = 0
    for line in lines:
        if '"SparkListenerTaskEnd"' not in line:  # most events are not task ends: skip their parse
            continue
        ev = json.loads(line)
        if ev.get("Event") != "SparkListenerTaskEnd":
            continue
        metrics = ev.get("Task Metrics") or {}
        total += int((metrics.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0))
    return total


def event_log_shuffle_bytes(folder: Path) -> int:
    """:func:`shuffle_bytes_written` over the event logs under ``folder``: Spark 4 writes one folder per application
    (``eventlog_v2_<app>/events_<k>_<app>``, rolled files) next to an empty ``appstatus_<app>`` marker. Only
    uncompressed logs are read (``spark.eventLog.compress=false``); a compressed one raises ValueError."""
    total = 0
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.name.startswith((".", "appstatus_")):
            continue
        if path.suffix in (".zstd", ".lz4", ".snappy", ".lzf"):
            raise ValueError(f"{path} is compressed: run Spark with spark.eventLog.compress=false")
        with open(path, encoding="utf-8", errors="replace") as f:
            total += shuffle_bytes_written(f)
    return total
