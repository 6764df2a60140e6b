"""The model provider: a Megatron-Core ``GPTModel`` for a ``TrainConfig``, and the FLOPs it costs per token.

Layer spec: Transformer Engine's when it is installed (and the run is on CUDA), otherwise Megatron's local spec with
its core attention swapped for ``SDPAttention``, a drop-in for ``DotProductAttention`` built on torch
``scaled_dot_product_attention``. The local ``DotProductAttention`` materializes the [b, heads, s, s] scores and runs
at 0.43× of SDPA on an H100 (STACK.md); SDPA dispatches to flash / memory-efficient kernels on GPU and to a fused
kernel on the CPU.
"""

from __future__ import annotations

import importlib.util
import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from megatron.core import tensor_parallel
from megatron.core.models.gpt import GPTModel
from megatron.core.models.gpt.gpt_layer_specs import (
    get_gpt_layer_local_spec,
    get_gpt_layer_with_transformer_engine_spec,
)
from megatron.core.transformer.enums import AttnMaskType
from megatron.core.transformer.module import MegatronModule
from megatron.core.transformer.spec_utils import ModuleSpec
from megatron.core.transformer.transformer_config import TransformerConfig
from megatron.core.utils import divide

from training.config import ModelConfig, TrainConfig


class SDPAttention(MegatronModule):
    """Core attention with torch ``scaled_dot_product_attention``, in the local spec's place.

    Same constructor and ``forward`` as megatron-core 0.16.1's ``DotProductAttention`` (the ``CoreAttention``
    protocol of ``transformer/attention.py``): query [sq, b, heads/TP, d], key and value [sk, b, groups/TP, d]
    → context [sq, b, heads/TP × d]. Causal self-attention needs no mask tensor (``is_causal``); an explicit
    ``attention_mask`` uses Megatron's convention (True = masked out). Grouped-query attention is native to SDPA.
    What ``DotProductAttention`` supports and this does not (sliding windows, softmax offsets, attention bias,
    packed sequences) is refused when the module is built or called, never silently ignored.
    """

    def __init__(
        self,
        config: TransformerConfig,
        layer_number: int,
        attn_mask_type: AttnMaskType,
        attention_type: str,
        attention_dropout: float | None = None,
        softmax_scale: float | None = None,
        cp_comm_type: str | None = None,
        pg_collection=None,
    ):
        super().__init__(config=config)
        if config.context_parallel_size != 1:
            raise ValueError("SDPAttention: context parallelism needs Transformer Engine's attention")
        if config.window_size is not None:
            raise ValueError("SDPAttention: sliding-window attention is not supported; use attention_backend local")
        if config.softmax_type != "vanilla":
            raise ValueError(f"SDPAttention: softmax_type {config.softmax_type!r} is not supported")
        if pg_collection is None:
            from megatron.core.process_groups_config import ProcessGroupCollection

            pg_collection = ProcessGroupCollection.use_mpu_process_groups(required_pgs=["tp"])
        tp = pg_collection.tp.size()
        self.attn_mask_type = attn_mask_type
        self.heads = divide(config.num_attention_heads, tp)
        self.groups = divide(config.num_query_groups, tp)
        self.head_dim = config.kv_channels
        # apply_query_key_layer_scaling divides the scores by the layer number and multiplies them back inside the
        # fp32 softmax: the same scale in exact arithmetic, so it is not repeated here.
        self.softmax_scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(self.head_dim)
        self.dropout_p = config.attention_dropout if attention_dropout is None else attention_dropout

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        attn_mask_type: AttnMaskType | None = None,
        attention_bias: torch.Tensor | None = None,
        packed_seq_params=None,
    ) -> torch.Tensor:
        if attention_bias is not None or packed_seq_params is not None:
            raise NotImplementedError("SDPAttention: attention_bias and packed sequences need Transformer Engine")
        sq, b = query.shape[0], query.shape[1]
        mask_type = attn_mask_type if attn_mask_type is not None else self.attn_mask_type
        # [s, b, h, d] -> [b, h, s, d]
        q, k, v = (t.permute(1, 2, 0, 3) for t in (query, key, value))
        mask, causal = None, False
        if attention_mask is not None:
            mask = ~attention_mask  # Megatron: True = masked out; SDPA: True = attend
        elif mask_type == AttnMaskType.causal and sq > 1:
            if sq != k.shape[2]:
                raise ValueError("SDPAttention: a causal mask without a mask tensor needs sq == sk")
            causal = True
        p = self.dropout_p if self.training else 0.0
        # Dropout of the attention probabilities is tensor-parallel-region randomness: the tracked RNG, as
        # DotProductAttention (without sequence parallelism) does.
        rng = tensor_parallel.get_cuda_rng_tracker().fork() if p > 0 else nullcontext()
        with rng:
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                dropout_p=p,
                is_causal=causal,
                scale=self.softmax_scale,
                enable_gqa=self.heads != self.groups,
            )  # [b, h, sq, d]
        return out.permute(2, 0, 1, 3).reshape(sq, b, self.heads * self.head_dim)


