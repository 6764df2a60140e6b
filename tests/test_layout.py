"""The shape of the tree: nothing in it can replace a standard-library module, and the benches and evals run as
modules of the repository root (no ``sys.path`` edits)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("curation", "training", "jobs", "schemas", "bench", "eval", "tests")


def python_files() -> list[Path]:
    """Every .py file of the repository, in every folder but hidden ones (.git, .venv, …), __pycache__ and virtual
    environments (a folder holding pyvenv.cfg)."""
    found = []
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [
            d
            for d in subfolders
            if not d.startswith(".") and d != "__pycache__" and not (Path(folder) / d / "pyvenv.cfg").exists()
        ]
        found += [Path(folder) / f for f in files if f.endswith(".py")]
    return found


def test_no_file_is_named_like_a_standard_library_module():
    """``spark-submit jobs/X.py``, ``python bench/X.py`` or pytest put a file's folder first on sys.path: a file named
    like a stdlib module (tokenize.py, say) would then replace it for every import in the process (linecache imports
    tokenize, dataclasses imports it through inspect). No folder is exempt: which folders end up on the path depends on
    how a file is started, not on where it lives."""
    files = python_files()
    seen = {p.relative_to(REPO).parts[0] for p in files}
    assert set(PACKAGES) <= seen, f"the walk missed {set(PACKAGES) - seen}"  # it looked where the code is
    shadowing = sorted(str(p.relative_to(REPO)) for p in files if p.stem in sys.stdlib_module_names)
    assert shadowing == [], f"rename these (each is a standard-library module's name): {shadowing}"


def test_benches_and_evals_do_not_edit_the_import_path():
    """They run as ``python -m bench.X`` / ``python -m eval.X`` from the repository root, where ``bench.`` and
    ``eval.`` imports resolve as they are."""
    editing = sorted(
        str(p.relative_to(REPO))
        for folder in ("bench", "eval")
        for p in (REPO / folder).glob("*.py")
        if "sys.path" in p.read_text(encoding="utf-8")
    )
    assert editing == []


def test_every_e2e_module_exists():
    """A renamed test module would silently leave the e2e tier (and slow the fast one down)."""
    from tiers import E2E_MODULES

    missing = [m for m in E2E_MODULES if not (Path(__file__).resolve().parent / m).is_file()]
    assert not missing, f"tests/conftest.py E2E_MODULES names missing files: {missing}"
