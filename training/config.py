"""Training configuration: frozen dataclasses loaded from YAML (``conf/train.yaml``) with ``--set`` overrides.

``load_config(path, ["schedule.train_iters=50", ...])`` builds a ``TrainConfig`` with ``curation.config``'s loader
(unknown keys are an error). Everything that can be checked without knowing the world size is checked when the
dataclasses are built; ``TrainConfig.data_parallel_size(world_size)`` checks the rest. Errors are ``ValueError``s
that say what to change. The sequence length and the vocabulary are not here: they come from the blend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

POSITION_EMBEDDINGS = ("rope", "learned_absolute")
NORMALIZATIONS = ("LayerNorm", "RMSNorm")
ATTENTION_BACKENDS = ("auto", "te", "sdpa", "local")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")


def _positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _non_negative(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""
        raise ValueError(f"{name} must be a number, got {value!r}{hint}")


def _choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """The GPT's shape (Megatron-Core ``TransformerConfig`` + ``GPTModel`` arguments)."""

    num_layers: int = 4
    """Transformer layers."""
    hidden_size: int = 64
    """Model width d."""
    num_attention_heads: int = 4
    """Attention heads; hidden_size / heads is the head dimension."""
    num_query_groups: int | None = None
    """Key/value heads for grouped-query attention; None = one per attention head (multi-head attention)."""
    ffn_hidden_size: int | None = None
    """MLP inner width; None = 4 × hidden_size."""
    position_embedding_type: str = "rope"
    """``rope`` (rotary, applied to queries and keys) or ``learned_absolute`` (a learned table, GPT-2 style)."""
    rotary_base: int = 10000
    """RoPE base period (ignored for learned_absolute)."""
    normalization: str = "LayerNorm"
    """``LayerNorm`` or ``RMSNorm``."""
    swiglu: bool = False
    """Gated SiLU MLP (three matrices) instead of GELU (two)."""
    untie_embeddings: bool = False
    """Separate output projection; False shares it with the input embedding (GPT-2)."""
    make_vocab_size_divisible_by: int = 128
    """The embedding is padded to a multiple of this (fast matmul shapes). Unlike Megatron-LM it is not multiplied
    by the tensor-parallel size, so a checkpoint keeps its shape across TP sizes; it must be a multiple of TP."""
    init_method_std: float = 0.02
    """Standard deviation of the normal weight initialization."""
    hidden_dropout: float = 0.0
    """Dropout after the attention and MLP blocks."""
    attention_dropout: float = 0.0
    """Dropout on the attention probabilities."""
    attention_backend: str = "auto"
    """Core attention: ``te`` (Transformer Engine layers), ``sdpa`` (local layers with torch
    ``scaled_dot_product_attention``), ``local`` (Megatron's DotProductAttention, which materializes the s × s
    scores: 0.43× on an H100); ``auto`` = te when Transformer Engine is installed, else sdpa."""

    def __post_init__(self) -> None:
        for name in ("num_layers", "hidden_size", "num_attention_heads", "rotary_base", "make_vocab_size_divisible_by"):
            _positive(f"model.{name}", getattr(self, name))
        if self.num_query_groups is not None:
            _positive("model.num_query_groups", self.num_query_groups)
            if self.num_attention_heads % self.num_query_groups:
                raise ValueError(
                    f"model.num_attention_heads ({self.num_attention_heads}) must be a multiple of "
                    f"model.num_query_groups ({self.num_query_groups})"
                )
        if self.ffn_hidden_size is not None:
            _positive("model.ffn_hidden_size", self.ffn_hidden_size)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"model.hidden_size ({self.hidden_size}) must be a multiple of model.num_attention_heads "
                f"({self.num_attention_heads})"
            )
        _choice("model.position_embedding_type", self.position_embedding_type, POSITION_EMBEDDINGS)
        _choice("model.normalization", self.normalization, NORMALIZATIONS)
        _choice("model.attention_backend", self.attention_backend, ATTENTION_BACKENDS)
        for name in ("hidden_dropout", "attention_dropout", "init_method_std"):
            _number(f"model.{name}", getattr(self, name))
        for name in ("hidden_dropout", "attention_dropout"):
            p = getattr(self, name)
            if not 0.0 <= p < 1.0:
                raise ValueError(f"model.{name} must be in [0, 1), got {p!r}")
        if not self.init_method_std > 0:
            raise ValueError(f"model.init_method_std must be positive, got {self.init_method_std!r}")

    @property
    def ffn_size(self) -> int:
        return self.ffn_hidden_size or 4 * self.hidden_size

    @property
    def query_groups(self) -> int:
        return self.num_query_groups or self.num_attention_heads

    def padded_vocab_size(self, vocab_size: int) -> int:
        """The embedding rows for a tokenizer of ``vocab_size`` ids."""
        m = self.make_vocab_size_divisible_by
        return -(-vocab_size // m) * m


@dataclass(frozen=True)
class ParallelConfig:
    """How the model is split. Data parallelism takes the rest: DP = world size / (TP × PP)."""

    tensor_model_parallel_size: int = 1
    """TP: each layer's matrices are split over this many ranks (Megatron's column/row parallel linears)."""
    pipeline_model_parallel_size: int = 1
    """PP: the layers are split into this many stages, run as a 1F1B pipeline over the micro-batches."""

    def __post_init__(self) -> None:
        _positive("parallel.tensor_model_parallel_size", self.tensor_model_parallel_size)
        _positive("parallel.pipeline_model_parallel_size", self.pipeline_model_parallel_size)

    @property
    def model_parallel_size(self) -> int:
        return self.tensor_model_parallel_size * self.pipeline_model_parallel_size


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW (decoupled weight decay) as Megatron-Core's ``get_megatron_optimizer`` builds it."""

    lr: float = 1.0e-3
    """Peak learning rate, reached at the end of the warmup."""
    min_lr: float = 1.0e-4
    """Learning rate at the end of the cosine decay (and after it)."""
    weight_decay: float = 0.1
    """Decoupled weight decay (biases and norms are exempt, as in Megatron)."""
    adam_beta1: float = 0.9
    """Adam's first-moment decay."""
    adam_beta2: float = 0.95
    """Adam's second-moment decay (0.95 rather than 0.999: steadier with large batches, as GPT-3 and Megatron)."""
    adam_eps: float = 1.0e-8
    """Adam's denominator epsilon."""
    clip_grad: float = 1.0
    """Gradients are scaled down to this global L2 norm when above it; 0 disables clipping."""

    def __post_init__(self) -> None:
        for name in ("lr", "min_lr", "weight_decay", "adam_beta1", "adam_beta2", "adam_eps", "clip_grad"):
            _number(f"optimizer.{name}", getattr(self, name))
        if not self.lr > 0:
            raise ValueError(f"optimizer.lr must be positive, got {self.lr!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"optimizer.min_lr ({self.min_lr}) must be between 0 and optimizer.lr ({self.lr})")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"optimizer.{name} must be in [0, 1)")
        if self.weight_decay < 0 or self.adam_eps <= 0 or self.clip_grad < 0:
            raise ValueError("optimizer.weight_decay and optimizer.clip_grad must be ≥ 0, optimizer.adam_eps > 0")


@dataclass(frozen=True)
class ScheduleConfig:
    """How long, in which batches, and when to log and evaluate. Iterations count optimizer steps."""

    train_iters: int = 200
    """Optimizer steps of the run; the training split is sized to train_iters × global_batch_size samples."""
    lr_warmup_iters: int = 20
    """Linear warmup from 0 to optimizer.lr over this many steps."""
    lr_decay_iters: int | None = None
    """Cosine decay from optimizer.lr to optimizer.min_lr ends at this step (min_lr after it); None = train_iters."""
    micro_batch_size: int = 4
    """Samples per forward/backward on one data-parallel rank."""
    global_batch_size: int = 8
    """Samples per optimizer step over all data-parallel ranks; global / (micro × DP) micro-batches are
    accumulated per step (they are also what fills the pipeline when PP > 1)."""
    eval_interval: int = 50
    """Validation loss every this many steps (and after the last); 0 = never."""
    eval_iters: int = 4
    """Global batches of the blend's validation split per evaluation (always the same first ones, so evaluations
    compare)."""
    log_interval: int = 10
    """Print a line every this many steps (the JSONL log gets every step)."""

    def __post_init__(self) -> None:
        for name in ("train_iters", "micro_batch_size", "global_batch_size", "log_interval"):
            _positive(f"schedule.{name}", getattr(self, name))
        for name in ("lr_warmup_iters", "eval_interval", "eval_iters"):
            _non_negative(f"schedule.{name}", getattr(self, name))
        if self.lr_decay_iters is not None:
            _positive("schedule.lr_decay_iters", self.lr_decay_iters)
        if self.lr_warmup_iters >= self.decay_iters:
            raise ValueError(
                f"schedule.lr_warmup_iters ({self.lr_warmup_iters}) must be below schedule.lr_decay_iters "
                f"({self.decay_iters})"
            )
        if self.global_batch_size % self.micro_batch_size:
            raise ValueError(
                f"schedule.global_batch_size ({self.global_batch_size}) must be a multiple of "
                f"schedule.micro_batch_size ({self.micro_batch_size})"
            )
        if self.eval_interval and not self.eval_iters:
            raise ValueError("schedule.eval_iters must be positive when schedule.eval_interval is (or set it to 0)")

    @property
    def decay_iters(self) -> int:
        return self.lr_decay_iters or self.train_iters


@dataclass(frozen=True)
class CheckpointConfig:
    """Megatron-Core ``dist_checkpointing`` checkpoints: model, optimizer, scheduler, RNG, data position."""

    save: bool = True
    """Write checkpoints at all."""
    dir: str | None = None
    """Folder of ``iter_NNNNNNN`` checkpoints; None = ``<out_dir>/checkpoints``."""
    save_interval: int = 100
    """Save every this many steps and after the last; 0 = only after the last."""
    keep_last: int = 2
    """Newest checkpoints kept; older ones are deleted after each successful save. 0 keeps all."""

    def __post_init__(self) -> None:
        _non_negative("checkpoint.save_interval", self.save_interval)
        _non_negative("checkpoint.keep_last", self.keep_last)


@dataclass(frozen=True)
class TrainConfig:
    """One training run (``python -m training.train --config conf/train.yaml --mixture blend.json``)."""

    out_dir: str = "runs/tiny"
    """Run folder: ``log.jsonl`` (a line per step), ``config.json`` and, by default, the checkpoints."""
    seed: int = 1234
    """Seed of the weights' initialization and of dropout (the data order is the blend's own seed)."""
    device: str = "auto"
    """``cuda`` (NCCL), ``cpu`` (gloo) or ``auto``: cuda when a GPU is visible."""
    precision: str = "auto"
    """``bf16`` (bf16 weights and compute, fp32 main weights in the optimizer; CUDA only), ``fp32``, or ``auto``:
    bf16 on cuda, fp32 on cpu."""
    index_cache: str | None = None
    """Folder of Megatron's dataset index cache (files named by a hash of everything that built them, so runs
    can share one); None = ``<out_dir>/index-cache``."""
    peak_flops: float | None = None
    """Peak FLOP/s of one device for MFU; None = known GPUs by name (bf16 dense), no MFU on the CPU."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The GPT's shape."""
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    """Tensor and pipeline parallel sizes."""
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    """AdamW settings."""
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    """Steps, batches, learning-rate schedule, logging and evaluation."""
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    """Where, how often and how many checkpoints."""

    def __post_init__(self) -> None:
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        if self.device == "cpu" and self.precision == "bf16":
            raise ValueError("precision bf16 needs device cuda (on the CPU use fp32 or auto)")
        _non_negative("seed", self.seed)
        if self.peak_flops is not None:
            _number("peak_flops", self.peak_flops)
        if self.peak_flops is not None and not self.peak_flops > 0:
            raise ValueError("peak_flops must be positive (or null)")
        m, p = self.model, self.parallel
        tp, pp = p.tensor_model_parallel_size, p.pipeline_model_parallel_size
        for name, value in (
            ("model.num_attention_heads", m.num_attention_heads),
            ("model.num_query_groups", m.query_groups),
            ("model.ffn_hidden_size", m.ffn_size),
            ("model.make_vocab_size_divisible_by", m.make_vocab_size_divisible_by),
        ):
            if value % tp:
                raise ValueError(
                    f"{name} ({value}) must be a multiple of parallel.tensor_model_parallel_size ({tp}): "
                    "each tensor-parallel rank holds an equal slice"
                )
        if m.num_layers % pp:
            raise ValueError(
                f"model.num_layers ({m.num_layers}) must be a multiple of parallel.pipeline_model_parallel_size "
                f"({pp}): each stage holds the same number of layers"
            )

    def data_parallel_size(self, world_size: int) -> int:
        """DP for ``world_size`` ranks; ValueError when the ranks or the batch do not divide."""
        mp = self.parallel.model_parallel_size
        if world_size % mp:
            raise ValueError(
                f"{world_size} ranks cannot hold tensor × pipeline parallel = "
                f"{self.parallel.tensor_model_parallel_size} × {self.parallel.pipeline_model_parallel_size} = {mp}: "
                "the number of ranks must be a multiple of it"
            )
        dp = world_size // mp
        s = self.schedule
        if s.global_batch_size % (s.micro_batch_size * dp):
            raise ValueError(
                f"schedule.global_batch_size ({s.global_batch_size}) must be a multiple of "
                f"schedule.micro_batch_size × data-parallel size = {s.micro_batch_size} × {dp}"
            )
        return dp

    def num_microbatches(self, world_size: int) -> int:
        s = self.schedule
        return s.global_batch_size // (s.micro_batch_size * self.data_parallel_size(world_size))

    def resolve_device(self, cuda_available: bool) -> tuple[str, str]:
        """(device, precision) for this machine; ValueError when cuda is asked for and absent."""
        if self.device == "cuda" and not cuda_available:
            raise ValueError("device cuda was asked for but no GPU is visible (set device: auto or cpu)")
        device = "cuda" if self.device == "cuda" or (self.device == "auto" and cuda_available) else "cpu"
        precision = self.precision if self.precision != "auto" else ("bf16" if device == "cuda" else "fp32")
        if device == "cpu" and precision == "bf16":
            raise ValueError("precision bf16 needs device cuda (on the CPU use fp32 or auto)")
        return device, precision

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.checkpoint.dir) if self.checkpoint.dir else Path(self.out_dir) / "checkpoints"

    @property
    def index_cache_dir(self) -> Path:
        return Path(self.index_cache) if self.index_cache else Path(self.out_dir) / "index-cache"


def load_config(path: str | Path | None = None, assignments: Iterable[str] = ()) -> TrainConfig:
    """``TrainConfig`` from a YAML file (defaults when None) with ``section.key=value`` overrides."""
    from curation.config import load_settings

    return load_settings(TrainConfig, path, assignments)
