"""Building blocks of the dedup bench, run in the main venv: datatrove's MinHash dedup as a peer (in its own venv,
as a subprocess) and a signature-speed comparison of datasketch's per-document loop with lakeforge's batched kernels.

    from bench._dedup_peer import ensure_datatrove_env, run_datatrove_minhash, signature_speed

* :func:`run_datatrove_minhash` runs ``-m bench._datatrove_minhash`` (datatrove 0.10.1's 4-stage MinHash: signatures →
  buckets → cluster → filter on LocalPipelineExecutors) by the datatrove venv's python and returns its clusters,
  removals, per-stage seconds and peak RSS. datatrove's defaults: 14 bands × 8 rows, word 5-grams of
  ``simplify_text`` + spaCy's blank English tokenizer, 64-bit xxhash, permutations mod 2**61 - 1. Its signatures are
  therefore not datasketch's, and its clusters are only comparable to lakeforge's in what they group.
* :func:`signature_speed` times, on one core, the same MinHash signatures (datasketch's ``affine32`` scheme) made by
  datasketch's ``MinHash.update`` loop and by :class:`curation.dedup.minhash.MinHasher`, from raw text and from
  already-normalized text, and checks the signatures are equal.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench._common import ROOT, log
from bench._peer import ensure_peer_env

PEER_MODULE = "bench._datatrove_minhash"  # run by the peer venv's python, from the repository root


# ----------------------------------------------------------------------------------------- datatrove MinHash


def ensure_datatrove_env() -> Path:
    """The python of the datatrove venv (bench/.venv-datatrove), created on first use (~2-3 min).

    The venv is the one bench/curate.py uses (``datatrove[processing,io]==0.10.1`` and spaCy, see bench/_peer.py):
    the MinHash steps need ``xxhash`` (default hash), ``regex`` (text simplification), ``orjson`` (JSONL reader and
    writer) and spaCy (English word tokenizer), all in that set."""
    return ensure_peer_env()


def run_datatrove_minhash(
    corpus: Path,
    workdir: Path,
    workers: int = 2,
    ngram: int = 5,
    buckets: int | None = None,
    hashes_per_bucket: int | None = None,
    tasks: int | None = None,
    timeout: float | None = None,
    python: Path | None = None,
) -> dict:
    """Run datatrove's MinHash dedup over a JSONL corpus (``id``, ``text`` per line) and return what it found.

    ``workdir`` is emptied and holds datatrove's files (``run/``), its log (``pipeline.log``) and the raw result
    (``result.json``). ``buckets``/``hashes_per_bucket`` default to datatrove's ``MinhashConfig`` (14 × 8); ``tasks``
    (signature and filter stages) defaults to ``workers``; ``python`` is the peer venv's interpreter (default: the
    venv, created when missing). Raises RuntimeError when the subprocess fails, runs past
    ``timeout`` seconds, or the document ids do not survive the pipeline.

    Returns a dict with:
      * ``clusters``: input id → datatrove's cluster number, or None for a document in no cluster (every input id);
      * ``removed``: set of the ids datatrove drops (all members of a cluster but one);
      * ``skipped``: set of the ids its reader skipped (empty text; never clustered);
      * ``seconds`` (sum of the 4 ``executor.run()`` calls), ``stage_seconds`` (per stage), ``import_seconds``,
        ``process_seconds`` (the whole subprocess, wall), ``peak_rss_mb`` (largest process: worker, or the main one
        that also runs the single-task cluster stage) and ``peak_rss_kb`` (its parts);
      * ``documents``, ``documents_with_text``, ``config``, ``step_stats`` (datatrove's counters), ``checks``.
    """
    for name, v in (("workers", workers), ("ngram", ngram), ("buckets", buckets), ("tasks", tasks)):
        if v is not None and v < 1:
            raise ValueError(f"{name} must be at least 1, got {v}")
    if hashes_per_bucket is not None and hashes_per_bucket < 1:
        raise ValueError(f"hashes_per_bucket must be at least 1, got {hashes_per_bucket}")
    python = python or ensure_datatrove_env()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    out, log_path = workdir / "result.json", workdir / "pipeline.log"
    out.unlink(missing_ok=True)
    cmd = [str(python), "-m", PEER_MODULE, "--input", str(Path(corpus).resolve()), "--workdir", str(workdir / "run")]
    cmd += ["--workers", str(workers), "--ngram", str(ngram), "--out", str(out)]
    for flag, v in (("--tasks", tasks), ("--buckets", buckets), ("--hashes-per-bucket", hashes_per_bucket)):
        if v is not None:
            cmd += [flag, str(v)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)  # the peer venv must not see the main venv's packages
    log(f"datatrove minhash: {corpus}, {workers} worker(s), log in {log_path}")
    t0 = time.perf_counter()
    try:
        with open(log_path, "w") as errlog:
            proc = subprocess.run(cmd, stdout=errlog, stderr=subprocess.STDOUT, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"datatrove minhash ran past {timeout}s (log: {log_path})") from e
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.is_file():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"datatrove minhash failed (exit {proc.returncode}); log tail:\n{tail}")
    raw = json.loads(out.read_text())
    rss = raw["peak_rss_kb"]
    peak_kb = max(v for v in (rss["self"], rss["children"], rss["workers"]) if v is not None)
    return {
        "clusters": {d["id"]: d["cluster"] for d in raw["docs"]},
        "removed": {d["id"] for d in raw["docs"] if d["removed"]},
        "skipped": {d["id"] for d in raw["docs"] if d.get("skipped")},
        "seconds": raw["seconds"],
        "stage_seconds": raw["stage_seconds"],
        "import_seconds": raw["import_seconds"],
        "process_seconds": wall,
        "peak_rss_mb": peak_kb / 1024,
        "peak_rss_kb": rss,
        "documents": raw["documents"],
        "documents_with_text": raw["documents_with_text"],
        "config": raw["config"],
        "step_stats": raw["step_stats"],
        "checks": raw["checks"],
        "workdir": str(workdir),
    }


# ------------------------------------------------------------------------------------------- signature speed


def _best_of_rounds(repeat: int, fns: dict[str, Callable[[], object]]) -> tuple[dict[str, float], dict[str, object]]:
    """Fastest wall seconds of each function over ``repeat`` rounds, and its last result. Every round runs each
    function once, in turn, so a change in the machine's load during the measurement reaches all of them alike."""
    best = dict.fromkeys(fns, float("inf"))
    results: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, results


def signature_speed(texts: Sequence[str], num_perm: int = 128, seed: int = 1, ngram: int = 5, repeat: int = 3) -> dict:
    """Signatures per second on this core: datasketch's per-document ``MinHash.update`` loop vs lakeforge's
    batched ``MinHasher`` (numba), from raw text and from normalized text, with equal signatures checked.

    Timed (best of ``repeat`` rounds, each over all ``texts``):
      * ``datasketch_loop``: ``m = MinHash(num_perm, seed); for s in shingles(normalize(t), ngram): m.update(s)``;
      * ``lakeforge``: ``MinHasher(num_perm, seed, ngram).signatures(texts)`` after a warm-up call (its first call's
        seconds, numba compiling or loading its cache, are ``lakeforge_first_call_seconds``);
      * ``datasketch_loop_shingles``: the same loop over shingle lists made beforehand (no normalize, no shingling);
      * ``lakeforge_normalized``: ``signatures_of_normalized`` of texts normalized beforehand (shingling included:
        the kernel finds word boundaries itself);
      * ``normalize``: ``normalize`` alone; ``shingling``: ``shingles`` of the normalized texts alone;
      * ``datasketch_bulk``: datasketch's own batch API, ``MinHash.bulk`` of ``shingles(normalize(t), ngram)`` lists
        made inside the timing (from raw text, like ``lakeforge``), for reference.
    Returns ``methods`` (name → seconds, docs_per_s, shingles_per_s), ``speedups`` (lakeforge over each datasketch
    way), ``normalize_share`` (share of lakeforge's raw-text seconds spent in ``normalize``), ``identical`` (per
    datasketch way: its ``hashvalues`` equal lakeforge's rows), the 1-minute load average before and after, and the
    sizes. Raises ValueError for no texts.
    """
    if not texts:
        raise ValueError("signature_speed needs at least one text")
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    import numpy as np
    from datasketch import MinHash

    from curation.dedup.minhash import MinHasher
    from curation.dedup.text import normalize, shingles

    texts = list(texts)
    n_docs = len(texts)

    def datasketch_loop() -> np.ndarray:
        rows = []
        for t in texts:
            m = MinHash(num_perm=num_perm, seed=seed)
            for s in shingles(normalize(t), ngram):
                m.update(s)
            rows.append(m.hashvalues)
        return np.vstack(rows)

    normalized = [normalize(t) for t in texts]
    shingle_lists = [shingles(x, ngram) for x in normalized]
    n_shingles = sum(len(s) for s in shingle_lists)

    def datasketch_loop_shingles() -> np.ndarray:
        rows = []
        for sh in shingle_lists:
            m = MinHash(num_perm=num_perm, seed=seed)
            for s in sh:
                m.update(s)
            rows.append(m.hashvalues)
        return np.vstack(rows)

    def datasketch_bulk() -> np.ndarray:
        lists = [shingles(normalize(t), ngram) for t in texts]
        return np.vstack([m.hashvalues for m in MinHash.bulk(lists, num_perm=num_perm, seed=seed)])

    t0 = time.perf_counter()
    hasher = MinHasher(num_perm=num_perm, seed=seed, ngram=ngram)
    first = time.perf_counter()
    hasher.signatures(texts[:1])
    first_call_s = time.perf_counter() - first
    setup_s = first - t0
    second = time.perf_counter()
    hasher.signatures(texts[:1])
    second_call_s = time.perf_counter() - second

    timed = {
        "normalize": lambda: [normalize(t) for t in texts],
        "shingling": lambda: [shingles(x, ngram) for x in normalized],
        "datasketch_loop": datasketch_loop,
        "lakeforge": lambda: hasher.signatures(texts),
        "datasketch_loop_shingles": datasketch_loop_shingles,
        "lakeforge_normalized": lambda: hasher.signatures_of_normalized(normalized),
        "datasketch_bulk": datasketch_bulk,
    }
    load_before = os.getloadavg()[0]
    seconds, results = _best_of_rounds(repeat, timed)
    load_after = os.getloadavg()[0]
    sigs = {k: v for k, v in results.items() if k not in ("normalize", "shingling")}

    ref = sigs["lakeforge"].astype(np.uint64)
    identical = {n: bool(np.array_equal(s.astype(np.uint64), ref)) for n, s in sigs.items() if n != "lakeforge"}
    methods = {
        name: {"seconds": s, "docs_per_s": n_docs / s if s else None, "shingles_per_s": n_shingles / s if s else None}
        for name, s in seconds.items()
    }
    return {
        "docs": n_docs,
        "shingles": n_shingles,
        "chars": sum(len(t) for t in texts),
        "num_perm": num_perm,
        "seed": seed,
        "ngram": ngram,
        "repeat": repeat,
        "methods": methods,
        "speedups": {
            "raw_text": seconds["datasketch_loop"] / seconds["lakeforge"],
            "normalized": seconds["datasketch_loop_shingles"] / seconds["lakeforge_normalized"],
            "raw_text_vs_bulk": seconds["datasketch_bulk"] / seconds["lakeforge"],
        },
        "normalize_share": seconds["normalize"] / seconds["lakeforge"],
        "lakeforge_setup_seconds": setup_s,
        "lakeforge_first_call_seconds": first_call_s,
        "lakeforge_second_call_seconds": second_call_s,
        "identical": identical,
        "load_average_1min": [load_before, load_after],  # on a shared 2-core machine, > 1 means contention
    }
