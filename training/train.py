"""Train a GPT with Megatron-Core on a pinned blend.

    torchrun --nproc-per-node N -m training.train --config conf/train.yaml --mixture blend.json [--set k=v ...]

TP and PP come from the config, DP = N / (TP × PP). On a GPU: NCCL and bf16; without one: gloo, fp32 and
``training.cpu``'s shims. ``train`` reads top to bottom: process groups, seeds, model, optimizer and schedule,
resume, data, then the loop (forward-backward over the micro-batches, step with clipping, log; validation every
eval_interval; a checkpoint every save_interval).

Writes ``<out_dir>/log.jsonl`` (format and readers: ``training.runlog``), ``config.json`` and
``<out_dir>/checkpoints/iter_NNNNNNN/`` (see training.checkpoint). ``--resume`` continues the run exactly (same
layout) or resharded (another TP/PP); ``--stop-at ITER`` ends a run early with a checkpoint, keeping its schedule.
Started without torchrun it runs as one process.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from training.config import TrainConfig, load_config
from training.runlog import RunLog


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", help="training YAML (conf/train.yaml); defaults when omitted")
    ap.add_argument("--mixture", required=True, help="pinned blend JSON written by lakeforge mix")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. model.num_layers=8")
    ap.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="PATH",
        help="continue from the newest checkpoint of this run (or of PATH: a checkpoint, or a folder of them); "
        "TP and PP may differ from the saving run's",
    )
    ap.add_argument(
        "--stop-at", type=int, metavar="ITER", help="save a checkpoint after step ITER and stop (the schedule is kept)"
    )
    return ap.parse_args(argv)


_LOCK = None


def lock_out_dir(out_dir: Path) -> None:
    """One run per out_dir: rank 0 holds an exclusive lock on ``<out_dir>/.lock`` until it exits. A second run
    (say, a resume started while an orphaned worker of the killed run still trains) fails instead of writing into
    the same log and checkpoints."""
    import fcntl

    global _LOCK
    out_dir.mkdir(parents=True, exist_ok=True)
    f = open(out_dir / ".lock", "a")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise ValueError(f"another training run is writing {out_dir} (it holds {out_dir / '.lock'})") from None
    _LOCK = f


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        # everything that can be wrong with the settings, the blend or the checkpoint fails here, before any
        # process group, model or dataset is built
        cfg = load_config(args.config, args.set)
        from training.data import load_blend

        blend = load_blend(args.mixture)
        device, precision = cfg.resolve_device(torch.cuda.is_available())
        cfg.data_parallel_size(int(os.environ.get("WORLD_SIZE", "1")))
        meta = checkpoint_meta(cfg, blend, args.mixture, precision)
        resume_from = find_resume(cfg, args.resume, meta)
        if int(os.environ.get("RANK", "0")) == 0:
            lock_out_dir(Path(cfg.out_dir))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if device == "cpu":
        from training.cpu import cpu_shims

        shims = cpu_shims()
    else:
        shims = nullcontext()
    try:
        with shims:
            train(cfg, blend, meta, resume_from, args.stop_at, device, precision)
    except ValueError as e:  # e.g. a blend whose split leaves no validation documents: say so, no traceback
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def find_resume(cfg: TrainConfig, resume: str | None, meta: dict) -> Path | None:
    """The checkpoint to continue from: ``--resume PATH``'s (a checkpoint or a folder of them), the newest of this
    run's own with a bare ``--resume`` (None when it has none yet: a fresh start), None without ``--resume``.

    A run continues only on the blend it started on (its data position means nothing on another), and a fresh run
    never writes into a folder that already holds checkpoints."""
    from training import checkpoint

    own = checkpoint.list_checkpoints(cfg.checkpoint_dir)
    if resume is None:
        if own:
            raise ValueError(
                f"{cfg.checkpoint_dir} already holds checkpoints: pass --resume to continue, or use another out_dir"
            )
        return None
    if not resume and not own:
        return None
    path = checkpoint.resolve(resume or cfg.checkpoint_dir)
    saved = checkpoint.read_meta(path)
    if saved.get("mixture_id") != meta["mixture_id"]:
        raise ValueError(
            f"checkpoint {path} was trained on mixture {saved.get('mixture_id')} ({saved.get('blend_path')}), "
            f"this run's blend is {meta['mixture_id']}: resume with the same blend"
        )
    return path


def train(
    cfg: TrainConfig,
    blend: dict,
    meta: dict,
    resume_from: Path | None,
    stop_at: int | None,
    device: str,
    precision: str,
) -> None:
    from megatron.core import parallel_state as ps
    from megatron.core import tensor_parallel
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig, finalize_model_grads
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler
    from megatron.core.pipeline_parallel import get_forward_backward_func

    from curation.config import to_dict
    from training import checkpoint, cpu
    from training.data import build_datasets
    from training.model import GPU_FUSIONS, attention_backend, build_model, flop_count, peak_flops, transformer_config

    # --- process groups: gloo on the CPU, NCCL on GPUs; then Megatron's TP / PP / DP groups ------------------------
    _default_env()
    local_rank = int(os.environ["LOCAL_RANK"])
    if device == "cuda":
        torch.cuda.set_device(local_rank)
    else:
        # one process per core: torch's default (all cores per process) oversubscribes them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ["LOCAL_WORLD_SIZE"])))
    dist.init_process_group(backend="nccl" if device == "cuda" else "gloo", timeout=timedelta(minutes=10))
    rank, world = dist.get_rank(), dist.get_world_size()
    tp, pp = cfg.parallel.tensor_model_parallel_size, cfg.parallel.pipeline_model_parallel_size
    dp = cfg.data_parallel_size(world)
    ps.initialize_model_parallel(tensor_model_parallel_size=tp, pipeline_model_parallel_size=pp)
    dp_rank, pp_rank = ps.get_data_parallel_rank(), ps.get_pipeline_model_parallel_rank()
    first_stage, last_stage = ps.is_pipeline_first_stage(), ps.is_pipeline_last_stage()
    log = RunLog(Path(cfg.out_dir), enabled=rank == 0)

    # --- seeds: each pipeline stage its own stream (as Megatron-LM); the TP-region streams are tracked by Megatron
    seed = cfg.seed + 100 * pp_rank
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    tensor_parallel.model_parallel_cuda_manual_seed(seed)

    # --- model: this rank's stage of a GPTModel, wrapped in Megatron DDP (gradients accumulate in main_grad) -----
    seq_length, vocab_size = int(blend["seq_length"]), int(blend["tokenizer"]["vocab_size"])
    backend = attention_backend(cfg.model, device)
    config = transformer_config(cfg, precision, **(cpu.TRANSFORMER_CONFIG if device == "cpu" else GPU_FUSIONS))
    model = build_model(cfg, config, vocab_size, seq_length, backend, pre_process=first_stage, post_process=last_stage)
    if device == "cuda":
        model.cuda(torch.cuda.current_device())
    if precision == "bf16":
        from megatron.core.transformer.module import Float16Module

        model = Float16Module(config, model)
    ddp_config = DistributedDataParallelConfig(grad_reduce_in_fp32=precision == "bf16", overlap_grad_reduce=False)
    model = [DistributedDataParallel(config, ddp_config, model)]
    config.finalize_model_grads_func = finalize_model_grads  # DP all-reduce, tied-embedding all-reduce over PP

    # --- optimizer (fp32 main weights when the model is bf16) and the warmup + cosine schedule -----------------
    o, s = cfg.optimizer, cfg.schedule
    optimizer = get_megatron_optimizer(
        OptimizerConfig(
            optimizer="adam",
            lr=o.lr,
            min_lr=o.min_lr,
            weight_decay=o.weight_decay,
            adam_beta1=o.adam_beta1,
            adam_beta2=o.adam_beta2,
            adam_eps=o.adam_eps,
            clip_grad=o.clip_grad,
            bf16=precision == "bf16",
            params_dtype=torch.bfloat16 if precision == "bf16" else torch.float32,
        ),
        model,
    )
    scheduler = OptimizerParamScheduler(
        optimizer,
        init_lr=0.0,
        max_lr=o.lr,
        min_lr=o.min_lr,
        lr_warmup_steps=s.lr_warmup_iters,
        lr_decay_steps=s.decay_iters,
        lr_decay_style="cosine",
        start_wd=o.weight_decay,
        end_wd=o.weight_decay,
        wd_incr_steps=s.train_iters,
        wd_incr_style="constant",
        use_checkpoint_opt_param_scheduler=False,
        override_opt_param_scheduler=True,  # on resume the config's schedule wins; the checkpoint gives the step
    )

    # --- resume: weights, optimizer, schedule, RNG and data position from a checkpoint (resharded if TP/PP differ)
    iteration, consumed = 0, 0
    if resume_from is not None:
        iteration, consumed, rng_restored = checkpoint.load(resume_from, model, optimizer, scheduler)
    if device == "cuda":
        fused_torch_adam(optimizer)  # after the load: a checkpoint's param groups carry their own fused flag

    # --- data: the blend's train and validation splits; rank 0 builds the index cache, the others read it -------
    gbs, mbs = s.global_batch_size, s.micro_batch_size
    num_micro = cfg.num_microbatches(world)
    train_samples = max(s.train_iters * gbs, consumed + (s.train_iters - iteration) * gbs)
    valid_samples = s.eval_iters * gbs if s.eval_interval else 0
    train_ds, valid_ds, _ = build_datasets(
        blend, (train_samples, valid_samples, 0), path_to_cache=str(cfg.index_cache_dir)
    )
    if valid_samples and valid_ds is None:
        raise ValueError(f"blend {blend.get('name')}: its split {blend['split']!r} has no validation part")

    flops = flop_count(cfg.model, vocab_size, seq_length)
    peak = peak_flops(device, cfg.peak_flops)
    log.write_config(to_dict(cfg))
    log.event(
        "start",
        world=world,
        tp=tp,
        pp=pp,
        dp=dp,
        device=device,
        precision=precision,
        attention=backend,
        seq_length=seq_length,
        micro_batches=num_micro,
        params=_count_params(model),
        flops_per_token=flops.per_token,
        mixture_id=meta["mixture_id"],
        config_hash=meta["config_hash"],
        iteration=iteration,
    )

    # --- the loop -------------------------------------------------------------------------------------------
    forward_backward = get_forward_backward_func()
    step = partial(
        forward_backward,
        forward_step_func=forward_step,
        model=model,
        num_microbatches=num_micro,
        seq_length=seq_length,
        micro_batch_size=mbs,
    )
    batches = partial(microbatches, num_micro=num_micro, mbs=mbs, dp_rank=dp_rank, dp=dp, device=device)
    # on a GPU the next step's training samples are read while this step runs (validation reads them in place)
    prefetch = (
        Prefetcher(partial(host_microbatches, train_ds, num_micro=num_micro, mbs=mbs, dp_rank=dp_rank, dp=dp))
        if device == "cuda"
        else None
    )
    if resume_from is not None:  # the loaded weights' validation loss: the check that the load went right
        val = evaluate(model, valid_ds, s.eval_iters, gbs, step, batches) if s.eval_interval else None
        log.event("resumed", checkpoint=str(resume_from), iteration=iteration, rng_restored=rng_restored, val_loss=val)
    last = s.train_iters if stop_at is None else min(stop_at, s.train_iters)
    while iteration < last:
        t0 = time.perf_counter()
        for chunk in model:
            chunk.zero_grad_buffer()
        optimizer.zero_grad()
        # this rank's micro-batches of samples consumed … consumed + gbs of the training split
        if prefetch is not None:
            data = prefetch(consumed, consumed + gbs if iteration + 1 < last else None)
        else:
            data = batches(train_ds, consumed)
        out = step(data_iterator=data, forward_only=False)
        iteration += 1
        consumed += gbs
        scheduler.step(1)  # the lr of step i is lr(i): warmup reaches optimizer.lr at step lr_warmup_iters
        ok, grad_norm, _ = optimizer.step()  # clips to optimizer.clip_grad; grad_norm is the norm before clipping
        loss = _stage_mean([r["lm loss"] for r in out] if last_stage else None)
        dt = time.perf_counter() - t0
        tokens_per_s = gbs * seq_length / dt
        record = {
            "iteration": iteration,
            "loss": loss,
            "lr": scheduler.get_lr(optimizer.param_groups[0]),
            "grad_norm": None if grad_norm is None else float(grad_norm),
            "skipped": not ok,
            "step_s": dt,
            "tokens_per_s": tokens_per_s,
            "tflops_per_device": flops.per_token * tokens_per_s / world / 1e12,
            "mfu": flops.per_token * tokens_per_s / (world * peak) if peak else None,
            "consumed_samples": consumed,
        }
        log.step(record, echo=iteration % s.log_interval == 0 or iteration == 1)

        if s.eval_interval and (iteration % s.eval_interval == 0 or iteration == s.train_iters):
            val = evaluate(model, valid_ds, s.eval_iters, gbs, step, batches)
            log.event("eval", iteration=iteration, val_loss=val)
        c = cfg.checkpoint
        periodic = c.save_interval and iteration % c.save_interval == 0
        if c.save and (periodic or iteration == last):
            path, seconds = checkpoint.save(
                cfg.checkpoint_dir, model, optimizer, scheduler, iteration, consumed, meta, keep_last=c.keep_last
            )
            log.event("checkpoint", iteration=iteration, path=str(path), seconds=seconds)

    if prefetch is not None:
        prefetch.close()
    dist.barrier()
    ps.destroy_model_parallel()
    dist.destroy_process_group()


def checkpoint_meta(cfg: TrainConfig, blend: dict, blend_path: str, precision: str) -> dict:
    """What a checkpoint records about its run (beside its iteration and layout)."""
    from curation.config import config_hash, to_dict
    from curation.provenance import code_version
    from curation.tokenize.mixture import blend_id

    # where the run writes does not change what it computes: the hash leaves the paths out
    placeless = replace(cfg, out_dir="", index_cache=None, checkpoint=replace(cfg.checkpoint, dir=None))
    return {
        "mixture_id": blend.get("mixture_id") or blend_id(blend),
        "blend_path": str(Path(blend_path).resolve()),
        "blend_name": blend.get("name"),
        "config_hash": config_hash(placeless),
        "config": to_dict(cfg),
        "precision": precision,
        "code_version": code_version(),
    }


def _count_params(model) -> int:
    """Parameters of the whole model: TP shards summed, TP-replicated ones (norms, some biases) and data-parallel
    replicas once, the last stage's copy of a tied embedding not at all."""
    from megatron.core import parallel_state as ps
    from megatron.core.tensor_parallel import param_is_not_tensor_parallel_duplicate

    local = sum(
        p.numel()
        for p in model[0].parameters()
        if param_is_not_tensor_parallel_duplicate(p) and not getattr(p, "shared", False)
    )
    n = torch.tensor([float(local if ps.get_data_parallel_rank() == 0 else 0)], device=_device())
    dist.all_reduce(n)
    return int(n.item())


