"""Every bench and every eval starts: ``python -m bench.X --smoke --json`` (and ``eval.X``) on a tiny input, from the
repository root, in a subprocess as a user runs it. The modules are read from the folder listing (every .py in bench/
and eval/ whose name does not start with an underscore), so a new bench without ``--smoke`` fails here. Each run must
exit 0 and print its figures as JSON (the last line, or the whole of stdout); where a module's figures must agree
with each other (the two sides of a bench count the same input), that is asserted too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(
    f"{folder}.{p.stem}"
    for folder in ("bench", "eval")
    for p in (REPO / folder).glob("*.py")
    if not p.stem.startswith("_")
)
INDEPENDENT_TESTS = True  # each run is its own process: xdist may spread them over its workers (tests/conftest.py)
TIMEOUT_S = 600  # a smoke run takes well under a minute on a quiet machine; this only stops a hang


def figures(stdout: str) -> dict:
    """The JSON a module printed: the whole of stdout (pretty-printed reports), else its last line."""
    try:
        return json.loads(stdout)
    except ValueError:
        return json.loads(stdout.strip().splitlines()[-1])


def _bench_corpus(f: dict) -> None:
    """Both corpora were made (or reused): the WARC files hold whole captures, the texts the asked-for count."""
    assert f["smoke"]
    w, t = f["warc"], f["texts"]
    assert w["records"]["warcinfo"] == 2 and w["html_responses"] > 0 and w["bytes"] >= 2_000_000
    assert w["records"]["request"] == w["records"]["response"] == w["records"]["metadata"]
    assert sum(w["responses_by_type"].values()) == w["records"]["response"] >= w["html_responses"]
    assert t["documents"] == 2000 and 0 < t["near_duplicates"] < t["documents"]


def _bench_curate(f: dict) -> None:
    docs = f["inputs"]["documents"]
    assert docs > 0 and f["smoke"]
    run = f["lakeforge"]["runs"][-1]
    assert run["documents"] == docs and f["lakeforge"]["documents_rows"] == docs
    assert run["kept"] + run["dropped"] + run["errored"] == docs
    if "datatrove" in f:  # its venv is installed: both sides read the same documents
        assert f["datatrove"]["documents"] == docs
        assert set(f["agreement"]) and f["goal"]["speedup"] > 0
    else:
        assert "not installed" in f["datatrove_skipped"]


def _bench_deploy(f: dict) -> None:
    """Ways a (local) and b (s3a on the bench's moto server) ran the same stages and did the same work; b's stages
    made S3 requests, a's none were counted."""
    assert f["smoke"] and set(f["ways"]) == {"a", "b"} and f["agreement"] == {"b": []}
    a, b = f["results"]["a"], f["results"]["b"]
    assert [s["stage"] for s in a["stages"]] == [s["stage"] for s in b["stages"]] == ["curate"]
    assert all(s["status"] == "succeeded" and s["seconds"] > 0 for s in a["stages"] + b["stages"])
    assert a["stages"][0]["counts"]["documents"] > 0
    req = b["requests"]
    assert req["stages"]["curate"]["total"] > 0 and req["stages"]["curate"]["by_kind"].get("PUT", 0) > 0
    assert req["process"]["total"] == req["stages"]["curate"]["total"] + req["outside_stages"]


def _bench_dedup(f: dict) -> None:
    assert f["corpus"]["documents"] > 0 and f["smoke"]
    assert f["signatures"]["identical"] and all(f["signatures"]["identical"].values())
    lf = f["lakeforge"]
    assert lf["removed"] > 0 and lf["quality"]["true_pairs"] > 0 and lf["quality"]["precision"] == 1.0
    if "datatrove" in f:
        assert f["datatrove"]["removed"] > 0 and "quality" in f["datatrove"]
    else:
        assert "not installed" in f["datatrove_skipped"]


def _bench_ingest(f: dict) -> None:
    records = f["fastwarc_loop"]["records"]
    assert records > 0 and f["smoke"]
    assert f["read_file_loop"]["records"] == f["read_file_pool"]["records"] == records
    assert [r["records_in"] for r in f["spark"]["runs"]] == [records]
    assert f["goal"]["read_stage"]["vs_fastwarc"] > 0


def _bench_classify(f: dict) -> None:
    assert f["documents"] > 0 and f["smoke"]
    assert f["check"]["ok"] and f["check"]["spark_rows"] == f["documents"] and f["check"]["spark_mismatches"] == 0
    assert len(f["spark"]["runs"]) == 1


def _bench_query_start(f: dict) -> None:
    assert f["smoke"] and f["rows"]["quick"] == f["rows"]["full"] == [{"documents": 3}]
    assert f["median"]["quick"] > 0 and f["median"]["full"] > 0


def _bench_scale(f: dict) -> None:
    """Each stage ran (one size each under --smoke: a curve is bench.scale's full run, its fit is unit-tested in
    tests/bench/test_scale.py), with real times, memory and shuffle bytes; the JSON has the issue's shape
    ({"curate": [{"n", "seconds", "peak_rss_mib", …}], "dedup": […], "tokenize": […]})."""
    assert f["smoke"]
    for stage in ("curate", "dedup", "tokenize"):
        rows = f[stage]
        assert len(rows) == 1, stage
        assert all(r["n"] > 0 and r["seconds"] > 0 and r["peak_rss_mib"] > 0 for r in rows), stage
        assert all(r["driver_jvm_mib"] > 0 and r["shuffle_bytes"] >= 0 for r in rows), stage
        assert f["fits"][stage] == {"sizes": 1}, stage
    assert f["dedup"][-1]["removed"] > 0 and 0 < f["dedup"][-1]["recall"] <= 1
    assert f["tokenize"][-1]["documents"] > 0 and any(r["shuffle_bytes"] > 0 for r in f["tokenize"])
    assert {g["stage"] for g in f["goals"]} == {"curate", "dedup", "tokenize"}
    assert f["plot"].endswith("scale.png") and Path(f["plot"]).is_file()
    if "datatrove_skipped" in f:
        assert "not installed" in f["datatrove_skipped"]
    else:  # its venv is installed: both sides ran the smoke sizes (all below the datatrove limits)
        assert all("datatrove" in r for r in f["curate"] + f["dedup"])


def _bench_tokens(f: dict) -> None:
    assert f["smoke"] and f["check"]["ok"]
    raw, rep = f["raw"]["encode_batch"], f["lakeforge"]["report"]
    assert raw["tokens"] > 0 and raw["tokens"] == f["raw"]["encode_batch_fast"]["tokens"]
    assert rep["documents"] == raw["documents"] > 0 and rep["num_shards"] >= 1


def _bench_train_gpu(f: dict) -> None:
    if f.get("skipped"):  # no CUDA and the CPU check not wanted: it said why
        assert f["skipped"]
        return
    assert f["smoke"] and f["results"]
    for r in f["results"]:
        assert r["error"] is None and r["tokens_per_s"] > 0 and r["loss_last"] is not None, r


def _eval_classifiers(f: dict) -> None:
    assert f["test_examples"] > 0 and len(f["rows"]) == 3
    assert all(0 < m["macro_f1"] <= 1 for m in f["rows"].values())


def _eval_dedup(f: dict) -> None:
    assert f["corpus"]["docs"] > 0 and f["truth"]["pairs"] > 0
    results = {r["method"]: r for r in f["results"]}
    assert "lakeforge" in results and "reference" in results
    assert "0 differ" in results["lakeforge"]["info"]["check"]  # the Spark job decides as the reference does
    assert results["lakeforge"]["decisions"]["removed"] > 0


def _eval_extraction(f: dict) -> None:
    assert f["pages"] > 0 and {s["pages"] for s in f["scores"].values()} == {f["pages"]}
    assert set(f["scores"]) == {"lakeforge", "trafilatura", "trafilatura_precision"}
    assert f["overhead"]["pages"] > 0


def _eval_langid(f: dict) -> None:
    assert f["languages"] and all(0 < r["n"] <= 20 for r in f["languages"])
    assert 0.5 < f["micro"] <= 1


CHECKS = {
    "bench.classify": _bench_classify,
    "bench.corpus": _bench_corpus,
    "bench.curate": _bench_curate,
    "bench.dedup": _bench_dedup,
    "bench.deploy": _bench_deploy,
    "bench.ingest": _bench_ingest,
    "bench.query_start": _bench_query_start,
    "bench.scale": _bench_scale,
    "bench.tokens": _bench_tokens,
    "bench.train_gpu": _bench_train_gpu,
    "eval.classifiers": _eval_classifiers,
    "eval.dedup": _eval_dedup,
    "eval.extraction": _eval_extraction,
    "eval.langid": _eval_langid,
}


def test_every_module_has_a_check():
    """A new bench or eval gets its smoke figures checked here, not only its exit status."""
    assert set(MODULES) == set(CHECKS)


@pytest.mark.e2e
@pytest.mark.parametrize("module", MODULES)
def test_smoke(module, shared_data):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, f"{module} --smoke exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    print(f"{module} --smoke: {seconds:.1f} s")
    CHECKS[module](figures(proc.stdout))
