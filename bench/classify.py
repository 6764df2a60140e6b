"""Classifier scoring throughput: lakeforge's Spark scoring (``add_scores``) vs direct fastText in one process.

    .venv/bin/python -m bench.classify [--copies N] [--long] [--master M] [--runs R] [--retrain] [--json]
    .venv/bin/python -m bench.classify --smoke   # a model of 1,000 tweets, 300 documents, 1 Spark run (bench/out/smoke)

Model: a toxicity classifier trained here, in-process (no Spark), with ``curation.classify.train`` and the settings
of conf/classifiers/toxicity.yaml (lr 0.2, epoch 10, dim 50, word bigrams, char 3-6-grams, 100k buckets, seed 0) on
../shared/data/toxicity/davidson/labeled_data.csv (``tweet``; ``class`` 0, 1 → toxic, 2 → clean; fitted only on
tweets whose annotators agreed). It is saved as ``bench/out/classify/model-<training hash>.bin`` and reused while
the examples and settings stay the same (``--retrain`` fits it again).

Input: the Davidson tweets (19,825) repeated ``--copies`` times (default 5, ~99k documents), or with ``--long`` the
paragraphs of ../shared/data/corpora/wikitext2_partial/valid.txt (web-like, longer) repeated the same way; every
document has language ``en`` (the model's). The same list feeds every side, in the same order.

Compared, over exactly the same texts:
  1. Scorer.scores        ``curation.classify.model.Scorer(ref).scores(texts, langs)`` in this process: normalize,
                          then ``predict`` in batches of 512 — what each Spark task does with its Arrow batch.
                          Runs before and after the Spark side; the faster run is the baseline.
  2. raw predict          ``model.predict(normalized_texts, k=-1)`` in one call on pre-normalized texts (the
                          normalization not timed): a lower bound on the work, for reference.
  3. Spark add_scores     ``curation.spark.session.build_session`` with ``--master`` (default local[*]); the texts
                          written beforehand (not timed) as parquet, in 2 files per core; timed: read that parquet,
                          ``curation.spark.classify.add_scores`` (ships the model, a pandas_udf per Arrow batch),
                          write ``doc_id, toxicity_score, toxicity_model`` as parquet. Run ``--runs`` times (default
                          2) in one session: run 1 includes starting the Python workers and loading the model in
                          each. Session start is reported apart and in no rate.

Check: the Spark scores, read back by ``doc_id``, must equal the Scorer's exactly (both are rounded to 6 decimals;
None ↔ null), and raw predict's probabilities must equal them too. PASS/FAIL is printed; exit status 1 on FAIL.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

from bench._common import ROOT, SHARED, log, out_dir

LABELS = SHARED / "toxicity" / "davidson" / "labeled_data.csv"
WIKITEXT = SHARED / "corpora" / "wikitext2_partial" / "valid.txt"
NAME = "toxicity"
DEFAULT_COPIES = 5
SMOKE_TRAIN = 1000  # --smoke: the model is fitted on the first 1,000 tweets (same settings)
SMOKE_DOCUMENTS = 300  # and scores the first 300 documents


# ---------------------------------------------------------------------------------------------------- model
def settings():
    """conf/classifiers/toxicity.yaml's model section, as ClassifierSettings."""
    from curation.classify.train import ClassifierSettings, FastTextSettings, SplitSettings

    return ClassifierSettings(
        positive_label="toxic",
        negative_label="clean",
        languages=("en",),
        max_chars=20_000,
        target="macro_f1",
        fasttext=FastTextSettings(
            lr=0.2, epoch=10, dim=50, word_ngrams=2, minn=3, maxn=6, min_count=1, bucket=100_000, seed=0
        ),
        split=SplitSettings(seed=0, validation=0.1, test=0.1),
    )