class BiasFusedColumnParallelLinear(tensor_parallel.ColumnParallelLinear):
    """``ColumnParallelLinear`` (the local spec's fused QKV and first MLP projection) whose bias is added by the
    matmul itself on a GPU.

    megatron-core without Transformer Engine computes ``matmul(x, Wᵀ) + b`` (the QKV projection) or hands ``b`` to
    the MLP, which adds it before the activation: a broadcast add over the [s, b, 3d] or [s, b, 4d] output, about
    63 ms of a 1.22 s step on an H100 at 1.3B. ``F.linear(x, W, b)`` adds it in cuBLAS's GEMM epilogue instead.
    Returned as (output, None): the bias is in the output, so the MLP adds nothing more. Same parameters and
    checkpoints; the same result up to rounding (the epilogue adds in fp32 before rounding to bf16). Only with one
    tensor-parallel rank and none of Megatron's own linear features (sequence parallel, gradient-accumulation
    fusion, deferred wgrad, offloading); otherwise, and on the CPU, it is ``ColumnParallelLinear`` unchanged.
    """

    def forward(self, input_, weight=None, runtime_gather_output=None):
        if (
            weight is None
            and self.bias is not None
            and input_.is_cuda
            and self.tp_group.size() == 1
            and not self.sequence_parallel
            and not self.gradient_accumulation_fusion
            and not self.config.defer_embedding_wgrad_compute
            and getattr(self.config, "_cpu_offloading_context", None) is None
        ):
            return F.linear(input_, self.weight, self.bias), None
        return super().forward(input_, weight, runtime_gather_output)


def have_transformer_engine() -> bool:
    return importlib.util.find_spec("transformer_engine") is not None


def attention_backend(model: ModelConfig, device: str) -> str:
    """The backend ``model.attention_backend`` resolves to on ``device``."""
    if model.attention_backend == "auto":
        return "te" if device == "cuda" and have_transformer_engine() else "sdpa"
    if model.attention_backend == "te" and not have_transformer_engine():
        raise ValueError("model.attention_backend te needs Transformer Engine installed (or use sdpa)")
    return model.attention_backend


def layer_spec(model: ModelConfig, backend: str) -> ModuleSpec:
    """The transformer layer spec of ``backend`` (``te``, ``sdpa`` or ``local``)."""
    if backend == "te":
        return get_gpt_layer_with_transformer_engine_spec()
    spec = get_gpt_layer_local_spec(normalization=model.normalization)
    if backend == "sdpa":
        spec.submodules.self_attention.submodules.core_attention = SDPAttention
    for sub in (spec.submodules.self_attention.submodules, spec.submodules.mlp.submodules):
        name = "linear_qkv" if hasattr(sub, "linear_qkv") else "linear_fc1"
        if getattr(sub, name) is tensor_parallel.ColumnParallelLinear:
            setattr(sub, name, BiasFusedColumnParallelLinear)
    return spec


GPU_FUSIONS = {
    # Fusions megatron-core has without Transformer Engine or Apex (torch.compile'd through megatron.core.jit), the
    # same arithmetic as the unfused ops: the vocab-parallel cross-entropy over the [s, b, V] logits (unfused: a
    # dozen fp32 passes over them), and the residual's bias-dropout-add. Not bias_activation_fusion: its GELU is the
    # tanh approximation, another function than the model's F.gelu (and than the CPU's).
    "cross_entropy_loss_fusion": True,
    "cross_entropy_fusion_impl": "native",
    "bias_dropout_fusion": True,
}
"""``transformer_config`` overrides on CUDA (training.train); the CPU gets ``training.cpu.TRANSFORMER_CONFIG``."""