def _default_env() -> None:
    """Run as a single process when started without torchrun."""
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_WORLD_SIZE", "1")):
        os.environ.setdefault(key, value)
    if "MASTER_ADDR" not in os.environ:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))


_BATCH_KEYS = ("tokens", "labels", "loss_mask", "position_ids")


def _host_batch(dataset, start: int, mbs: int, pin: bool) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in range(start, start + mbs)]
    batch = {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in _BATCH_KEYS}
    # pinned host memory: the copy to the GPU is asynchronous (from pageable memory it first waits for the stream)
    return {k: v.pin_memory() for k, v in batch.items()} if pin else batch


def microbatches(dataset, first_sample: int, num_micro: int, mbs: int, dp_rank: int, dp: int, device: str):
    """This data-parallel rank's micro-batches of the global batch starting at ``first_sample``.

    Megatron's pretraining sampler order: micro-batch m of rank r holds samples
    first + m·mbs·dp + r·mbs … + mbs. Every TP and PP rank reads its own copy (mmap'd shards: cheap).
    """
    for m in range(num_micro):
        start = first_sample + m * mbs * dp + dp_rank * mbs
        batch = _host_batch(dataset, start, mbs, pin=device == "cuda")
        if device == "cuda":
            batch = {k: v.cuda(non_blocking=True) for k, v in batch.items()}
        yield batch  # tokens, labels, position_ids: [b, s] int64; loss_mask [b, s] float


