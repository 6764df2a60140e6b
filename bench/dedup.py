"""Dedup benchmark: MinHash signature speed vs datasketch, and end-to-end dedup vs datatrove's MinHash pipeline.

    .venv/bin/python -m bench.dedup [--seed S] [--limit N] [--copies K] [--skip-datatrove] [--json]
    .venv/bin/python -m bench.dedup --smoke      # 20 originals and their copies: every step, in seconds

Input: the evaluation corpus of ``eval/dedup.py`` (real text — wikitext2, tinyshakespeare, PAN Indonesian — plus
edited copies: insertions, deletions, substitutions, reorderings, cosmetic changes), written to
``bench/out/dedup/corpus-….jsonl`` (``id``, ``text``; ``bench/out/smoke/dedup/`` with ``--smoke``). ``--copies K``
repeats the corpus K times with new ids and a token changed per paragraph in copies ≥ 2 (so they are near, not exact,
duplicates of the first) for timings on more documents; P/R are computed for K = 1 only (the ground truth is the
eval's).

(a) **Signatures/s**, one core, same texts, same signatures (checked): datasketch 2.0.0's per-document
    ``MinHash.update`` loop over ``shingles(normalize(text))`` vs ``MinHasher.signatures`` (numba kernels), both from
    raw text; also both from pre-normalized shingles, and datasketch's ``MinHash.bulk``.
(b) **End to end**, same corpus, 2 cores each:
    * datatrove 0.10.1, its 4-stage MinHash (signatures → buckets → cluster → filter) with its defaults (14 × 8,
      word 5-grams, spaCy tokenizer) on a ``LocalPipelineExecutor`` with 2 workers, in its own venv
      (bench/.venv-datatrove). Seconds = the four ``executor.run()`` calls.
    * lakeforge: ``lakeforge import-text`` into a fresh lakehouse, then ``lakeforge dedup --format json`` with
      ``--master local[2]``; seconds = the dedup report's ``seconds`` (Spark session start apart, as datatrove's
      interpreter start is apart). The import is timed apart: it stands for the curate run that writes
      ``documents`` in a real pipeline.
    Peak memory: the largest total RSS of each side's process tree, sampled every 0.2 s from /proc (driver JVM +
    Python workers for lakeforge; main process + workers for datatrove).
    Quality, on the eval's ground truth (pairs with shingle Jaccard ≥ 0.8): *decision precision* = removed documents
    whose Jaccard with the document they were removed for (lakeforge: ``dup_of``; datatrove: its cluster's kept
    member) is ≥ 0.8; *decision recall* = true pairs of which at least one document was removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench._common import ROOT, lakeforge_command, lakeforge_env, log, out_dir
from bench._dedup_peer import run_datatrove_minhash, signature_speed
from bench._peer import PEER_SKIPPED, ensure_peer_env, installed_peer_python

THRESHOLD = 0.8
SMOKE_LIMIT = 20  # --smoke: originals sampled (their edited copies come with them)


class TreeRSS:
    """Peak RSS (MiB) of a process tree while the block runs, sampled from /proc: the whole tree, the JVM (Spark's
    driver; in local mode its executors are threads of it) and the Python processes under it (executor workers)."""

    def __init__(self, every_s: float = 0.2):
        self.every_s, self.pid = every_s, None
        self.peak_mb = self.jvm_mb = self.python_mb = 0.0
        self._stop = threading.Event()

    @staticmethod
    def _children() -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {}
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                kids.setdefault(ppid, []).append(int(p.name))
        return kids

    def _sample(self) -> None:
        kids, todo = self._children(), [self.pid]
        total = jvm = python = 0
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            name = next((x.split()[1] for x in status if x.startswith("Name:")), "")
            rss = next((int(x.split()[1]) for x in status if x.startswith("VmRSS:")), 0)
            total += rss
            if name == "java":
                jvm += rss
            elif name.startswith("python") and pid != self.pid:
                python += rss
            todo += kids.get(pid, [])
        self.peak_mb = max(self.peak_mb, total / 1024)
        self.jvm_mb = max(self.jvm_mb, jvm / 1024)
        self.python_mb = max(self.python_mb, python / 1024)

    @contextlib.contextmanager
    def watching(self, pid: int):
        """Sample the tree under ``pid`` while the block runs (``pid`` itself counts in the total only)."""
        self.pid = pid

        def loop():
            while not self._stop.wait(self.every_s):
                self._sample()

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        try:
            yield self
        finally:
            self._stop.set()
            t.join()
            self._sample()

    def run(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        proc = subprocess.Popen(cmd, **kw)
        with self.watching(proc.pid):
            out, err = proc.communicate()
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def make_corpus(seed: int, limit: int | None, copies: int, folder: Path) -> tuple[list, Path]:
    from eval.dedup import Doc, build_corpus, write_corpus

    docs = build_corpus(seed=seed, limit=limit)
    out = list(docs)
    rng = random.Random(seed)
    for k in range(2, copies + 1):
        for d in docs:
            paras = d.text.split("\n")
            for i, p in enumerate(paras):
                words = p.split(" ")
                if len(words) > 3:
                    words[rng.randrange(len(words))] = f"v{k}"
                    paras[i] = " ".join(words)
            out.append(Doc(f"{d.id}~{k}", "\n".join(paras), d.source, d.id, f"copy{k}"))
    path = folder / f"corpus-s{seed}-l{limit}-k{copies}.jsonl"
    write_corpus(out, path)
    return out, path


def decisions(truth, dup_of: dict[str, str]) -> dict:
    """Decision precision / recall (see the module docstring) of ``dup_of`` (removed id → the id it was removed for)."""
    pairs = list(dup_of.items())
    sims = truth.jaccards(pairs) if pairs else []
    justified = sum(1 for s in sims if s >= truth.threshold)
    handled = sum(1 for a, b in truth.pairs if a in dup_of or b in dup_of)
    return {
        "removed": len(pairs),
        "precision": justified / len(pairs) if pairs else 1.0,
        "recall": handled / len(truth.pairs) if truth.pairs else 1.0,
        "true_pairs": len(truth.pairs),
    }


def datatrove_dup_of(result: dict) -> dict[str, str]:
    """datatrove keeps one member per cluster and removes the rest: each removed doc → its cluster's kept member."""
    kept: dict[int, str] = {}
    for i, c in result["clusters"].items():
        if c is not None and i not in result["removed"]:
            kept[c] = i
    return {i: kept[result["clusters"][i]] for i in result["removed"] if result["clusters"][i] in kept}