def read_tweets() -> list[dict]:
    with open(LABELS, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def train_model(rows: list[dict], retrain: bool, out: Path):
    """(ModelRef, facts): the toxicity model, fitted here unless a file for the same training hash exists."""
    import tempfile

    from curation.classify import train as tr
    from curation.classify.model import ModelRef, file_sha256

    cfg = settings()
    raw = []
    for r in rows:
        cls = r["class"].strip()
        positive = True if cls in ("0", "1") else False if cls == "2" else None
        neither, count = int(r["neither"]), int(r["count"])
        raw.append((r["tweet"], positive, None, neither == 0 or neither == count))  # train_where of the yaml
    dataset = tr.prepare(raw, cfg)
    digest = tr.training_hash(dataset, cfg)
    path = out / f"model-{digest}.bin"
    fit_s = None
    if retrain or not path.is_file():
        log(f"training the toxicity model on {len(dataset.split('train', True)):,} tweets (one thread)")
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out) as work:
            t0 = time.perf_counter()
            model = tr.fit(dataset, cfg, work)
            fit_s = time.perf_counter() - t0
            tmp = Path(work) / "model.bin"
            model.save_model(str(tmp))
            os.replace(tmp, path)
        log(f"  fitted in {fit_s:.1f}s → {path.relative_to(ROOT)}")
    else:
        log(f"reusing {path.relative_to(ROOT)} (same examples and settings; --retrain to fit again)")
    ref = ModelRef(
        name=NAME,
        version=1,
        path=str(path),
        sha256=file_sha256(path),
        positive_label=cfg.positive_label,
        languages=cfg.languages,
        max_chars=cfg.max_chars,
    )
    facts = {"path": str(path), "training_hash": digest, "size_bytes": path.stat().st_size, "fit_seconds": fit_s}
    return ref, facts


# ---------------------------------------------------------------------------------------------------- inputs
def documents(rows: list[dict], copies: int, long: bool) -> tuple[list[str], str]:
    if long:
        text = WIKITEXT.read_text(encoding="utf-8")
        base = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip() and not p.strip().startswith("= ")]
        what = f"wikitext-2 valid paragraphs ({len(base):,}) × {copies}"
    else:
        base = [r["tweet"] for r in rows]
        what = f"Davidson tweets ({len(base):,}) × {copies}"
    return base * copies, what


