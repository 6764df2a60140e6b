"""How long a short ``lakeforge sql`` takes with ``--jit quick`` (the default of the query commands) and with
``--jit full`` (Spark's default JVM), interleaved, on the same lakehouse and query.

    .venv/bin/python -m bench.query_start                      # ./lakehouse (after `make demo`), 3 pairs
    .venv/bin/python -m bench.query_start --lakehouse DIR --pairs 5 --query "SELECT ..." [--json]
    .venv/bin/python -m bench.query_start --smoke              # a lakehouse of 3 documents made first, 1 pair

Each run is a new process, as a user runs it: JVM start, Delta, the query, exit. Prints every run and the medians.
``--smoke`` makes its lakehouse in bench/out/smoke with ``lakeforge import-text`` (a small text file of three
paragraphs) and asks ``SELECT count(*) FROM documents`` once each way.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench._common import json_from_stdout, lakeforge_command, lakeforge_env, log, out_dir

DEFAULT_QUERY = (
    "SELECT (SELECT count(*) FROM kept) AS kept_now, "
    "(SELECT count(*) FROM documents VERSION AS OF 1 WHERE drop_reason IS NULL) AS kept_v1"
)
SMOKE_QUERY = "SELECT count(*) AS documents FROM documents"
SMOKE_TEXT = (
    "The first paragraph of the smoke lakehouse, long enough to be a document.\n\n"
    "A second paragraph: the query below counts three documents.\n\n"
    "And a third one, so that the count is not one.\n"
)


def one(jit: str, lakehouse: str, query: str) -> tuple[float, list[dict]]:
    """One ``lakeforge sql --jit JIT`` process: (wall seconds, the rows it printed)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [*lakeforge_command(), "sql", "--jit", jit, "--lakehouse", lakehouse, "--format", "json", query],
        capture_output=True,
        text=True,
        env=lakeforge_env(),
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"lakeforge sql --jit {jit} failed: {out.stderr.strip().splitlines()[-1:]}")
    return seconds, json_from_stdout(out.stdout)


def smoke_lakehouse() -> str:
    """A fresh lakehouse of three documents (``lakeforge import-text --split paragraphs``) in bench/out/smoke."""
    work = out_dir(True) / "query-start"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "three.txt").write_text(SMOKE_TEXT, encoding="utf-8")
    lake = work / "lakehouse"
    cmd = [*lakeforge_command(), "import-text", "--input", str(work / "three.txt"), "--split", "paragraphs"]
    cmd += ["--lakehouse", str(lake), "--master", "local[2]", "--format", "json"]
    log(f"making the smoke lakehouse in {lake}")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=lakeforge_env())
    if proc.returncode != 0:
        sys.exit(f"lakeforge import-text failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return str(lake)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lakehouse", default="lakehouse")
    p.add_argument("--query", default=None, help="the query (default: kept now vs kept in version 1)")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--json", action="store_true", help="the figures as JSON too (last line of stdout)")
    p.add_argument("--smoke", action="store_true", help="a 3-document lakehouse in bench/out/smoke, 1 pair")
    args = p.parse_args(argv)
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    if args.smoke:
        args.lakehouse, args.pairs = smoke_lakehouse(), 1
        args.query = args.query or SMOKE_QUERY
    query = args.query or DEFAULT_QUERY
    if not (Path(args.lakehouse) / "warehouse").is_dir():
        sys.exit(f"no lakehouse at {args.lakehouse}: run `make demo` first, or give --lakehouse")
    times: dict[str, list[float]] = {"quick": [], "full": []}
    rows: dict[str, list[dict]] = {}
    for i in range(args.pairs):
        for jit in ("quick", "full"):
            seconds, rows[jit] = one(jit, args.lakehouse, query)
            times[jit].append(seconds)
            print(f"pair {i + 1}  --jit {jit:5s}  {times[jit][-1]:6.2f} s", flush=True)
    quick, full = statistics.median(times["quick"]), statistics.median(times["full"])
    print(f"\nmedian  quick {quick:.2f} s   full (Spark's default) {full:.2f} s   quick/full {quick / full:.2f}")
    if args.json:
        doc = {"lakehouse": args.lakehouse, "query": query, "seconds": times, "median": {"quick": quick, "full": full}}
        print(json.dumps(doc | {"rows": rows, "smoke": args.smoke}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
