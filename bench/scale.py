"""Scale bench: curate, dedup and tokenize at growing sizes; seconds, rate, peak memory, shuffle bytes, and a fit.

    .venv/bin/python -m bench.scale                      # curate 1k-64k docs, dedup 20k-1M docs, tokenize 10M-300M
    .venv/bin/python -m bench.scale --quick              # the smallest two sizes of each
    .venv/bin/python -m bench.scale --stages dedup --sizes-dedup 20000,100000 --no-peer --json
    .venv/bin/python -m bench.scale --smoke --json       # curate 200, dedup 1,000, tokenize what curate kept

Inputs come from :mod:`bench.corpus` (made once under ``bench/out/corpus``, reused):
  * **curate**: one WARC corpus per size (``build_warcs``, 2 files, ``--file-mb`` chosen so the corpus holds about
    n HTML responses: ``lakeforge curate`` has no document limit); n = the documents the job read.
  * **dedup**: the first n documents of the text corpus (``build_texts`` of the largest size, near-duplicates
    planted), written to one JSONL file and loaded with ``lakeforge import-text`` (not timed: it stands for the
    curate run that writes ``documents``), as bench/dedup.py does.
  * **tokenize**: text files of bench/tokens.py's sources (tinyshakespeare, wikitext2), paragraphs taken in turn
    until the text holds about n GPT-2 tokens (~4 bytes a token), loaded with ``import-text --split paragraphs``;
    n = the job's tokens less its end-of-document tokens.

Each size is a fresh lakehouse and one ``lakeforge <stage> --master local[2] --format json`` subprocess: seconds =
the job report's ``seconds`` (Spark start apart, as in the other benches); peak RSS of its process tree sampled
from /proc every 0.2 s (bench.tokens.JvmPythonRSS: the total, the driver JVM — local executors are its threads — and
the Python workers together); shuffle bytes = the sum of ``Shuffle Bytes Written`` over the ``SparkListenerTaskEnd``
events of Spark's event log (enabled for that run, uncompressed). The fit is least squares ``seconds = fixed +
per_item × n`` over the sizes. datatrove (its venv, bench/.venv-datatrove) runs the same inputs at the sizes the
issue names (curate ≤ 16k: bench/_datatrove_pipeline.py; dedup ≤ 300k: its 4-stage MinHash); ``--smoke`` uses it
only when already installed. Curate's *extraction-only bound* (bench/_extract_bound.py): ``trafilatura.extract``
alone over the same HTML responses, one process a file, 2 at a time. Tokenize's peer: raw ``encode_batch`` in one
process on the same paragraphs (bench/tokens.py's raw side). Dedup quality on the planted near-duplicates:
*precision* = removed documents that share a planted group with the document they were removed for; *recall* =
planted pairs with a document removed.

Output: a table, a log-log plot (``bench/out/scale/scale.png``; ``bench/out/smoke/scale/`` with ``--smoke``), the
goals met / not met, and with ``--json`` one JSON object as the last stdout line: ``{"curate": [{"n", "seconds",
"peak_rss_mib", …}, …], "dedup": […], "tokenize": […], "fits": …, "goals": …}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench._common import ROOT, json_from_stdout, lakeforge_command, lakeforge_env, log, out_dir
from bench._extract_bound import extraction_bound
from bench._peer import PEER_SKIPPED, ensure_peer_env, installed_peer_python
from bench._scale_fit import event_log_shuffle_bytes, fit_linear, linearity, rss_growth

STAGES = ("curate", "dedup", "tokenize")
SIZES = {
    "curate": [1_000, 4_000, 16_000, 64_000],
    "dedup": [20_000, 100_000, 300_000, 1_000_000],
    "tokenize": [10_000_000, 100_000_000, 300_000_000],
}
SMOKE_SIZES = {"curate": [200], "dedup": [1_000], "tokenize": [200_000]}  # one each: it only has to start
UNIT = {"curate": "docs", "dedup": "docs", "tokenize": "tokens"}
PEER_MAX = {"curate": 16_000, "dedup": 300_000}  # datatrove runs up to these sizes (its time allows no more)
MASTER = "local[2]"
WARC_FILES = 2
HTML_CAPTURE_BYTES = 22_200  # stored bytes per HTML response: 4 × 250 MB ≈ 45k (bench/README); 2 MB held 81
TOKEN_BYTES = 4.0  # bytes of text per GPT-2 token in bench/tokens.py's sources (3.5 MB, 870,111 tokens)
CURATE_GOAL, CURATE_GOAL_AT = 2.0, 16_000  # lakeforge ≥ 2× datatrove's docs/s at 16k
DEFAULT_THRESHOLD = 0.8  # conf/dedup.yaml
PARAGRAPHS = r"\n\s*\n"  # import-text --split paragraphs (Java regex; curation/spark/text_import.py)
TOKENIZE_GOAL, TOKENIZE_GOAL_FROM = 0.8, 100_000_000  # lakeforge ≥ 0.8× raw encode_batch at 100M tokens
BOUND_GOAL = 0.8  # curate ≥ 0.8× trafilatura alone in 2 processes on the same pages (bench/_extract_bound.py)
DEDUP_GOAL, DEDUP_GOAL_FROM = 1.5, 100_000  # lakeforge ≥ 1.5× datatrove at 100k and above, at ≥ P/R
MB = 1_000_000


# ------------------------------------------------------------------------------------------------ lakeforge runs
def lakeforge_step(stage: str, lake: Path, extra: list[str], events: Path | None = None) -> tuple[dict, object]:
    """``lakeforge <stage> … --format json`` under a process-tree RSS sampler, with Spark's event log in ``events``
    when given: (the job's report, the sampler)."""
    from bench.tokens import JvmPythonRSS

    argv = [*lakeforge_command(), stage, *extra, "--lakehouse", str(lake), "--master", MASTER, "--format", "json"]
    if events is not None:
        events.mkdir(parents=True)
        argv += ["--conf", "spark.eventLog.enabled=true", "--conf", f"spark.eventLog.dir={events.resolve().as_uri()}"]
        argv += ["--conf", "spark.eventLog.compress=false"]  # plain JSON lines (Spark 4 writes zstd by default)
    rss = JvmPythonRSS()
    proc = rss.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=lakeforge_env())
    if proc.returncode not in (0, 3):  # 3: finished with a warning (a file that did not reconcile)
        raise RuntimeError(f"lakeforge {stage} failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    return json_from_stdout(proc.stdout), rss


def measured(stage: str, lake: Path, extra: list[str], work: Path) -> tuple[dict, dict]:
    """One measured run: (report, the row's figures apart from n)."""
    report, rss = lakeforge_step(stage, lake, extra, work / "events")
    return report, {
        "seconds": float(report["seconds"]),
        "spark_start_seconds": report.get("spark_start_seconds"),
        "peak_rss_mib": rss.peak_mb,
        "driver_jvm_mib": rss.jvm_mb,
        "python_workers_mib": rss.python_mb,
        "shuffle_bytes": event_log_shuffle_bytes(work / "events"),
        "timings": report.get("timings", {}),
    }


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# ------------------------------------------------------------------------------------------------------- curate
def curate_corpus(n: int, smoke: bool) -> dict:
    """The WARC corpus of about ``n`` HTML responses (built once, reused)."""
    from bench.corpus import build_warcs, corpus_root

    file_mb = round(max(n * HTML_CAPTURE_BYTES / WARC_FILES / MB, 0.05), 3)
    return build_warcs(WARC_FILES, file_mb, out=corpus_root(smoke))


def run_curate(n: int, root: Path, peer: Path | None, smoke: bool, bound: bool = True) -> dict:
    corpus = curate_corpus(n, smoke)
    files = sorted(Path(corpus["folder"]).glob("corpus-*.warc.gz"))
    work = fresh(root / f"curate-{n}")
    extra = [x for f in files for x in ("--input", str(f))]
    report, row = measured("curate", work / "lakehouse", extra, work)
    t = report["totals"]
    row = {"n": t["documents"], "asked": n, **row, "kept": t["kept"]}
    if peer is not None and n <= PEER_MAX["curate"]:
        row["datatrove"] = datatrove_curate(peer, files, work / "datatrove")
    if bound:
        row["extraction_bound"] = extraction_bound(files)
    return row


def datatrove_curate(peer: Path, files: list[Path], work: Path) -> dict:
    """bench/_datatrove_pipeline.py over the same files (one task a file, 2 workers), as bench/curate.py runs it."""
    from bench.curate import PIPELINE, lid_model_path, parse_datatrove_stats
    from bench.tokens import JvmPythonRSS

    (work / "output").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the peer venv sees only its own packages
    env |= {"HF_HOME": str(work / "hf"), "HF_HUB_OFFLINE": "1", "TLDEXTRACT_CACHE": str(work / "tldextract")}
    cmd = [str(peer), "-m", PIPELINE, "--input", str(files[0].parent), "--glob", "corpus-*.warc.gz"]
    cmd += ["--output", str(work / "output"), "--logging", str(work / "logging"), "--tasks", str(len(files))]
    cmd += ["--workers", "2", "--lid-model", str(lid_model_path(peer))]
    rss = JvmPythonRSS()
    proc = rss.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"the datatrove pipeline failed (exit {proc.returncode}): {proc.stderr[-3000:]}")
    reader = parse_datatrove_stats(work / "logging" / "stats.json")[0]
    docs = reader["documents"] if reader["documents"] is not None else reader["total"]
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])["run_seconds"]
    return {"n": docs, "seconds": seconds, "per_s": docs / seconds, "peak_rss_mib": rss.peak_mb}


