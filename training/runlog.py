"""The training run log, ``<out_dir>/log.jsonl``: its writer (``RunLog``, used by ``training.train``) and its readers
(the report, ``lakeforge run``'s train stage, tests). This module is the one place that knows the format.

One JSON object per line, each with ``event`` and ``time`` (Unix seconds):

* ``start``: world, tp, pp, dp, device, precision, attention, seq_length, micro_batches, params, flops_per_token,
  mixture_id, config_hash, iteration (where this attempt starts).
* ``step``: iteration, loss, lr, grad_norm, skipped, step_s, tokens_per_s, tflops_per_device, mfu, consumed_samples.
* ``eval``: iteration, val_loss.
* ``checkpoint``: iteration, path, seconds.
* ``resumed``: checkpoint, iteration, rng_restored, val_loss.

A resumed run appends to the same file and may redo the steps after its checkpoint: the last line of an iteration
is the one that counts. A line that is not a JSON object (a crash mid-write) is skipped.

Standard library only: the report and the pipeline import it without torch.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_NAME = "log.jsonl"
CONFIG_NAME = "config.json"


def log_path(out_dir: str | Path) -> Path:
    """Where a training run's log is: ``<out_dir>/log.jsonl``."""
    return Path(out_dir) / LOG_NAME


# ------------------------------------------------------------------------------------------------------ writing
class RunLog:
    """``<out_dir>/log.jsonl`` (rank 0 only: ``enabled``): one JSON line per step and per event, floats exact
    (``repr``); events and every ``echo`` step are also printed on stdout."""

    def __init__(self, out_dir: Path, enabled: bool):
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        if self.enabled:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.t0 = time.time()

    def write_config(self, config: dict) -> None:
        """``<out_dir>/config.json``: the resolved training config (``curation.config.to_dict``)."""
        if self.enabled:
            (self.out_dir / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n")

    def _write(self, record: dict) -> None:
        if self.enabled:
            with open(self.out_dir / LOG_NAME, "a") as f:
                f.write(json.dumps(record) + "\n")

    def event(self, name: str, **fields) -> None:
        self._write({"event": name, "time": time.time(), **fields})
        if self.enabled:
            print(f"[{time.time() - self.t0:7.1f}s] {name}: " + " ".join(f"{k}={_fmt(v)}" for k, v in fields.items()))
            sys.stdout.flush()

    def step(self, record: dict, echo: bool) -> None:
        self._write({"event": "step", "time": time.time(), **record})
        if self.enabled and echo:
            r = record
            mfu = f" mfu {r['mfu']:.1%}" if r["mfu"] is not None else ""
            print(
                f"[{time.time() - self.t0:7.1f}s] iter {r['iteration']:6d} loss {r['loss']:.4f} lr {r['lr']:.3e} "
                f"grad_norm {_fmt(r['grad_norm'])} {r['tokens_per_s']:,.0f} tok/s "
                f"{r['tflops_per_device']:.3f} TFLOP/s/device{mfu}"
            )
            sys.stdout.flush()


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)


# ------------------------------------------------------------------------------------------------------ reading
def read_events(out_dir: str | Path) -> list[dict] | None:
    """Every event of ``<out_dir>/log.jsonl`` in file order (lines that are not JSON objects skipped); None when
    there is no log."""
    path = log_path(out_dir)
    if not path.is_file():
        return None
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if isinstance(e, dict):
            events.append(e)
    return events


@dataclass
class TrainingLog:
    """A run's log, resumed attempts folded in: one step and one evaluation per iteration (the last line wins)."""

    steps: dict[int, dict] = field(default_factory=dict)
    """iteration → its ``step`` event."""
    evals: dict[int, float] = field(default_factory=dict)
    """iteration → validation loss."""
    start: dict = field(default_factory=dict)
    """The last ``start`` event, without ``event``."""
    checkpoints: list[dict] = field(default_factory=list)
    """``{"iteration", "path", "seconds"}`` per ``checkpoint`` event, in order."""
    resumed: int = 0
    """How many times the run was resumed from a checkpoint."""

    def last_step(self) -> dict:
        """The step of the highest iteration ({} before the first step)."""
        return self.steps[max(self.steps)] if self.steps else {}

    def last_val_loss(self) -> float | None:
        return self.evals[max(self.evals)] if self.evals else None

    def checkpoint_iterations(self) -> list[int]:
        return [c["iteration"] for c in self.checkpoints if isinstance(c.get("iteration"), int)]

    def summary(self) -> dict[str, Any]:
        """The run in four figures: the last step's iteration, loss and tokens/s, and the last validation loss."""
        last = self.last_step()
        return {
            "iteration": last.get("iteration"),
            "loss": last.get("loss"),
            "tokens_per_s": last.get("tokens_per_s"),
            "val_loss": self.last_val_loss(),
        }


def read_log(out_dir: str | Path) -> TrainingLog | None:
    """The :class:`TrainingLog` of ``<out_dir>/log.jsonl``; None when there is no log."""
    events = read_events(out_dir)
    if events is None:
        return None
    log = TrainingLog()
    for e in events:
        kind = e.get("event")
        if kind == "step" and isinstance(e.get("iteration"), int):
            log.steps[e["iteration"]] = e
        elif kind == "eval" and isinstance(e.get("iteration"), int) and e.get("val_loss") is not None:
            log.evals[e["iteration"]] = e["val_loss"]
        elif kind == "start":
            log.start = {k: v for k, v in e.items() if k != "event"}
        elif kind == "checkpoint":
            log.checkpoints.append({k: e.get(k) for k in ("iteration", "path", "seconds")})
        elif kind == "resumed":
            log.resumed += 1
    return log