def transformer_config(cfg: TrainConfig, precision: str, **overrides) -> TransformerConfig:
    """Megatron-Core's ``TransformerConfig`` for ``cfg`` (``overrides``: the CPU's settings, see training.cpu)."""
    m, p = cfg.model, cfg.parallel
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    kwargs = dict(
        num_layers=m.num_layers,
        hidden_size=m.hidden_size,
        num_attention_heads=m.num_attention_heads,
        num_query_groups=m.query_groups,
        ffn_hidden_size=m.ffn_size,
        normalization=m.normalization,
        gated_linear_unit=m.swiglu,
        activation_func=F.silu if m.swiglu else F.gelu,
        init_method_std=m.init_method_std,
        hidden_dropout=m.hidden_dropout,
        attention_dropout=m.attention_dropout,
        tensor_model_parallel_size=p.tensor_model_parallel_size,
        pipeline_model_parallel_size=p.pipeline_model_parallel_size,
        params_dtype=dtype,
        pipeline_dtype=dtype,
        bf16=precision == "bf16",
    )
    kwargs.update(overrides)
    return TransformerConfig(**kwargs)


def build_model(
    cfg: TrainConfig,
    config: TransformerConfig,
    vocab_size: int,
    seq_length: int,
    backend: str,
    pre_process: bool,
    post_process: bool,
) -> GPTModel:
    """This pipeline stage's ``GPTModel`` (the embedding on the first stage, the output layer on the last)."""
    m = cfg.model
    return GPTModel(
        config=config,
        transformer_layer_spec=layer_spec(m, backend),
        vocab_size=m.padded_vocab_size(vocab_size),
        max_sequence_length=seq_length,
        pre_process=pre_process,
        post_process=post_process,
        share_embeddings_and_output_weights=not m.untie_embeddings,
        position_embedding_type=m.position_embedding_type,
        rotary_base=m.rotary_base,
    )


@dataclass(frozen=True)
class FlopCount:
    """Model FLOPs of one token of training (forward + backward), by part."""

    layer_params: int
    """Parameters of the transformer layers' matrices (N without embeddings)."""
    logit_params: int
    """The output projection V × d (a matmul even when tied; the input embedding is a lookup, no FLOPs)."""
    attention: int
    """12 · L · d · s: the scores QKᵀ and their product with V (2 matmuls × 2 FLOPs × 3 for forward and backward),
    counted over the full s × s as PaLM and Megatron-LM do, causal masking not discounted."""

    @property
    def per_token(self) -> int:
        return 6 * (self.layer_params + self.logit_params) + self.attention


def flop_count(model: ModelConfig, vocab_size: int, seq_length: int) -> FlopCount:
    """FLOPs per trained token: 6 · N · tokens for the matmuls (2 forward, 4 backward per weight and token; Kaplan
    et al. 2020) plus the attention term 12 · L · d · s (PaLM, Chowdhery et al. 2022, appendix B). N counts the
    layers' matrices and the output projection; biases and norms are left out. No activation recomputation is
    counted (none is used): this is model FLOPs, the numerator of MFU."""
    d, L = model.hidden_size, model.num_layers
    kv = model.query_groups * (d // model.num_attention_heads)
    attn = d * (d + 2 * kv) + d * d  # fused QKV, output projection
    mlp = (3 if model.swiglu else 2) * d * model.ffn_size
    return FlopCount(
        layer_params=L * (attn + mlp),
        logit_params=model.padded_vocab_size(vocab_size) * d,
        attention=12 * L * d * seq_length,
    )


PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
"""Dense bf16 tensor-core peak per GPU (vendor data sheets; H100 SXM)."""


def peak_flops(device: str, configured: float | None) -> float | None:
    """One device's peak FLOP/s: ``configured``, or the GPU's from its name, or None (CPU: MFU is not logged)."""
    if configured is not None:
        return configured
    if device != "cuda":
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)
