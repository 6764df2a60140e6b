"""datatrove's 4-stage MinHash deduplication over a JSONL corpus, run by the peer venv's interpreter.

    bench/.venv-datatrove/bin/python -m bench._datatrove_minhash --input corpus.jsonl --workdir DIR \
        [--workers 2] [--tasks T] [--ngram 5] [--buckets 14 --hashes-per-bucket 8] --out result.json

The pipeline is datatrove's ``examples/minhash_deduplication.py`` on ``LocalPipelineExecutor``s, one per stage:

1. signatures  JsonlReader → MinhashDedupSignature(language="en")                  tasks T, workers N
2. buckets     MinhashDedupBuckets                                                  tasks = buckets, workers N
3. cluster     MinhashDedupCluster(save_cluster_id=True)                           tasks 1
4. filter      JsonlReader → MinhashDedupFilter(load_cluster_ids=True,
               exclusion_writer=JsonlWriter(removed/)) → JsonlWriter(output/)    tasks T, workers N

with ``MinhashConfig(n_grams, num_buckets, hashes_per_bucket)`` and datatrove's defaults for the rest: seed 1, 64-bit
xxhash of each n-gram, permutations ``(a·h + b) mod (2**61 - 1)``, text simplified by ``simplify_text`` (lowercase,
every number → ``0``, punctuation → space, whitespace collapsed, diacritics stripped), then split into words by
spaCy's blank English tokenizer. A document of fewer than ``n`` words has no n-gram, hence no signature: it is
never a duplicate.

datatrove's readers shard by file, so the corpus is first cut into T JSONL shards (contiguous runs of lines) under
DIR/input; rank r reads shard r. Signatures and removals name a document by (rank, index among the documents of the
shard the reader yielded), and the reader skips lines with an empty ``text``; the map from that pair back to the
``id`` field is kept while sharding. Clusters and removals are read from the cluster stage's ``<rank>.clusters`` and
``<rank>.remove`` files and checked against what the filter stage wrote: the ids of its kept and removed documents
(the reader takes ``id`` from the JSONL) and their ``minhash_cluster_id`` metadata. (The filter stage attaches that
metadata only in shards that have a ``.remove`` file, so the files, not the metadata, are the source.)

``--out`` gets one JSON object: ``docs`` (one ``{"id", "cluster", "removed"}`` per input line, in input order;
``cluster`` is datatrove's cluster number or null for a document in no cluster; a document datatrove skipped for an
empty text has ``"skipped": true``), per-stage wall seconds of each ``executor.run()`` and their sum, the import
seconds apart, peak RSS (this process; its waited-for children, the forkserver's workers included once the forkserver
is stopped; and each worker's own peak, recorded by a probe step at the end of every task), the config, the step
stats datatrove saved, and the checks.

This file imports datatrove, so it runs only under bench/.venv-datatrove (bench/_peer.py creates it). Nothing here
touches the network: spaCy's blank model is code, xxhash is local, the data is local files.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import struct
import sys
import time
from pathlib import Path

t_import = time.perf_counter()
from datatrove.executor.local import LocalPipelineExecutor  # noqa: E402
from datatrove.pipeline.dedup.minhash import (  # noqa: E402
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader  # noqa: E402
from datatrove.pipeline.writers.jsonl import JsonlWriter  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - t_import

STAGES = ("signatures", "buckets", "cluster", "filter")


class RssProbe:
    """Last step of every task: passes the documents through, then writes this worker process's peak RSS.

    A pool worker runs several tasks, and its ``ru_maxrss`` only grows, so the largest value over a stage's files is
    the peak of its biggest worker. A stage of one task (the cluster stage) gets ``workers=1``, and datatrove then
    runs it in this process, not in a pool: its value is this process's. Plain callable, not a PipelineStep:
    datatrove pipes any callable ``(data, rank, world_size)`` and keeps no stats for it."""

    def __init__(self, folder: str, stage: str):
        self.folder, self.stage = folder, stage

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        if data is not None:
            yield from data
        import os

        rec = {
            "stage": self.stage,
            "rank": rank,
            "pid": os.getpid(),
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        Path(self.folder, f"{self.stage}-{rank:05d}.json").write_text(json.dumps(rec))


def shard_corpus(corpus: Path, folder: Path, tasks: int) -> tuple[list, list[list[int]]]:
    """Cut the corpus into ``tasks`` JSONL shards of contiguous lines (``id`` and ``text`` only).

    Returns (ids in input order, per shard the input positions of the documents its reader will yield: those with a
    non-empty text, as datatrove's reader skips the others)."""
    rows = []
    with open(corpus, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            d = json.loads(line)
            if "id" not in d:
                raise ValueError(f"{corpus}:{n}: no 'id' field")
            rows.append((d["id"], d.get("text")))
    ids = [i for i, _ in rows]
    if len(set(map(json.dumps, ids))) != len(ids):
        raise ValueError(f"{corpus}: document ids are not unique")
    folder.mkdir(parents=True)
    per_shard = -(-len(rows) // tasks) if rows else 0
    positions: list[list[int]] = []
    for r in range(tasks):
        chunk = range(r * per_shard, min((r + 1) * per_shard, len(rows)))
        with open(folder / f"shard-{r:05d}.jsonl", "w", encoding="utf-8") as out:
            for i in chunk:
                out.write(json.dumps({"id": rows[i][0], "text": rows[i][1]}, ensure_ascii=False) + "\n")
        positions.append([i for i in chunk if rows[i][1]])
    return ids, positions


def read_pairs(path: Path) -> list[tuple[int, int]]:
    data = path.read_bytes()
    return list(struct.iter_unpack("<2I", data))


def read_uints(path: Path) -> list[int]:
    return [x for (x,) in struct.iter_unpack("<I", path.read_bytes())]


def read_jsonl_gz(folder: Path) -> list[dict]:
    docs = []
    for p in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            docs.extend(json.loads(line) for line in f if line.strip())
    return docs


def step_stats(logging_dir: Path) -> list[dict]:
    """datatrove's merged stats.json of a stage: per step, its counters and worker-seconds (summed over tasks)."""
    path = logging_dir / "stats.json"
    if not path.is_file():
        return []
    out = []
    for s in json.loads(path.read_text()):
        st = {k: (v.get("total") if isinstance(v, dict) else v) for k, v in s.get("stats", {}).items()}
        out.append({"name": s["name"], "worker_seconds": s.get("time_stats", {}).get("total"), "stats": st})
    return out


def stop_forkserver() -> bool:
    """Stop (and wait for) the forkserver that LocalPipelineExecutor's pools forked their workers from: only then do
    the workers' peak RSS values reach this process's RUSAGE_CHILDREN (they are the forkserver's children)."""
    try:
        from multiprocess import forkserver

        forkserver._forkserver._stop()
        return True
    except Exception:  # noqa: BLE001 - a private API: without it the children figure just leaves the workers out
        return False


def main(argv=None) -> int:
    defaults = MinhashConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--input", required=True, type=Path, help="JSONL corpus, one {'id', 'text'} per line")
    p.add_argument("--workdir", required=True, type=Path, help="scratch folder (emptied first)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tasks", type=int, default=None, help="tasks of the signature and filter stages (default workers)")
    p.add_argument("--ngram", type=int, default=defaults.n_grams)
    p.add_argument("--buckets", type=int, default=defaults.num_buckets)
    p.add_argument("--hashes-per-bucket", type=int, default=defaults.hashes_per_bucket)
    p.add_argument("--language", default="en", help="datatrove language code for the word tokenizer")
    p.add_argument("--out", required=True, type=Path, help="result JSON")
    args = p.parse_args(argv)
    tasks = args.tasks or args.workers
    if min(tasks, args.workers, args.ngram, args.buckets, args.hashes_per_bucket) < 1:
        p.error("--workers, --tasks, --ngram, --buckets and --hashes-per-bucket must be at least 1")

    work: Path = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    t0 = time.perf_counter()
    ids, positions = shard_corpus(args.input, work / "input", tasks)
    shard_seconds = time.perf_counter() - t0
    (work / "rss").mkdir()
    rss_dir = str(work / "rss")

    config = MinhashConfig(n_grams=args.ngram, num_buckets=args.buckets, hashes_per_bucket=args.hashes_per_bucket)
    sigs, buckets, remove_ids = work / "signatures", work / "buckets", work / "remove_ids"

    def reader() -> JsonlReader:
        return JsonlReader(str(work / "input"), glob_pattern="shard-*.jsonl", id_key="id", text_key="text")

    def executor(stage: str, pipeline: list, n_tasks: int) -> LocalPipelineExecutor:
        return LocalPipelineExecutor(
            pipeline=[*pipeline, RssProbe(rss_dir, stage)],
            tasks=n_tasks,
            workers=min(args.workers, n_tasks),
            logging_dir=str(work / "logs" / stage),
            skip_completed=False,
        )

    executors = {
        "signatures": executor(
            "signatures",
            [reader(), MinhashDedupSignature(output_folder=str(sigs), config=config, language=args.language)],
            tasks,
        ),
        "buckets": executor(
            "buckets",
            [MinhashDedupBuckets(input_folder=str(sigs), output_folder=str(buckets), config=config)],
            config.num_buckets,
        ),
        "cluster": executor(
            "cluster",
            [
                MinhashDedupCluster(
                    input_folder=str(buckets), output_folder=str(remove_ids), config=config, save_cluster_id=True
                )
            ],
            1,
        ),
        "filter": executor(
            "filter",
            [
                reader(),
                MinhashDedupFilter(
                    input_folder=str(remove_ids),
                    exclusion_writer=JsonlWriter(str(work / "removed")),
                    load_cluster_ids=True,
                ),
                JsonlWriter(str(work / "output")),
            ],
            tasks,
        ),
    }
    stage_seconds = {}
    for stage in STAGES:
        t0 = time.perf_counter()
        executors[stage].run()
        stage_seconds[stage] = time.perf_counter() - t0
    children_before_stop = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stopped = stop_forkserver()

    # ---- clusters and removals from the cluster stage's files: (rank, index in shard) → input position
    cluster: dict[int, int] = {}
    removed: set[int] = set()
    for r, pos in enumerate(positions):
        cf, rf = remove_ids / f"{r:06d}.clusters", remove_ids / f"{r:06d}.remove"
        if cf.is_file():
            cluster.update((pos[idx], cid) for idx, cid in read_pairs(cf))
        if rf.is_file():
            removed.update(pos[idx] for idx in read_uints(rf))

    # ---- checks against what the filter stage wrote (ids come from the JSONL's `id`)
    key = json.dumps  # ids may be strings or numbers
    pos_of = {key(i): n for n, i in enumerate(ids)}
    kept_docs, removed_docs = read_jsonl_gz(work / "output"), read_jsonl_gz(work / "removed")
    seen = [key(d["id"]) for d in kept_docs + removed_docs]
    with_text = {n for pos in positions for n in pos}
    meta_mismatch = 0
    meta_present = 0
    for d in kept_docs + removed_docs:
        cid = d.get("metadata", {}).get("minhash_cluster_id")
        if cid is not None and key(d["id"]) in pos_of:
            meta_present += 1
            meta_mismatch += cid != cluster.get(pos_of[key(d["id"])], -1)
    checks = {
        "ids_unknown": sum(k not in pos_of for k in seen),
        "ids_repeated": len(seen) - len(set(seen)),
        "ids_missing": len(with_text - {pos_of[k] for k in seen if k in pos_of}),
        "removed_differs": len({pos_of.get(key(d["id"])) for d in removed_docs} ^ removed),
        "cluster_metadata_present": meta_present,
        "cluster_metadata_differs": meta_mismatch,
        "removed_outside_clusters": len(removed - set(cluster)),
    }
    checks["ok"] = not any(v for k, v in checks.items() if k not in ("cluster_metadata_present",))

    rss_records = [json.loads(p.read_text()) for p in sorted((work / "rss").glob("*.json"))]
    result = {
        "docs": [
            {"id": i, "cluster": cluster.get(n), "removed": n in removed}
            | ({"skipped": True} if n not in with_text else {})
            for n, i in enumerate(ids)
        ],
        "documents": len(ids),
        "documents_with_text": len(with_text),
        "removed": len(removed),
        "clusters": len(set(cluster.values())),
        "stage_seconds": stage_seconds,
        "seconds": sum(stage_seconds.values()),
        "import_seconds": IMPORT_SECONDS,
        "shard_seconds": shard_seconds,
        "peak_rss_kb": {
            "self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
            "children_before_forkserver_stop": children_before_stop,
            "forkserver_stopped": stopped,
            "workers": max((r["maxrss_kb"] for r in rss_records), default=None),
            "workers_by_stage": {
                s: max((r["maxrss_kb"] for r in rss_records if r["stage"] == s), default=None) for s in STAGES
            },
        },
        "config": {
            "n_grams": config.n_grams,
            "num_buckets": config.num_buckets,
            "hashes_per_bucket": config.hashes_per_bucket,
            "seed": config.seed,
            "hash": str(config.hash_config),
            "norm": vars(config.norm_config),
            "language": args.language,
            "tasks": tasks,
            "workers": args.workers,
        },
        "step_stats": {s: step_stats(work / "logs" / s) for s in STAGES},
        "checks": checks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(args.out)
    if not checks["ok"]:
        print(f"datatrove minhash: document ids did not survive the pipeline: {checks}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