def write_input(texts: list[str], path: Path, files: int) -> None:
    """(doc_id, text, language) as ``files`` parquet files, so every core gets a task."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    n = len(texts)
    step = -(-n // files)
    for k, start in enumerate(range(0, n, step)):
        chunk = texts[start : start + step]
        table = pa.table(
            {
                "doc_id": pa.array(range(start, start + len(chunk)), pa.int64()),
                "text": pa.array(chunk, pa.string()),
                "language": pa.array(["en"] * len(chunk), pa.string()),
            }
        )
        pq.write_table(table, path / f"part-{k:03d}.parquet")


# ---------------------------------------------------------------------------------------------------- sides
def direct_scorer(ref, texts: list[str]) -> tuple[list, float]:
    from curation.classify.model import Scorer

    scorer = Scorer(ref)  # loading the model is not timed (Spark's workers load it once too)
    langs = ["en"] * len(texts)
    t0 = time.perf_counter()
    scores = scorer.scores(texts, langs)
    return scores, time.perf_counter() - t0


def raw_predict(ref, texts: list[str]) -> tuple[list, float, int]:
    """``model.predict`` over the normalized non-empty texts in one call: (scores by position, seconds, n)."""
    import fasttext

    from curation.classify.text import normalize

    model = fasttext.load_model(ref.path)
    norm = [normalize(t, ref.max_chars) for t in texts]
    idx = [i for i, t in enumerate(norm) if t]
    batch = [norm[i] for i in idx]
    t0 = time.perf_counter()
    labels, probs = model.predict(batch, k=-1)
    seconds = time.perf_counter() - t0
    label = "__label__" + ref.positive_label
    out: list = [None] * len(texts)
    for i, ls, ps in zip(idx, labels, probs, strict=True):
        p = dict(zip(ls, ps, strict=True)).get(label, 0.0)
        out[i] = round(min(max(float(p), 0.0), 1.0), 6)
    return out, seconds, len(batch)


def spark_side(ref, inp: Path, n: int, args, out: Path) -> tuple[dict, list]:
    from curation.classify.rules import ClassifierRule
    from curation.config import SparkConfig
    from curation.spark.classify import add_scores
    from curation.spark.session import build_session
    from jobs.common import prepare_environment

    prepare_environment()
    cfg = SparkConfig(
        master=args.master,
        app_name="lakeforge-bench-classify",
        conf={"spark.sql.warehouse.dir": str(out / "spark-warehouse")},
    )
    t0 = time.perf_counter()
    spark = build_session(cfg)
    session_s = time.perf_counter() - t0
    spark.sparkContext.setLogLevel("ERROR")
    log(f"Spark session ({args.master}, {spark.sparkContext.defaultParallelism} cores) ready in {session_s:.1f}s")
    rule = ClassifierRule(threshold=0.5, drop="above", model=ref)
    runs = []
    result = out / "scored.parquet"
    try:
        for i in range(1, args.runs + 1):
            shutil.rmtree(result, ignore_errors=True)
            t0 = time.perf_counter()
            df = spark.read.parquet(str(inp))
            scored = add_scores(spark, df, {NAME: rule})
            scored.select("doc_id", f"{NAME}_score", f"{NAME}_model").write.parquet(str(result))
            seconds = time.perf_counter() - t0
            runs.append({"run": i, "seconds": seconds, "partitions": df.rdd.getNumPartitions()})
            log(f"Spark run {i}: {n:,} documents in {seconds:.2f}s ({n / seconds:,.0f} docs/s)")
        import pyarrow.parquet as pq

        back = pq.read_table(str(result), columns=["doc_id", f"{NAME}_score"]).to_pydict()
        scores: list = [None] * n
        for d, s in zip(back["doc_id"], back[f"{NAME}_score"], strict=True):
            scores[d] = s
        rows_back = len(back["doc_id"])
        version = spark.version
    finally:
        spark.stop()
    return {"session_seconds": session_s, "runs": runs, "rows_back": rows_back, "spark": version}, scores


# ---------------------------------------------------------------------------------------------------- report
def format_report(out: dict) -> str:
    n = out["documents"]
    base = out["direct"]["seconds"]
    lines = [
        f"input: {out['input']} = {n:,} documents, {out['chars'] / 1e6:.1f} M characters, language en",
        f"model: {out['model']['path']} ({out['model']['size_bytes'] / 1e6:.1f} MB)",
        f"machine: {out['cpus']} CPUs, Spark {out['spark']['spark']} {out['master']}, fasttext {out['fasttext']}",
        "",
        f"{'side':<46} {'docs':>9} {'seconds':>8} {'docs/s':>9} {'vs direct':>9}",
        f"{'-' * 46} {'-' * 9} {'-' * 8} {'-' * 9} {'-' * 9}",
    ]

    def row(label: str, docs: int | None, seconds: float, ratio: bool = True) -> None:
        if docs is None:
            lines.append(f"{label:<46} {'-':>9} {seconds:>8.2f} {'-':>9} {'-':>9}")
            return
        rate = docs / seconds
        lines.append(f"{label:<46} {docs:>9,} {seconds:>8.2f} {rate:>9,.0f} {base / seconds:>8.2f}×")

    runs = ", ".join(f"{s:.2f}s" for s in out["direct"]["runs_seconds"])
    row(f"direct Scorer.scores (1 process; {runs})", n, base)
    row("raw predict, pre-normalized (1 call)", n, out["raw_predict"]["seconds"])
    row(f"Spark session start ({out['master']})", None, out["spark"]["session_seconds"])
    for r in out["spark"]["runs"]:
        row(f"Spark add_scores run {r['run']} (read+score+write)", n, r["seconds"])
    chk = out["check"]
    lines += [
        "",
        f"Spark input: {out['spark']['runs'][0]['partitions']} partitions; raw predict scored "
        f"{out['raw_predict']['scored']:,} non-empty texts (the rest are null on every side)",
        f"check: Spark scores = direct scores for all {n:,} documents ({chk['spark_mismatches']} differ, "
        f"{chk['spark_rows']:,} rows back, score sum {chk['spark_sum']:.6f} vs {chk['direct_sum']:.6f}); "
        f"raw predict = direct ({chk['raw_mismatches']} differ): {'PASS' if chk['ok'] else 'FAIL'}",
        f"load average (1 min) at start {out['load'][0]:.2f}, at end {out['load'][1]:.2f}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--copies", type=int, default=DEFAULT_COPIES, help=f"input repeats (default {DEFAULT_COPIES})")
    p.add_argument("--long", action="store_true", help="wikitext-2 valid paragraphs instead of tweets")
    p.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    p.add_argument("--runs", type=int, default=2, help="Spark runs in one session (default 2)")
    p.add_argument("--retrain", action="store_true", help="fit the model again even if its file exists")
    p.add_argument("--json", action="store_true", help="the figures as one JSON line too (last line of stdout)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help=f"a check of every step: a model of {SMOKE_TRAIN:,} tweets, {SMOKE_DOCUMENTS} documents, 1 Spark run, "
        "in bench/out/smoke/classify",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.runs = 1
    out_root = out_dir(args.smoke) / "classify"

    missing = [str(x) for x in (LABELS, WIKITEXT) if not x.exists()]
    if missing:
        print(f"skipping bench.classify: shared data not found ({', '.join(missing)}); it lives in {SHARED}")
        return 0
    load0 = os.getloadavg()[0]
    if load0 > 1.0:
        log(f"WARNING: 1-min load average {load0:.2f} at start: something else may be using the CPUs")
    from importlib import metadata

    def version(*names: str) -> str:
        for name in names:
            try:
                return metadata.version(name)
            except metadata.PackageNotFoundError:
                pass
        return "?"

    rows = read_tweets()
    ref, model_facts = train_model(rows[:SMOKE_TRAIN] if args.smoke else rows, args.retrain, out_root)
    texts, what = documents(rows, args.copies, args.long)
    if args.smoke:
        texts, what = texts[:SMOKE_DOCUMENTS], f"the first {SMOKE_DOCUMENTS} of {what}"
    n = len(texts)
    inp = out_root / ("input-long.parquet" if args.long else "input.parquet")
    cpus = os.cpu_count() or 2
    write_input(texts, inp, 2 * cpus)
    log(f"{what} = {n:,} documents written to {inp.relative_to(ROOT)} (not timed)")

    direct_runs = []

    def direct(when: str) -> list:
        log(f"direct Scorer.scores ({when})")
        scores, s = direct_scorer(ref, texts)
        direct_runs.append(s)
        log(f"  {n:,} documents in {s:.2f}s ({n / s:,.0f} docs/s)")
        return scores

    direct_scores = direct("before Spark")
    raw_scores, raw_s, raw_n = raw_predict(ref, texts)
    log(f"raw predict: {raw_n:,} texts in {raw_s:.2f}s")
    spark, spark_scores = spark_side(ref, inp, n, args, out_root)
    direct("after Spark")

    def differ(a: list, b: list) -> int:
        return sum(1 for x, y in zip(a, b, strict=True) if x != y)

    check = {
        "spark_rows": spark["rows_back"],
        "spark_mismatches": differ(spark_scores, direct_scores),
        "raw_mismatches": differ(raw_scores, direct_scores),
        "spark_sum": sum(s for s in spark_scores if s is not None),
        "direct_sum": sum(s for s in direct_scores if s is not None),
        "first": [[d, s] for d, s in zip(direct_scores[:5], spark_scores[:5], strict=True)],
    }
    check["ok"] = check["spark_rows"] == n and check["spark_mismatches"] == 0 and check["raw_mismatches"] == 0
    out = {
        "input": what,
        "documents": n,
        "chars": sum(map(len, texts)),
        "model": model_facts,
        "cpus": cpus,
        "master": args.master,
        "fasttext": version("fasttext", "fasttext-wheel", "fasttext-numpy2"),
        "direct": {"seconds": min(direct_runs), "runs_seconds": direct_runs, "docs_per_s": n / min(direct_runs)},
        "raw_predict": {"seconds": raw_s, "scored": raw_n, "docs_per_s": n / raw_s},
        "spark": spark
        | {"docs_per_s": [n / r["seconds"] for r in spark["runs"]]}
        | {"ratio_vs_direct": [min(direct_runs) / r["seconds"] for r in spark["runs"]]},
        "check": check,
        "load": [load0, os.getloadavg()[0]],
        "smoke": args.smoke,
    }
    print(format_report(out))
    if args.json:
        print(json.dumps(out, default=str))
    return 0 if check["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