# -------------------------------------------------------------------------------------------------------- dedup
def planted_groups(truth: Path, n: int) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The planted near-duplicates among the first ``n`` texts: (id → its group's root id, the planted pairs)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    pairs = []
    for line in truth.read_text().splitlines():
        d = json.loads(line)
        if int(d["id"][1:]) < n:  # ids are t<k>: the first n documents; "of" is always earlier
            pairs.append((d["id"], d["of"]))
            parent.setdefault(d["id"], d["id"])
            parent.setdefault(d["of"], d["of"])
            parent[root(d["id"])] = root(d["of"])
    return {x: root(x) for x in parent}, pairs


def planted_quality(dup_of: dict[str, str], group: dict[str, str], pairs: list[tuple[str, str]]) -> dict:
    """Precision and recall of removals (removed id → the id it was removed for) on the planted near-duplicates."""
    right = sum(1 for a, b in dup_of.items() if a in group and group[a] == group.get(b))
    found = sum(1 for a, b in pairs if a in dup_of or b in dup_of)
    return {
        "removed": len(dup_of),
        "precision": right / len(dup_of) if dup_of else 1.0,
        "recall": found / len(pairs) if pairs else 1.0,
    }


def first_texts(folder: Path, n: int, path: Path) -> Path:
    """The first ``n`` documents of the text corpus's shards, as one JSONL file."""
    with open(path, "w", encoding="utf-8") as out:
        left = n
        for shard in sorted(folder.glob("texts-*.jsonl")):
            with open(shard, encoding="utf-8") as f:
                for line in f:
                    if left == 0:
                        return path
                    out.write(line)
                    left -= 1
    return path


def removed_for(lake: Path) -> dict[str, str]:
    """Corpus id of each document dedup removed → the corpus id it was removed for, read from the local
    ``documents`` table's live Parquet files in this process (a ``lakeforge sql`` would cost a JVM start per size).
    A text document's URL ends in ``#<corpus id>``."""

    from bench._delta import live_rows

    rows = live_rows(lake / "warehouse" / "lakeforge.db" / "documents", ["doc_id", "url", "dup_of"])
    url = {r["doc_id"]: r["url"].rpartition("#")[2] for r in rows}
    return {url[r["doc_id"]]: url[r["dup_of"]] for r in rows if r["dup_of"] is not None}


def run_dedup(n: int, texts: dict, root: Path, peer: Path | None, threshold: float | None = None) -> dict:
    """``threshold``: ``lakeforge dedup --set threshold=…`` (None: conf/dedup.yaml's, 0.8)."""
    from bench.dedup import datatrove_dup_of

    work = fresh(root / f"dedup-{n}")
    corpus = first_texts(Path(texts["folder"]), n, work / "texts.jsonl")
    lake = work / "lakehouse"
    lakeforge_step("import-text", lake, ["--input", str(corpus)])
    extra = [] if threshold is None else ["--set", f"threshold={threshold}"]
    report, row = measured("dedup", lake, extra, work)
    group, pairs = planted_groups(Path(texts["folder"]) / "near_duplicates.jsonl", n)
    quality = planted_quality(removed_for(lake), group, pairs)
    row = {"n": n, **row, **quality, "planted_pairs": len(pairs), "threshold": threshold or DEFAULT_THRESHOLD}
    if peer is not None and n <= PEER_MAX["dedup"]:
        from bench._dedup_peer import run_datatrove_minhash

        dt = run_datatrove_minhash(corpus, work / "datatrove", workers=2, python=peer)
        row["datatrove"] = {
            "n": dt["documents"],
            "seconds": dt["seconds"],
            "per_s": dt["documents"] / dt["seconds"],
            "peak_rss_mib": dt["peak_rss_mb"],  # its largest process (workers run one at a time per task)
            **planted_quality(datatrove_dup_of(dt), group, pairs),
        }
    return row


# ----------------------------------------------------------------------------------------------------- tokenize
def token_texts(folder: Path, tokens: int) -> int:
    """Text files of bench/tokens.py's sources, paragraphs in turn (copy k gets its own file names, so its
    paragraphs are new documents), until they hold about ``tokens`` tokens; returns the bytes written."""
    import re

    from bench.tokens import SOURCES

    paras = {name: [t for t in re.split(r"\n\s*\n", p.read_text("utf-8")) if t.strip()] for name, p in SOURCES.items()}
    want, written, copy = int(tokens * TOKEN_BYTES), 0, 0
    while written < want:
        copy += 1
        for name, pieces in paras.items():
            take = []
            for t in pieces:
                if written >= want:
                    break
                take.append(t)
                written += len(t.encode("utf-8")) + 2
            if take:
                (folder / f"c{copy:04d}-{name}.txt").write_text("\n\n".join(take) + "\n", "utf-8")
    return written


def run_tokenize(n: int, root: Path, curated: Path | None = None) -> dict:
    """Tokenize about ``n`` tokens of imported text; or, with ``curated`` (``--smoke``: an import is a JVM start
    more per size), a copy of that curate run's lakehouse, whatever tokens its documents hold."""
    from bench.tokens import DEFAULT_BATCH as RAW_BATCH
    from bench.tokens import TOKENIZER, run_raw

    work = fresh(root / f"tokenize-{n}")
    lake = work / "lakehouse"
    if curated is not None:
        shutil.copytree(curated, lake)
    else:
        texts = fresh(work / "texts")
        token_texts(texts, n)
        files = [x for f in sorted(texts.iterdir()) for x in ("--input", str(f))]
        lakeforge_step("import-text", lake, [*files, "--split", "paragraphs"])
    report, row = measured("tokenize", lake, ["--name", "scale", "--tokenizer", str(TOKENIZER)], work)
    out = {"n": report["tokens"] - report["documents"], "asked": None, **row, "documents": report["documents"]}
    if curated is None:
        out["asked"] = n
        # the peer of tokenize: raw encode_batch in one process on the same paragraphs (bench/tokens.py's raw side)
        raw = run_raw("encode_batch", texts, PARAGRAPHS, str(TOKENIZER), RAW_BATCH)
        out["raw"] = {"n": raw["tokens"], "seconds": raw["seconds"], "peak_rss_mib": raw["peak_rss_mb"]}
        out["raw"]["per_s"] = raw["tokens"] / raw["seconds"]
        shutil.rmtree(texts)  # the shards stay for a look; the text is made again on the next run
    return out


# --------------------------------------------------------------------------------------------------- the figures
def summarize(stage: str, rows: list[dict]) -> tuple[dict, list[dict]]:
    """The stage's fit and its goals (lakeforge's own; those against datatrove where it ran)."""
    for r in rows:
        r["per_s"] = r["n"] / r["seconds"]
    if len(rows) < 2:  # --smoke measures one size a stage: no line, no growth to judge
        fit = {"sizes": len(rows)}
        goals = [
            {"stage": stage, "goal": g, "met": None, "figure": "one size"}
            for g in ("per-item cost within ±15% from the second size on", "peak RSS largest/smallest ≤ 1.5×")
        ]
    else:
        fit = fit_linear([r["n"] for r in rows], [r["seconds"] for r in rows])
        lin, mem = linearity(fit), rss_growth([r["peak_rss_mib"] for r in rows])
        goals = [
            {
                "stage": stage,
                "goal": "per-item cost within ±15% from the second size on",
                **lin,
                "figure": "2 sizes: the line passes through both"
                if lin["met"] is None
                else f"worst {lin['worst_deviation']:+.0%}",
            },
            {"stage": stage, "goal": "peak RSS largest/smallest ≤ 1.5×", **mem, "figure": f"{mem['ratio']:.2f}×"},
        ]
    bounded = [r for r in rows if "extraction_bound" in r]
    if stage == "curate" and bounded:
        r = max(bounded, key=lambda r: r["n"])
        ratio = r["per_s"] / r["extraction_bound"]["per_s"]
        goals.append(
            {
                "stage": stage,
                "goal": f"≥ {BOUND_GOAL}× the extraction-only bound",
                "met": ratio >= BOUND_GOAL,
                "figure": f"{ratio:.2f}× at {r['n']:,} docs ({r['extraction_bound']['per_s']:.1f} docs/s alone)",
            }
        )
    for r in (r for r in rows if stage == "tokenize" and "raw" in r):
        ratio = r["per_s"] / r["raw"]["per_s"]
        goals.append(
            {
                "stage": stage,
                "goal": f"≥ {TOKENIZE_GOAL}× raw encode_batch from 100M tokens",
                "met": ratio >= TOKENIZE_GOAL if r["n"] >= TOKENIZE_GOAL_FROM * 0.95 else None,
                "figure": f"{ratio:.2f}× at {r['n']:,} ({r['raw']['per_s']:,.0f} tokens/s raw)",
            }
        )
    both = [r for r in rows if "datatrove" in r]
    if stage == "curate" and both:
        r = max(both, key=lambda r: r["n"])
        ratio = r["per_s"] / r["datatrove"]["per_s"]
        at = f"at {r['n']:,} docs" + ("" if r["asked"] >= CURATE_GOAL_AT else f"; judged at {CURATE_GOAL_AT:,}")
        met = ratio >= CURATE_GOAL if r["asked"] >= CURATE_GOAL_AT else None
        goals.append(
            {"stage": stage, "goal": "≥ 2× datatrove docs/s at 16k", "met": met, "figure": f"{ratio:.2f}× {at}"}
        )
    if stage == "dedup" and both:
        for r in both:
            dt, judged = r["datatrove"], r["n"] >= DEDUP_GOAL_FROM
            ratio = r["per_s"] / dt["per_s"]
            qual = r["precision"] >= dt["precision"] and r["recall"] >= dt["recall"]
            pr = f"P/R {r['precision']:.3f}/{r['recall']:.3f} vs {dt['precision']:.3f}/{dt['recall']:.3f}"
            fig = f"{ratio:.2f}× at {r['n']:,}, {pr}"
            goals.append(
                {
                    "stage": stage,
                    "goal": "≥ 1.5× datatrove from 100k at ≥ P/R",
                    "met": (ratio >= DEDUP_GOAL and qual) if judged else None,
                    "figure": fig,
                }
            )
            goals.append(
                {
                    "stage": stage,
                    "goal": "peak RSS ≤ datatrove's",
                    "met": r["peak_rss_mib"] <= dt["peak_rss_mib"],
                    "figure": f"{r['peak_rss_mib']:,.0f} vs {dt['peak_rss_mib']:,.0f} MiB at {r['n']:,}",
                }
            )
    return fit, goals


PEER_LINES = (("datatrove", "datatrove"), ("raw", "raw encode_batch"), ("extraction_bound", "extract only"))


def plot(out: dict, path: Path) -> None:
    """Log-log seconds against n: one line per stage and side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    for stage in STAGES:
        rows = out.get(stage) or []
        if rows:
            ax.plot([r["n"] for r in rows], [r["seconds"] for r in rows], "o-", label=f"{stage} lakeforge")
        for key, label in PEER_LINES:
            peer = [r[key] for r in rows if key in r]
            if peer:
                ax.plot([d["n"] for d in peer], [d["seconds"] for d in peer], "s--", label=f"{stage} {label}")
    ax.set(xscale="log", yscale="log", xlabel="n (documents; tokens for tokenize)", ylabel="seconds (job)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_report(out: dict) -> str:
    head = ("stage", "side", "n", "seconds", "items/s", "peak MiB", "JVM MiB", "Py MiB", "shuffle MiB", "P / R")
    rows = [head]
    for stage in STAGES:
        for r in out.get(stage) or []:
            pr = f"{r['precision']:.3f} / {r['recall']:.3f}" if "precision" in r else "-"
            rows.append(
                (
                    stage,
                    "lakeforge",
                    f"{r['n']:,}",
                    f"{r['seconds']:.1f}",
                    f"{r['per_s']:,.0f}",
                    f"{r['peak_rss_mib']:,.0f}",
                    f"{r['driver_jvm_mib']:,.0f}",
                    f"{r['python_workers_mib']:,.0f}",
                    f"{r['shuffle_bytes'] / 2**20:,.1f}",
                    pr,
                )
            )
            if b := r.get("raw"):
                rows.append(
                    (stage, "raw encode_batch", f"{b['n']:,}", f"{b['seconds']:.1f}", f"{b['per_s']:,.0f}")
                    + (f"{b['peak_rss_mib']:,.0f}", "-", "-", "-", "-")
                )
            if b := r.get("extraction_bound"):
                rows.append(
                    (stage, "extract only", f"{b['n']:,}", f"{b['seconds']:.1f}", f"{b['per_s']:,.0f}", *"-----")
                )
            if d := r.get("datatrove"):
                pr = f"{d['precision']:.3f} / {d['recall']:.3f}" if "precision" in d else "-"
                rows.append(
                    (
                        stage,
                        "datatrove",
                        f"{d['n']:,}",
                        f"{d['seconds']:.1f}",
                        f"{d['per_s']:,.0f}",
                        f"{d['peak_rss_mib']:,.0f}",
                        "-",
                        "-",
                        "-",
                        pr,
                    )
                )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    lines = [
        "  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    for stage, f in out["fits"].items():
        if f["sizes"] < 2:
            lines.append(f"fit {stage}: one size, no fit")
            continue
        lines.append(
            f"fit {stage}: {f['fixed_seconds']:.2f} s fixed + {f['per_item_seconds'] * 1e3:.4f} ms per "
            f"{UNIT[stage][:-1]}; per size " + ", ".join(f"{c * 1e3:.4f}" for c in f["per_item_by_size"])
        )
    for g in out["goals"]:
        verdict = {True: "met", False: "NOT met", None: "not judged"}[g["met"]]
        lines.append(f"goal {g['stage']}: {g['goal']} — {verdict} ({g['figure']})")
    if "datatrove_skipped" in out:
        lines.append(out["datatrove_skipped"])
    lines.append(f"plot: {out['plot']}")
    return "\n".join(lines)


def parse_sizes(text: str) -> list[int]:
    sizes = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    if not sizes or sizes != sorted(set(sizes)) or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"sizes increasing and positive, got {text!r}")
    return sizes


def previous_rows(path: Path, stages: list[str], sizes: dict[str, list[int]], threshold: float | None) -> dict:
    """An earlier run's rows (its ``--json`` log or JSON file) at the sizes this run does not measure, marked with
    the file they came from: a large size can be added to a measured curve without measuring the others again."""
    from bench._common import json_from_stdout

    before = json_from_stdout(path.read_text())
    if before.get("smoke") or ("dedup" in stages and before.get("dedup_threshold") != threshold):
        raise SystemExit(f"--previous {path}: measured with other settings (smoke or dedup threshold)")
    kept = {}
    for stage in stages:
        rows = [r for r in before.get(stage, []) if r.get("asked", r["n"]) not in sizes[stage]]
        kept[stage] = [{**r, "previous": path.name} for r in rows]
    return kept


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    p.add_argument("--stages", default=",".join(STAGES), help="comma-separated, of: " + ", ".join(STAGES))
    for stage in STAGES:
        p.add_argument(f"--sizes-{stage}", type=parse_sizes, default=None, help=f"{UNIT[stage]}, comma-separated")
    p.add_argument("--quick", action="store_true", help="the smallest two sizes of each stage")
    p.add_argument(
        "--dedup-threshold",
        type=float,
        default=None,
        help="lakeforge dedup's Jaccard threshold (default conf/dedup.yaml's 0.8; datatrove's 14×8 LSH is at ~0.69)",
    )
    p.add_argument("--no-peer", action="store_true", help="skip the datatrove side")
    p.add_argument("--no-bound", action="store_true", help="skip curate's extraction-only bound (trafilatura alone)")
    p.add_argument("--json", action="store_true", help="the figures as JSON too (last line of stdout)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes in bench/out/smoke; datatrove only if installed")
    p.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="an earlier run's --json output: its rows at the sizes not measured now join this run's table and fit",
    )
    args = p.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    if unknown := set(stages) - set(STAGES):
        p.error(f"unknown stage(s) {', '.join(sorted(unknown))}; choose from {', '.join(STAGES)}")
    sizes = {s: getattr(args, f"sizes_{s}") or (SMOKE_SIZES if args.smoke else SIZES)[s] for s in stages}
    if args.quick:
        sizes = {s: v[:2] for s, v in sizes.items()}
    before = previous_rows(args.previous, stages, sizes, args.dedup_threshold) if args.previous else {}
    if not args.smoke and (short := [s for s in stages if len(sizes[s]) + len(before.get(s, [])) < 2]):
        p.error(f"a fit needs two sizes or more: {', '.join(short)} (more --sizes-…, or --previous)")
    root = out_dir(args.smoke) / "scale"
    root.mkdir(parents=True, exist_ok=True)

    out: dict = {"smoke": args.smoke, "master": MASTER, "sizes": sizes, "dedup_threshold": args.dedup_threshold}
    peer = None
    if not args.no_peer and any(v[0] <= PEER_MAX.get(s, 0) for s, v in sizes.items()):
        peer = installed_peer_python() if args.smoke else ensure_peer_env()
        if peer is None:  # said once, in the report
            out["datatrove_skipped"] = PEER_SKIPPED
    if "dedup" in stages:
        from bench.corpus import build_texts, corpus_root

        texts = build_texts(sizes["dedup"][-1], out=corpus_root(args.smoke))
    for stage in stages:
        rows = []
        for n in sizes[stage]:
            log(f"{stage} at {n:,} {UNIT[stage]}")
            if stage == "curate":
                rows.append(run_curate(n, root, peer, args.smoke, bound=not args.no_bound))
            elif stage == "dedup":
                rows.append(run_dedup(n, texts, root, peer, args.dedup_threshold))
            else:  # --smoke after curate: tokenize what curate wrote (no import: one JVM start less per size)
                i = sizes[stage].index(n)
                curated = None
                if args.smoke and "curate" in out and i < len(sizes["curate"]):
                    curated = root / f"curate-{sizes['curate'][i]}" / "lakehouse"
                rows.append(run_tokenize(n, root, curated))
            log(f"  {rows[-1]['n']:,} {UNIT[stage]}: {rows[-1]['seconds']:.1f}s, {rows[-1]['peak_rss_mib']:,.0f} MiB")
        out[stage] = sorted(before.get(stage, []) + rows, key=lambda r: r["n"])
    out["fits"], out["goals"] = {}, []
    for stage in stages:
        out["fits"][stage], goals = summarize(stage, out[stage])
        out["goals"] += goals
    out["plot"] = str(root / "scale.png")
    plot(out, root / "scale.png")
    print(format_report(out))
    if args.json:
        print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