def host_microbatches(dataset, first_sample: int, num_micro: int, mbs: int, dp_rank: int, dp: int):
    """``microbatches``' samples read into pinned host memory, all of the step's micro-batches at once."""
    return [_host_batch(dataset, first_sample + m * mbs * dp + dp_rank * mbs, mbs, pin=True) for m in range(num_micro)]


class Prefetcher:
    """The next step's micro-batches, read on a background thread while this step runs (CUDA).

    ``prefetch(first, next_first)`` returns the micro-batches of the global batch at ``first`` (copied to the GPU
    as the schedule asks for them) and starts reading the one at ``next_first``. The samples and their order are
    ``microbatches``'; reading them (GPTDataset indexing, documents concatenated) leaves the step's critical path.
    """

    def __init__(self, read):
        from concurrent.futures import ThreadPoolExecutor

        self._read = read
        # pinning allocates through the thread's current device: this rank's, not GPU 0 (a context on it per rank)
        self._pool = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="lakeforge-prefetch",
            initializer=torch.cuda.set_device,
            initargs=(torch.cuda.current_device(),),
        )
        self._ahead = None  # (first sample, future of its host micro-batches)

    def __call__(self, first: int, next_first: int | None = None):
        if self._ahead is not None and self._ahead[0] == first:
            host = self._ahead[1].result()
        else:
            host = self._read(first)
        self._ahead = None if next_first is None else (next_first, self._pool.submit(self._read, next_first))
        return ({k: v.cuda(non_blocking=True) for k, v in batch.items()} for batch in host)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def fused_torch_adam(optimizer) -> None:
    """Without Transformer Engine or Apex, megatron-core's Adam is ``torch.optim.AdamW`` in its default foreach
    mode (many passes over the fp32 main weights and moments); switch its param groups to the fused CUDA kernel,
    one pass per tensor, as Apex's FusedAdam would be. The update is the same AdamW. No-op for other optimizers."""
    for opt in getattr(optimizer, "chained_optimizers", [optimizer]):
        inner = getattr(opt, "optimizer", None)
        if not isinstance(inner, torch.optim.Adam):  # AdamW subclasses Adam
            continue
        params = [p for g in inner.param_groups for p in g["params"]]
        if not params or not all(p.is_cuda and p.dtype == torch.float32 for p in params):
            continue
        inner.defaults.update(foreach=False, fused=True)
        for group in inner.param_groups:
            group.update(foreach=False, fused=True)
        for p, state in inner.state.items():  # the fused kernel keeps its step counts on the device
            if torch.is_tensor(state.get("step")):
                state["step"] = state["step"].to(device=p.device, dtype=torch.float32)


