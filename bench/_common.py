"""What the benches share: the repository's folders, where figures go (``bench/out``; ``bench/out/smoke`` for
``--smoke``, so a smoke run never replaces a real run's files), the ``lakeforge`` command they start as a
subprocess, and the stderr log line. Stdlib only."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
SMOKE_OUT = OUT / "smoke"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def out_dir(smoke: bool) -> Path:
    """The folder for a bench's inputs, scratch and results: bench/out, or bench/out/smoke for ``--smoke``."""
    return SMOKE_OUT if smoke else OUT


def lakeforge_command() -> list[str]:
    """The ``lakeforge`` script next to this interpreter (the project's venv), else this interpreter on
    ``jobs.cli``; run with :func:`lakeforge_env`, so it is this checkout's code either way."""
    script = Path(sys.executable).parent / "lakeforge"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "jobs.cli"]


def lakeforge_env(**extra: str) -> dict[str, str]:
    """This process's environment with the repository root first on PYTHONPATH (and ``extra`` set)."""
    path = os.environ.get("PYTHONPATH")
    return dict(os.environ, PYTHONPATH=str(ROOT) + (os.pathsep + path if path else ""), **extra)


def json_from_stdout(text: str):
    """The JSON a command printed: the whole of ``text``, else its last line that parses as JSON."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        if line.startswith(("{", "[")):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise ValueError(f"no JSON in the output: {text[-500:]!r}")


def missing(paths: list[Path]) -> list[str]:
    """The paths that do not exist, as strings."""
    return [str(p) for p in paths if not Path(p).exists()]
