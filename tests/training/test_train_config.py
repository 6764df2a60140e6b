"""training.config: the YAML is the defaults, every field is documented, bad settings say what to change."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from curation.config import read_settings
from training.config import TrainConfig, load_config

REPO = Path(__file__).resolve().parents[2]
YAML = REPO / "conf" / "train.yaml"


def _keys(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        sub = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        out[f.name] = _keys(type(sub)) if dataclasses.is_dataclass(sub) else None
    return out


def _yaml_keys(d: dict) -> dict:
    return {k: _yaml_keys(v) if isinstance(v, dict) else None for k, v in d.items()}


def test_yaml_lists_every_key_and_equals_the_defaults():
    assert _yaml_keys(read_settings(YAML)) == _keys(TrainConfig)
    assert load_config(YAML) == TrainConfig()


def test_every_field_has_a_docstring():
    tree = ast.parse((REPO / "training" / "config.py").read_text())
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        body = cls.body
        for i, node in enumerate(body):
            if isinstance(node, ast.AnnAssign):
                nxt = body[i + 1] if i + 1 < len(body) else None
                documented = isinstance(nxt, ast.Expr) and isinstance(getattr(nxt, "value", None), ast.Constant)
                assert documented, f"{cls.name}.{node.target.id} has no docstring"


def test_overrides_and_derived_values():
    cfg = load_config(YAML, ["parallel.tensor_model_parallel_size=2", "schedule.global_batch_size=16"])
    assert cfg.parallel.tensor_model_parallel_size == 2
    assert cfg.data_parallel_size(4) == 2 and cfg.num_microbatches(4) == 2
    assert cfg.model.ffn_size == 256 and cfg.model.padded_vocab_size(50257) == 50304
    assert cfg.schedule.decay_iters == cfg.schedule.train_iters
    assert cfg.checkpoint_dir == Path("runs/tiny/checkpoints")
    assert cfg.resolve_device(cuda_available=False) == ("cpu", "fp32")
    assert cfg.resolve_device(cuda_available=True) == ("cuda", "bf16")


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["parallel.tensor_model_parallel_size=3"], "model.num_attention_heads (4) must be a multiple of parallel"),
        (["parallel.pipeline_model_parallel_size=3"], "model.num_layers (4) must be a multiple of parallel"),
        (["model.hidden_size=66"], "model.hidden_size (66) must be a multiple of model.num_attention_heads"),
        (["model.num_query_groups=3"], "must be a multiple of model.num_query_groups (3)"),
        (
            ["model.make_vocab_size_divisible_by=2", "parallel.tensor_model_parallel_size=4"],
            "model.make_vocab_size_divisible_by (2) must be a multiple",
        ),
        (["schedule.global_batch_size=6"], "schedule.global_batch_size (6) must be a multiple of schedule.micro"),
        (["schedule.lr_warmup_iters=300"], "schedule.lr_warmup_iters (300) must be below"),
        (["optimizer.lr=1e-3"], "YAML reads 1e-3 as text"),
        (["optimizer.min_lr=0.5"], "optimizer.min_lr (0.5) must be between 0 and optimizer.lr"),
        (["model.position_embedding_type=alibi"], "model.position_embedding_type must be one of rope"),
        (["model.hidden_dropout=1.0"], "model.hidden_dropout must be in [0, 1)"),
        (["device=cpu", "precision=bf16"], "precision bf16 needs device cuda"),
        (["model.num_heads=4"], "unknown setting(s) num_heads"),
        (["schedule.train_iters=0"], "schedule.train_iters must be a positive integer"),
    ],
)
def test_bad_settings_say_what_to_change(assignments, message):
    with pytest.raises(ValueError) as e:
        load_config(YAML, assignments)
    assert message in str(e.value)


def test_world_size_checks():
    cfg = load_config(YAML, ["parallel.tensor_model_parallel_size=2"])
    with pytest.raises(ValueError, match="3 ranks cannot hold tensor × pipeline parallel = 2 × 1 = 2"):
        cfg.data_parallel_size(3)
    cfg = load_config(YAML, ["schedule.global_batch_size=4"])
    with pytest.raises(ValueError, match=r"multiple of schedule.micro_batch_size × data-parallel size = 4 × 2"):
        cfg.data_parallel_size(2)
    with pytest.raises(ValueError, match="no GPU is visible"):
        load_config(YAML, ["device=cuda"]).resolve_device(cuda_available=False)
