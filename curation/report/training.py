"""A training run as the report shows it: ``<out_dir>/log.jsonl`` (read with ``training.runlog``) and the realized
component shares of its blend, read from Megatron-Core's blended-dataset index in the run's index cache."""

from __future__ import annotations

import json
from pathlib import Path

from curation.report.model import Training
from training.runlog import read_log

STEP_KEYS = ("iteration", "loss", "lr", "grad_norm", "tokens_per_s", "step_s", "tflops_per_device", "mfu", "skipped")


def read_training_log(out_dir: str | Path) -> Training | None:
    """The steps, evaluations, checkpoints and start event of ``out_dir/log.jsonl`` (``training.runlog``: a resumed
    run's repeated iterations count once, by their last line); None when there is no log."""
    log = read_log(out_dir)
    if log is None:
        return None
    return Training(
        out_dir=str(out_dir),
        steps=[{k: log.steps[i].get(k) for k in STEP_KEYS} for i in sorted(log.steps)],
        evals=[{"iteration": i, "val_loss": log.evals[i]} for i in sorted(log.evals)],
        start=log.start,
        checkpoints=log.checkpoints,
        resumed=log.resumed,
    )


def index_cache_dir(out_dir: str | Path) -> Path:
    """Where the run kept Megatron's dataset indices: ``config.json``'s ``index_cache``, else ``out_dir/index-cache``
    (training/config.py)."""
    out = Path(out_dir)
    try:
        cfg = json.loads((out / "config.json").read_text())
        if cfg.get("index_cache"):
            return Path(cfg["index_cache"])
    except (OSError, ValueError, AttributeError):
        pass
    return out / "index-cache"


def realized_shares(cache_dir: str | Path, blend: dict) -> tuple[dict[str, float] | None, str]:
    """Component → share of the training samples drawn from it, from the ``BlendedDataset`` train index whose
    datasets are exactly the blend's prefixes (``dataset_index[i]`` is sample i's prefix, as in
    ``training.data.realized_shares``). Returns ``(shares, note)``; shares None with the reason when no index
    matches."""
    import numpy as np

    cache = Path(cache_dir)
    prefixes = [p for c in blend.get("components", []) for p in c.get("prefixes", [])]
    component_of = [c["name"] for c in blend.get("components", []) for _ in c.get("prefixes", [])]
    if not prefixes:
        return None, "the blend lists no prefixes"
    if not cache.is_dir():
        return None, f"no index cache at {cache} (it is written by `lakeforge train`)"
    matches = []
    for desc in cache.glob("*-BlendedDataset-train-description.txt"):
        try:
            d = json.loads(desc.read_text())
        except (OSError, ValueError):
            continue
        paths = [x.get("dataset_path") for x in d.get("datasets", [])]
        index = desc.with_name(desc.name.replace("-description.txt", "-dataset_index.npy"))
        if paths == prefixes and index.is_file():
            matches.append((desc.stat().st_mtime, index))
    if not matches:
        return None, f"no training index in {cache} is built on this blend's prefixes"
    index = max(matches)[1]
    drawn = np.bincount(np.load(index), minlength=len(prefixes))
    total = int(drawn.sum())
    if not total:
        return None, f"{index.name} holds no samples"
    shares: dict[str, float] = {}
    for i, n in enumerate(drawn[: len(prefixes)]):
        shares[component_of[i]] = shares.get(component_of[i], 0.0) + int(n) / total
    return shares, f"{total:,} training samples of Megatron's blended index ({index.name})"