def run_lakeforge(corpus: Path, work: Path) -> dict:
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    lake = str(work / "lakehouse")
    common = ["--lakehouse", lake, "--master", "local[2]", "--format", "json"]
    lakeforge, env = lakeforge_command(), lakeforge_env()
    t0 = time.perf_counter()
    imp = subprocess.run(
        [*lakeforge, "import-text", "--input", str(corpus), *common], capture_output=True, text=True, cwd=ROOT, env=env
    )
    if imp.returncode != 0:
        raise RuntimeError(f"lakeforge import-text failed: {imp.stderr[-2000:]}")
    import_wall = time.perf_counter() - t0
    rss = TreeRSS()
    t0 = time.perf_counter()
    proc = rss.run(
        [*lakeforge, "dedup", *common], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"lakeforge dedup failed: {proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    query = (
        "SELECT regexp_extract(url, '#(.*)$', 1) AS id, "
        "regexp_extract(d.dup_of_url, '#(.*)$', 1) AS dup_of FROM (SELECT a.url, b.url AS dup_of_url "
        "FROM documents a JOIN documents b ON a.dup_of = b.doc_id) d"
    )
    rows = subprocess.run(
        [*lakeforge, "sql", "--lakehouse", lake, "--master", "local[2]", "--format", "json", "--limit", "0", query],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    )
    if rows.returncode != 0:
        raise RuntimeError(f"lakeforge sql failed: {rows.stderr[-2000:]}")
    dup_of = {r["id"]: r["dup_of"] for r in json.loads(rows.stdout)}
    return {
        "seconds": report["seconds"],
        "spark_start_seconds": report["spark_start_seconds"],
        "process_seconds": wall,
        "import_seconds": import_wall,
        "timings": report["timings"],
        "details": report["details"],
        "peak_rss_mb": rss.peak_mb,
        "driver_jvm_peak_mb": rss.jvm_mb,
        "python_workers_peak_mb": rss.python_mb,
        "removed": len(dup_of),
        "dup_of": dup_of,
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="originals to sample (default: all)")
    p.add_argument("--copies", type=int, default=1, help="repeat the corpus K times for timings (P/R at K = 1)")
    p.add_argument("--skip-datatrove", action="store_true")
    p.add_argument("--json", action="store_true", help="the figures as JSON too (last line of stdout)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"a check of every step: {SMOKE_LIMIT} originals (--limit) and their edited copies, in "
        "bench/out/smoke; the datatrove side only where its venv is installed",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.limit = args.limit or SMOKE_LIMIT
    out_root = out_dir(args.smoke) / "dedup"

    from eval.dedup import ground_truth

    docs, corpus = make_corpus(args.seed, args.limit, args.copies, out_root)
    words = sum(len(d.text.split()) for d in docs)
    log(f"corpus: {len(docs):,} documents, {words / len(docs):.0f} words each on average ({corpus})")
    out: dict = {"corpus": {"documents": len(docs), "mean_words": round(words / len(docs), 1), "path": str(corpus)}}
    out["smoke"] = args.smoke

    log("(a) signature speed, one core")
    speed = signature_speed([d.text for d in docs], repeat=1 if len(docs) > 5000 else 2)
    out["signatures"] = {k: v for k, v in speed.items() if k != "signatures"}

    truth = ground_truth(docs, threshold=THRESHOLD) if args.copies == 1 else None
    log("(b) lakeforge import-text + dedup, local[2]")
    lf = run_lakeforge(corpus, out_root / "lakeforge")
    out["lakeforge"] = {k: v for k, v in lf.items() if k != "dup_of"}
    if truth:
        out["lakeforge"]["quality"] = decisions(truth, lf["dup_of"])
    peer = None
    if not args.skip_datatrove:
        peer = installed_peer_python() if args.smoke else ensure_peer_env()
        if peer is None:
            print(PEER_SKIPPED)
            out["datatrove_skipped"] = PEER_SKIPPED
    if peer is not None:
        log("(b) datatrove 4-stage MinHash, 2 workers")
        dt = run_datatrove_minhash(corpus, out_root / "datatrove", workers=2, python=peer)
        out["datatrove"] = {k: dt[k] for k in ("seconds", "stage_seconds", "import_seconds", "process_seconds")}
        out["datatrove"]["peak_rss_mb"] = dt["peak_rss_mb"]
        out["datatrove"]["removed"] = len(dt["removed"])
        if truth:
            out["datatrove"]["quality"] = decisions(truth, datatrove_dup_of(dt))

    print(format_report(out))
    if args.json:
        print(json.dumps(out, default=str))
    return 0


def format_report(out: dict) -> str:
    s = out["signatures"]
    m = s["methods"]
    lines = [
        f"corpus: {out['corpus']['documents']:,} documents, {out['corpus']['mean_words']:.0f} words on average",
        "",
    ]
    lines.append("(a) MinHash signatures, one core, identical signatures: " + str(all(s["identical"].values())))
    lines.append(f"  {'method':<28} {'docs/s':>10} {'shingles/s':>12}")
    for name, v in m.items():
        lines.append(f"  {name:<28} {v['docs_per_s']:>10,.0f} {v.get('shingles_per_s', 0):>12,.0f}")
    lines.append("  speedups: " + ", ".join(f"{k} {v:.1f}×" for k, v in s["speedups"].items()))
    lines.append("")
    lines.append("(b) end to end, 2 cores")
    lines.append(f"  {'system':<12} {'seconds':>8} {'peak RSS MiB':>13} {'removed':>8} {'precision':>10} {'recall':>8}")
    for name in ("lakeforge", "datatrove"):
        if name not in out:
            continue
        r = out[name]
        q = r.get("quality") or {}
        removed = q.get("removed", r.get("removed", 0))
        prec = f"{q['precision']:.4f}" if q else "-"
        rec = f"{q['recall']:.4f}" if q else "-"
        lines.append(f"  {name:<12} {r['seconds']:>8.1f} {r['peak_rss_mb']:>13,.0f} {removed:>8,} {prec:>10} {rec:>8}")
    if "lakeforge" in out and "datatrove" in out:
        ratio = out["datatrove"]["seconds"] / out["lakeforge"]["seconds"]
        lines.append(f"  lakeforge is {ratio:.2f}× datatrove's speed (goal ≥ 1.5× at equal or better P/R)")
    lf = out.get("lakeforge")
    if lf:
        lines.append(
            "  lakeforge steps: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in lf["timings"].items())
            + f"; Spark start {lf['spark_start_seconds']:.1f}s, import {lf['import_seconds']:.1f}s"
        )
        d = lf["details"]
        lines.append(
            f"  lakeforge: {d.get('banding')}; {d.get('candidate_pairs', 0):,} candidate pairs, "
            f"{d.get('edges', 0):,} edges, {d.get('components_iterations')} component rounds"
        )
    if lf:
        lines.append(
            f"  lakeforge memory: driver JVM (local executors inside) {lf.get('driver_jvm_peak_mb', 0):,.0f} MiB, "
            f"Python executor workers together {lf.get('python_workers_peak_mb', 0):,.0f} MiB (peaks)"
        )
    if "datatrove" in out:
        dt = out["datatrove"]
        lines.append("  datatrove stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in dt["stage_seconds"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