def forward_step(data_iterator, model):
    batch = next(data_iterator)
    # GPTModel returns per-token cross-entropy [b, s] on the last stage (labels given), hidden states elsewhere
    output = model(batch["tokens"], batch["position_ids"], None, labels=batch["labels"])
    return output, partial(masked_mean_loss, batch["loss_mask"])


def masked_mean_loss(loss_mask: torch.Tensor, per_token: torch.Tensor):
    mask = loss_mask.view(-1).float()
    loss = torch.sum(per_token.float().view(-1) * mask) / mask.sum()
    return loss, {"lm loss": loss.detach().clone()}  # the schedule divides loss in place


def _stage_mean(values: list[torch.Tensor] | None) -> float:
    """Mean of the last stage's micro-batch losses, averaged over data-parallel ranks and sent to every stage."""
    from megatron.core import parallel_state as ps

    t = torch.zeros(1, dtype=torch.float64, device=_device())
    if values is not None:
        t[0] = torch.stack([v.double() for v in values]).mean()
        dist.all_reduce(t, group=ps.get_data_parallel_group())
        t /= ps.get_data_parallel_world_size()
    if ps.get_pipeline_model_parallel_world_size() > 1:
        dist.broadcast(t, src=ps.get_pipeline_model_parallel_last_rank(), group=ps.get_pipeline_model_parallel_group())
    return float(t[0])


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def evaluate(model, valid_ds, eval_iters: int, gbs: int, step, batches) -> float:
    """Mean loss over the first ``eval_iters`` global batches of the validation split (dropout off)."""
    from megatron.core import parallel_state as ps

    for chunk in model:
        chunk.eval()
    losses = []
    with torch.no_grad():
        for k in range(eval_iters):
            out = step(data_iterator=batches(valid_ds, k * gbs), forward_only=True)
            if ps.is_pipeline_last_stage():
                losses += [r["lm loss"] for r in out]
    for chunk in model:
        chunk.train()
    return _stage_mean(losses if ps.is_pipeline_last_stage() else None)


if __name__ == "__main__":
    sys.exit(main())
