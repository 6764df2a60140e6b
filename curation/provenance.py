"""What produced a table version: run id, code version, config hash, inputs. Recorded in every commit."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

MAX_LISTED_INPUTS = 200


@cache
def code_version() -> str:
    """``git describe --always --dirty`` of the checkout this package runs from, else the package version."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        if out.stdout.strip():
            return f"git:{out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"lakeforge=={metadata.version('lakeforge')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def new_run_id(job: str) -> str:
    """``<job>-<UTC time>-<8 hex>``: sortable by time, unique across machines."""
    return f"{job}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


@dataclass
class RunInfo:
    """Provenance of one job run; ``commit_metadata()`` is what lands in each Delta commit."""

    job: str
    config_hash: str
    config: dict
    inputs: list[str] = field(default_factory=list)
    input_tables: dict[str, int] = field(default_factory=dict)
    """Table name → version read, for every table the run read."""
    run_id: str = ""
    code_version: str = ""

    def __post_init__(self) -> None:
        self.run_id = self.run_id or new_run_id(self.job)
        self.code_version = self.code_version or code_version()

    def commit_metadata(self) -> str:
        """JSON for Delta's ``userMetadata``: the resolved config in full (a few KB), so any version says exactly
        how it was made. Long input lists are cut, with their count and hash kept."""
        d = asdict(self)
        inputs = self.inputs
        d["inputs_count"] = len(inputs)
        d["inputs_sha256"] = hashlib.sha256("\n".join(inputs).encode()).hexdigest()[:16]
        if len(inputs) > MAX_LISTED_INPUTS:
            d["inputs"] = inputs[:MAX_LISTED_INPUTS]
            d["inputs_truncated"] = True
        return json.dumps(d, sort_keys=True, separators=(",", ":"))
