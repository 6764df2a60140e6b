"""jobs/ is a package: one spark-submit launcher, no sys.path edits, renderers in jobs/render.py, and no job reaches
into another job's module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

JOBS = Path(__file__).resolve().parents[2] / "jobs"
SHARED = {"jobs.common", "jobs.render", "jobs.cli"}  # what a job may import from the package


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):  # function-level imports included
        if isinstance(node, ast.ImportFrom) and node.module:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names if node.module == "jobs"}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_no_job_edits_sys_path():
    assert [p.name for p in JOBS.glob("*.py") if "sys.path" in p.read_text().replace("``sys.path``", "")] == []


def test_jobs_import_only_the_shared_modules_of_the_package():
    reaching = {}
    for path in JOBS.glob("*.py"):
        own = f"jobs.{path.stem}"
        other = {m for m in imports(path) if m.startswith("jobs.") and m not in SHARED | {own}}
        if path.stem not in ("cli", "submit", "pipeline") and other:  # cli dispatches; pipeline launches train
            reaching[path.name] = sorted(other)
    assert reaching == {}


def test_the_launcher_runs_a_subcommand_as_a_script():
    # As spark-submit runs it: a file, its folder first on sys.path, the package found where it is installed.
    out = subprocess.run(
        [sys.executable, str(JOBS / "submit.py"), "info", "--delta-package"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("io.delta:delta-spark_")
