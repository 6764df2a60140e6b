"""Every CPU shim megatron-core 0.16.1 needs to train on a machine without CUDA, in one place.

Used only when CUDA is absent: ``train.py`` runs inside ``cpu_shims()`` on device cpu; on a GPU none of this runs.
Each shim below was checked by turning it off (``LAKEFORGE_CPU_SHIMS_OFF=name,...``) in TP=1, TP=2 and PP=2 runs
that save a checkpoint; the comment on each names the first failure seen without it. Without any of the first
three, the failure is torch's ``RuntimeError: Found no NVIDIA driver on your system``.

Not needed on 0.16.1 (checked): ``TransformerConfig(batch_p2p_sync=False)`` (the pipeline's
``torch.cuda.synchronize`` is covered by the ``synchronize`` shim, which checkpoints need anyway); a triton stub;
``torch.cuda.current_stream`` (0.19's DDP calls it, 0.16.1's does not); faking ``Tensor.type()`` (besides
``clip_grads``, only the distributed optimizer and the bf16 optimizer check it, neither of which runs on the CPU).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch

TRANSFORMER_CONFIG = {
    # Weights are initialized on the CPU from the full master matrix and then sliced, so every TP size starts
    # from the same weights (what makes TP=1 and TP=2 losses comparable); the GPU path initializes per shard.
    "use_cpu_initialization": True,
}

SHIMS = ("rng", "current_device", "cuda_tensors", "synchronize", "clip_grads")


class _CudaToCpu(torch.overrides.TorchFunctionMode):
    """Tensors megatron creates on ``device="cuda"`` (or ``.cuda()``) are made on the CPU."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if device is not None and _is_cuda(device):
            kwargs = {**kwargs, "device": "cpu"}
        if func is torch.Tensor.cuda:
            return args[0]
        if func is torch.Tensor.to and len(args) > 1 and _is_cuda(args[1]):
            args = (args[0], "cpu", *args[2:])
        return func(*args, **kwargs)


def _is_cuda(device) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    return isinstance(device, str) and device.startswith("cuda")


def _clip_grad_by_total_norm_fp32(parameters, max_norm, total_norm, use_decoupled_grad=False):
    """``optimizer.clip_grads.clip_grad_by_total_norm_fp32`` without its ``grad.type() == 'torch.cuda.FloatTensor'``
    assertion: the same in-place scaling of the fp32 gradients."""
    from megatron.core.utils import to_local_if_dtensor

    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    name = "decoupled_grad" if use_decoupled_grad else "grad"
    grads = [to_local_if_dtensor(getattr(p, name)).detach() for p in parameters if getattr(p, name, None) is not None]
    for g in grads:
        if g.dtype != torch.float32:
            raise TypeError(f"clip_grad_by_total_norm_fp32: gradient of dtype {g.dtype}, expected float32")
    clip_coeff = max_norm / (total_norm + 1.0e-6)
    if clip_coeff < 1.0:
        torch._foreach_mul_(grads, clip_coeff)


def _set_attr(stack: ExitStack, obj, name: str, value) -> None:
    old = getattr(obj, name)
    setattr(obj, name, value)
    stack.callback(setattr, obj, name, old)


@contextmanager
def cpu_shims(disabled: tuple[str, ...] | None = None) -> Iterator[None]:
    """Patch megatron-core for the CPU inside the block and undo it on exit.

    ``disabled`` (default: the comma-separated ``LAKEFORGE_CPU_SHIMS_OFF``) turns shims off by name, to see the
    error each one prevents.
    """
    if disabled is None:
        disabled = tuple(n for n in os.environ.get("LAKEFORGE_CPU_SHIMS_OFF", "").split(",") if n)
    unknown = set(disabled) - set(SHIMS)
    if unknown:
        raise ValueError(f"unknown CPU shims {sorted(unknown)}; known: {', '.join(SHIMS)}")
    import megatron.core.optimizer.optimizer as optimizer_module
    import megatron.core.tensor_parallel.random as tp_random

    with ExitStack() as stack:
        if "rng" not in disabled:
            # tensor_parallel/random.py: CudaRNGStatesTracker keeps named CUDA generator states (the TP-region
            # dropout streams) and swaps them in and out in fork(); here they are states of the CPU generator.
            # torch.cuda.manual_seed is only ever called by the tracker, right after train.py seeded the CPU
            # generator with the same seed. Without it: model_parallel_cuda_manual_seed → tracker.add →
            # torch.cuda.get_rng_state fails.
            _set_attr(stack, tp_random, "_get_cuda_rng_state", lambda *a, **k: torch.get_rng_state())
            _set_attr(stack, tp_random, "_set_cuda_rng_state", lambda state, *a, **k: torch.set_rng_state(state))
            _set_attr(stack, torch.cuda, "get_rng_state", lambda *a, **k: torch.get_rng_state())
            _set_attr(stack, torch.cuda, "manual_seed", lambda seed: torch.manual_seed(seed))
        if "current_device" not in disabled:
            # device=torch.cuda.current_device(): the DDP grad buffers (param_and_grad_buffer.py, the first failure),
            # the rotary embedding, the p2p shape exchange, DotProductAttention's global memory buffer.
            _set_attr(stack, torch.cuda, "current_device", lambda: torch.device("cpu"))
        if "synchronize" not in disabled:
            # dist_checkpointing.save → filesystem_async.py preload_tensors → torch.cuda.synchronize(); no setting
            # avoids it. The same call ends batched p2p sends when PP > 1 (p2p_communication.py, batch_p2p_sync).
            _set_attr(stack, torch.cuda, "synchronize", lambda *a, **k: None)
        if "clip_grads" not in disabled:
            # optimizer.step → clip_grad_by_total_norm_fp32: `assert param.grad.type() == 'torch.cuda.FloatTensor'`
            # (clip_grads.py) fails on CPU gradients: AssertionError.
            _set_attr(stack, optimizer_module, "clip_grad_by_total_norm_fp32", _clip_grad_by_total_norm_fp32)
        if "cuda_tensors" not in disabled:
            # device="cuda" literals: optimizer.py (FP32Optimizer's _scale, the first failure; found_inf),
            # schedules.py (token counts), clip_grads.py (the norm's all-reduce), language_module.py (.cuda() of the
            # tied embedding when PP > 1).
            stack.enter_context(_CudaToCpu())
        yield
