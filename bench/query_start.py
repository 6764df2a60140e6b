"""How long a short ``lakeforge sql`` takes with ``--jit quick`` (the default of the query commands) and with
``--jit full`` (Spark's default JVM), interleaved, on the same lakehouse and query.

    .venv/bin/python bench/query_start.py                      # ./lakehouse (after `make demo`), 3 pairs
    .venv/bin/python bench/query_start.py --lakehouse DIR --pairs 5 --query "SELECT ..."

Each run is a new process, as a user runs it: JVM start, Delta, the query, exit. Prints every run and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

LAKEFORGE = Path(sys.executable).parent / "lakeforge"
DEFAULT_QUERY = (
    "SELECT (SELECT count(*) FROM kept) AS kept_now, "
    "(SELECT count(*) FROM documents VERSION AS OF 1 WHERE drop_reason IS NULL) AS kept_v1"
)


def one(jit: str, lakehouse: str, query: str) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(LAKEFORGE), "sql", "--jit", jit, "--lakehouse", lakehouse, "--format", "json", query],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"lakeforge sql --jit {jit} failed: {out.stderr.strip().splitlines()[-1:]}")
    return seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lakehouse", default="lakehouse")
    p.add_argument("--query", default=DEFAULT_QUERY)
    p.add_argument("--pairs", type=int, default=3)
    args = p.parse_args()
    if not (Path(args.lakehouse) / "warehouse").is_dir():
        sys.exit(f"no lakehouse at {args.lakehouse}: run `make demo` first, or give --lakehouse")
    times: dict[str, list[float]] = {"quick": [], "full": []}
    for i in range(args.pairs):
        for jit in ("quick", "full"):
            times[jit].append(one(jit, args.lakehouse, args.query))
            print(f"pair {i + 1}  --jit {jit:5s}  {times[jit][-1]:6.2f} s", flush=True)
    quick, full = statistics.median(times["quick"]), statistics.median(times["full"])
    print(f"\nmedian  quick {quick:.2f} s   full (Spark's default) {full:.2f} s   quick/full {quick / full:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
