"""Checkpoints with Megatron-Core ``dist_checkpointing``: everything a run needs to continue exactly.

A checkpoint is a folder ``<dir>/iter_NNNNNNN/`` holding

- the model and the optimizer state as sharded tensors (each rank writes its shard; any TP/PP layout loads them),
- ``common.pt`` (written by rank 0): iteration, consumed samples, the learning-rate scheduler's state,
- ``rng_state``: every rank's RNG states (python, numpy, torch, CUDA and Megatron's tracked TP-region streams),
  restored only when the parallel layout is the one that saved them,
- ``lakeforge.json``: what it was trained on and with (the blend's ``mixture_id`` and path, the config and its
  hash, the code version, the layout, the iteration).

All ranks write into ``.tmp-iter_NNNNNNN``; when every rank is done, rank 0 writes ``lakeforge.json`` and renames
the folder to ``iter_NNNNNNN``. A kill during a save leaves only a temporary folder, which nothing reads and the
next save removes: the newest ``iter_*`` folder is always complete. Then all but the newest ``keep_last`` are
deleted.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

META = "lakeforge.json"
FORMAT = "lakeforge-checkpoint/1"
PREFIX = "iter_"
TMP_PREFIX = ".tmp-"


def checkpoint_name(iteration: int) -> str:
    return f"{PREFIX}{iteration:07d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first (temporary folders are never listed)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / META).is_file()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def resolve(path: str | Path) -> Path:
    """A checkpoint folder, or a folder of checkpoints → its newest; ValueError when there is none."""
    p = Path(path)
    if (p / META).is_file():
        return p
    found = list_checkpoints(p)
    if not found:
        raise ValueError(f"no checkpoint in {path} (expected {PREFIX}NNNNNNN folders holding {META})")
    return found[-1]


def read_meta(path: str | Path) -> dict:
    return json.loads((Path(path) / META).read_text())


@dataclass(frozen=True)
class Layout:
    """The parallel layout of the ranks that save or load."""

    tp: int
    pp: int
    dp: int

    @classmethod
    def current(cls) -> Layout:
        from megatron.core import parallel_state as ps

        return cls(
            ps.get_tensor_model_parallel_world_size(),
            ps.get_pipeline_model_parallel_world_size(),
            ps.get_data_parallel_world_size(),
        )


def _unwrap(module):
    """GPTModel inside DDP (and Float16Module)."""
    while hasattr(module, "module"):
        module = module.module
    return module


def rng_state() -> dict:
    from megatron.core import tensor_parallel

    state = {
        "random": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "tracker": tensor_parallel.get_cuda_rng_tracker().get_states(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    from megatron.core import tensor_parallel

    random.setstate(state["random"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    tensor_parallel.get_cuda_rng_tracker().set_states(state["tracker"])


def _sharded_state(model, optimizer, scheduler, iteration: int, consumed: int, with_rng: bool, loading: bool):
    """The state dict ``dist_checkpointing`` saves and loads: sharded model + optimizer, common scalars, RNG."""
    from megatron.core import parallel_state as ps
    from megatron.core.dist_checkpointing.mapping import ShardedObject

    gpt = _unwrap(model[0])
    model_state = gpt.sharded_state_dict()
    state = {
        "model": model_state,
        "optimizer": optimizer.sharded_state_dict(model_state, is_loading=loading),
        "scheduler": scheduler.state_dict(),
        "iteration": iteration,
        "consumed_samples": consumed,
    }
    if with_rng:
        layout = Layout.current()
        # one object per (pp, tp) rank; data-parallel ranks share seeds, so DP rank 0's copy is the one written
        state["rng_state"] = ShardedObject(
            "rng_state",
            rng_state(),
            (layout.pp, layout.tp),
            (ps.get_pipeline_model_parallel_rank(), ps.get_tensor_model_parallel_rank()),
            replica_id=ps.get_data_parallel_rank(),
        )
    return state


def save(root: str | Path, model, optimizer, scheduler, iteration: int, consumed: int, meta: dict, keep_last: int):
    """Save a checkpoint of every rank's state at ``iteration`` (collective: all ranks call it)."""
    from megatron.core import dist_checkpointing

    root = Path(root)
    final, tmp = root / checkpoint_name(iteration), root / f"{TMP_PREFIX}{checkpoint_name(iteration)}"
    rank0 = dist.get_rank() == 0
    t0 = time.perf_counter()
    if rank0:
        shutil.rmtree(tmp, ignore_errors=True)  # left by a save that was killed
        tmp.mkdir(parents=True)
    dist.barrier()
    state = _sharded_state(model, optimizer, scheduler, iteration, consumed, with_rng=True, loading=False)
    dist_checkpointing.save(state, str(tmp))
    dist.barrier()  # every rank's shard is on disk
    if rank0:
        layout = Layout.current()
        meta = {
            "format": FORMAT,
            **meta,
            "iteration": iteration,
            "consumed_samples": consumed,
            "layout": {"tp": layout.tp, "pp": layout.pp, "dp": layout.dp},
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_durably(tmp / META, json.dumps(meta, indent=2))
        if final.exists():  # saved again at the same iteration (resumed from an older checkpoint)
            old = root / f"{TMP_PREFIX}old-{final.name}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        _fsync_dir(root)
        _prune(root, keep_last)
    dist.barrier()
    return final, time.perf_counter() - t0


def load(path: str | Path, model, optimizer, scheduler) -> tuple[int, int, bool]:
    """Load a checkpoint into this rank's model, optimizer and scheduler (collective).

    Returns (iteration, consumed samples, whether the RNG states were restored: only when the layout matches).
    Tensors are resharded by ``dist_checkpointing`` when TP or PP differ from the saving run's.
    """
    from megatron.core import dist_checkpointing

    meta = read_meta(path)
    saved = meta["layout"]
    same_layout = (saved["tp"], saved["pp"], saved["dp"]) == tuple(vars(Layout.current()).values())
    request = _sharded_state(model, optimizer, scheduler, 0, 0, with_rng=same_layout, loading=True)
    state = dist_checkpointing.load(request, str(path))
    _unwrap(model[0]).load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if same_layout:
        set_rng_state(state["rng_state"])
    return int(state["iteration"]), int(state["consumed_samples"]), same_layout


def _prune(root: Path, keep_last: int) -> None:
    for p in root.iterdir():  # temporary folders of saves that never finished
        if p.is_dir() and p.name.startswith(TMP_PREFIX):
            shutil.rmtree(p, ignore_errors=True)
    if keep_last:
        for p in list_checkpoints(root)[:-keep_last]:
            shutil.rmtree(p, ignore_errors=True)


def _write_durably(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
