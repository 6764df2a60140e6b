"""A local Delta table's live rows read in this process, without Spark: the commit files in order (each ``add``
makes a Parquet file live, each ``remove`` retires one), then those files with pyarrow. Commit files appear whole
(written, then renamed), so a reader may watch a table another process writes. Local tables without a checkpoint
that dropped commit files only: enough for the benches' fresh lakehouses and the tests that watch a run."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote


def live_rows(table: Path, columns: list[str] | None = None) -> list[dict]:
    import pyarrow.parquet as pq

    live: dict[str, None] = {}
    for commit in sorted((table / "_delta_log").glob("*.json")):
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                live[action["add"]["path"]] = None
            elif "remove" in action:
                live.pop(action["remove"]["path"], None)
    return [row for path in live for row in pq.read_table(table / unquote(path), columns=columns).to_pylist()]
