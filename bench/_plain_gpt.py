"""The peer of ``bench/train_gpu.py``: a plain PyTorch GPT (nanoGPT-style) trained on the same blend, same samples.

    python -m bench._plain_gpt --mixture BLEND.json --out DIR --layers L --hidden D --heads H \\
        --micro-batch B --global-batch G --steps N [--device cuda|cpu] [--precision bf16|fp32] [--no-compile]

The model is GPT-2's layout in the shape Megatron-Core gets from the bench's ``--set`` overrides, parameter for
parameter: learned absolute position embeddings, pre-LayerNorm blocks (eps 1e-5), fused QKV and output projection
with biases, a GELU MLP of 4·d, a final LayerNorm and an output layer tied to the word embedding, the vocabulary
padded like training.model (``ModelConfig.padded_vocab_size``). Attention is ``F.scaled_dot_product_attention``
with ``is_causal`` (flash attention on an H100 in bf16). Training: fp32 weights, bf16 autocast on CUDA, the whole
model (loss included) under ``torch.compile``, fused AdamW (betas 0.9/0.95, decay on matrices only), gradient
accumulation over global/micro micro-batches, global-norm clipping at 1.0: the nanoGPT recipe.

Data: the blend's training split through ``training.data.build_datasets`` and ``training.train.microbatches``
(on CUDA ``training.train.Prefetcher``: the next step's samples read into pinned memory on a background thread), the
loader and the sample order Megatron-Core's run uses, so both sides read the same tokens the same way.

Writes ``<out>/log.jsonl`` in training.train's format: a ``start`` event (params, device, precision, attention)
and a ``step`` record per optimizer step (``iteration``, ``loss``, ``step_s``, ``tokens_per_s``). A step is timed
from zeroing the gradients to the loss read back on the host (a device sync), as training.train times its steps.
"""

import argparse
import json
import math
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # [b, h, s, hd]
        return self.proj(y.transpose(1, 2).reshape(b, s, d))


class MLP(nn.Module):
    def __init__(self, d: int, ffn: int):
        super().__init__()
        self.fc = nn.Linear(d, ffn)
        self.proj = nn.Linear(ffn, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.attn = CausalSelfAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.mlp = MLP(d, ffn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT-2 layout; ``forward(tokens, labels)`` returns the mean cross-entropy (fp32)."""

    def __init__(self, layers: int, d: int, heads: int, ffn: int, vocab: int, seq: int, std: float = 0.02):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(seq, d)
        self.blocks = nn.ModuleList(Block(d, heads, ffn) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as Megatron's share_embeddings_and_output_weights
        for name, p in self.named_parameters():
            if name.endswith(".bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                # Megatron's init: N(0, std), the output projections of each block scaled by 1/sqrt(2L)
                scaled = name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight")
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * layers) if scaled else std)
        self.register_buffer("pos", torch.arange(seq), persistent=False)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.wte(tokens) + self.wpe(self.pos[: tokens.shape[1]])
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench._plain_gpt", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mixture", required=True, help="blend JSON (its seq_length and vocabulary are the model's)")
    ap.add_argument("--out", required=True, help="run folder: log.jsonl")
    ap.add_argument("--layers", type=int, required=True)
    ap.add_argument("--hidden", type=int, required=True)
    ap.add_argument("--heads", type=int, required=True)
    ap.add_argument("--vocab-multiple", type=int, default=128, help="pad the vocabulary to a multiple of this")
    ap.add_argument("--micro-batch", type=int, required=True)
    ap.add_argument("--global-batch", type=int, required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    ap.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto", help="bf16 = bf16 autocast")
    ap.add_argument("--no-compile", action="store_true", help="eager mode (torch.compile is the default)")
    ap.add_argument("--lr", type=float, default=1.0e-3)
    ap.add_argument("--seed", type=int, default=1234)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from training.config import ModelConfig
    from training.data import build_datasets, load_blend
    from training.train import Prefetcher, host_microbatches, microbatches

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    precision = args.precision if args.precision != "auto" else ("bf16" if device == "cuda" else "fp32")
    if precision == "bf16" and device != "cuda":
        raise SystemExit("bf16 autocast is for cuda here (use --precision fp32 on the CPU)")
    if args.global_batch % args.micro_batch:
        raise SystemExit("--global-batch must be a multiple of --micro-batch")
    blend = load_blend(args.mixture)
    seq, vocab = int(blend["seq_length"]), int(blend["tokenizer"]["vocab_size"])
    shape = ModelConfig(
        num_layers=args.layers,
        hidden_size=args.hidden,
        num_attention_heads=args.heads,
        make_vocab_size_divisible_by=args.vocab_multiple,
    )
    padded = shape.padded_vocab_size(vocab)

    torch.manual_seed(args.seed)
    if device == "cuda":
        torch.cuda.set_device(0)
        torch.backends.cuda.matmul.allow_tf32 = True  # nanoGPT's setting; the matmuls run in bf16 anyway
        torch.backends.cudnn.allow_tf32 = True
    else:
        torch.set_num_threads(os.cpu_count() or 1)
    model = GPT(args.layers, args.hidden, args.heads, shape.ffn_size, padded, seq, shape.init_method_std).to(device)
    params = sum(p.numel() for p in model.parameters())  # the tied output layer once
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.95),
        eps=1e-8,
        fused=True,
    )
    step_model = model if args.no_compile else torch.compile(model)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()

    gbs, mbs = args.global_batch, args.micro_batch
    num_micro = gbs // mbs
    train_ds, _, _ = build_datasets(blend, (args.steps * gbs, 0, 0))
    prefetch = (
        Prefetcher(lambda first: host_microbatches(train_ds, first, num_micro=num_micro, mbs=mbs, dp_rank=0, dp=1))
        if device == "cuda"
        else None
    )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "log.jsonl"
    log_path.unlink(missing_ok=True)

    def write(record: dict) -> None:
        with open(log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    write(
        {
            "event": "start",
            "time": time.time(),
            "world": 1,
            "device": device,
            "precision": precision,
            "attention": "sdpa",
            "compile": not args.no_compile,
            "seq_length": seq,
            "micro_batches": num_micro,
            "params": params,
        }
    )
    print(f"plain GPT: {params:,} parameters, {device} {precision}, compile={not args.no_compile}", flush=True)
    t_start = time.perf_counter()
    consumed = 0
    for iteration in range(1, args.steps + 1):
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        total = torch.zeros((), device=device)
        if prefetch is not None:
            data = prefetch(consumed, consumed + gbs if iteration < args.steps else None)
        else:
            data = microbatches(train_ds, consumed, num_micro=num_micro, mbs=mbs, dp_rank=0, dp=1, device=device)
        for batch in data:
            with autocast:
                loss = step_model(batch["tokens"], batch["labels"])
            (loss / num_micro).backward()
            total += loss.detach()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        optimizer.step()
        loss_value = float(total / num_micro)  # device sync: the step is done
        dt = time.perf_counter() - t0
        consumed += gbs
        record = {
            "iteration": iteration,
            "loss": loss_value,
            "grad_norm": float(grad_norm),
            "step_s": dt,
            "tokens_per_s": gbs * seq / dt,
            "consumed_samples": consumed,
        }
        write({"event": "step", "time": time.time(), **record})
        print(
            f"[{time.perf_counter() - t_start:7.1f}s] iter {iteration:6d} loss {loss_value:.4f} "
            f"{record['tokens_per_s']:,.0f} tok/s ({dt:.3f} s)",
            flush=True,
        )
    if prefetch is not None:
        prefetch.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
