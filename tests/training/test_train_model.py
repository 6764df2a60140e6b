"""training.model: SDPAttention is a drop-in for megatron-core's DotProductAttention (same outputs and gradients
within fp32 tolerance), a GPTModel gives the same loss with either, and the FLOP count is the stated formula."""

from __future__ import annotations

import os
import socket

import pytest
import torch

from training.config import ModelConfig, TrainConfig

pytest.importorskip("megatron.core")
# megatron-core's own notices (no Transformer Engine / Apex; tp_group arguments becoming mandatory)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")

ATOL, RTOL = 1e-5, 1e-5
"""fp32: the two compute the same sums in a different order (fused kernel vs baddbmm + softmax + bmm)."""


@pytest.fixture(scope="module")
def megatron_cpu():
    """A 1-rank gloo group with Megatron's parallel state (TP = PP = 1) and the CPU shims."""
    import torch.distributed as dist
    from megatron.core import parallel_state as ps
    from megatron.core import tensor_parallel

    from training.cpu import cpu_shims

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=0, world_size=1)
    with cpu_shims():
        ps.initialize_model_parallel(1, 1)
        tensor_parallel.model_parallel_cuda_manual_seed(123)
        yield
        ps.destroy_model_parallel()
    dist.destroy_process_group()


def _config(heads=4, groups=None, hidden=64):
    from megatron.core.transformer.transformer_config import TransformerConfig

    return TransformerConfig(
        num_layers=2,
        hidden_size=hidden,
        num_attention_heads=heads,
        num_query_groups=groups,
        use_cpu_initialization=True,
        attention_dropout=0.0,
        hidden_dropout=0.0,
    )


def _pair(config, mask_type):
    from megatron.core.transformer.dot_product_attention import DotProductAttention

    from training.model import SDPAttention

    kw = dict(config=config, layer_number=1, attn_mask_type=mask_type, attention_type="self")
    return DotProductAttention(**kw), SDPAttention(**kw)


def _qkv(s, b, heads, groups, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(s, b, heads, d, generator=g, requires_grad=True)
    k = torch.randn(s, b, groups, d, generator=g, requires_grad=True)
    v = torch.randn(s, b, groups, d, generator=g, requires_grad=True)
    return q, k, v


def _run(module, q, k, v, mask, mask_type):
    q, k, v = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    out = module(q, k, v, mask, attn_mask_type=mask_type, attention_bias=None, packed_seq_params=None)
    out.pow(2).sum().backward()
    return out, (q.grad, k.grad, v.grad)


@pytest.mark.parametrize(("heads", "groups"), [(4, 4), (4, 2), (8, 1)], ids=["mha", "gqa", "mqa"])
def test_sdpa_equals_dot_product_attention_causal(megatron_cpu, heads, groups):
    from megatron.core.transformer.enums import AttnMaskType

    config = _config(heads, groups)
    local, sdpa = _pair(config, AttnMaskType.causal)
    q, k, v = _qkv(s=32, b=3, heads=heads, groups=groups, d=config.kv_channels)
    out_l, grads_l = _run(local, q, k, v, None, AttnMaskType.causal)
    out_s, grads_s = _run(sdpa, q, k, v, None, AttnMaskType.causal)
    assert out_s.shape == out_l.shape == (32, 3, heads * config.kv_channels)
    torch.testing.assert_close(out_s, out_l, atol=ATOL, rtol=RTOL)
    for gs, gl in zip(grads_s, grads_l, strict=True):
        torch.testing.assert_close(gs, gl, atol=ATOL, rtol=RTOL)


def test_sdpa_equals_dot_product_attention_with_a_mask(megatron_cpu):
    """An explicit mask in Megatron's convention (True = masked out), e.g. padding."""
    from megatron.core.transformer.enums import AttnMaskType

    config = _config()
    local, sdpa = _pair(config, AttnMaskType.padding)
    q, k, v = _qkv(s=16, b=2, heads=4, groups=4, d=config.kv_channels, seed=1)
    mask = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(2)) < 0.3
    mask[..., 0] = False  # every query attends to at least one key
    out_l, _ = _run(local, q, k, v, mask, AttnMaskType.padding)
    out_s, _ = _run(sdpa, q, k, v, mask, AttnMaskType.padding)
    torch.testing.assert_close(out_s, out_l, atol=ATOL, rtol=RTOL)


def test_gpt_model_loss_is_the_same_with_either_attention(megatron_cpu):
    from megatron.core.models.gpt import GPTModel

    from training.model import layer_spec

    losses = {}
    tokens = torch.randint(0, 500, (2, 33), generator=torch.Generator().manual_seed(3))
    for backend in ("local", "sdpa"):
        torch.manual_seed(7)
        model = GPTModel(
            config=_config(),
            transformer_layer_spec=layer_spec(ModelConfig(), backend),
            vocab_size=512,
            max_sequence_length=32,
            position_embedding_type="rope",
        )
        positions = torch.arange(32).expand(2, 32)
        losses[backend] = model(tokens[:, :-1], positions, None, labels=tokens[:, 1:]).mean()
    torch.testing.assert_close(losses["sdpa"], losses["local"], atol=ATOL, rtol=RTOL)
    assert abs(losses["sdpa"].item() - torch.log(torch.tensor(512.0)).item()) < 0.5  # untrained: near ln V


def test_sdpa_refuses_what_it_does_not_implement(megatron_cpu):
    from megatron.core.transformer.enums import AttnMaskType
    from megatron.core.transformer.transformer_config import TransformerConfig

    from training.model import SDPAttention

    cfg = TransformerConfig(num_layers=2, hidden_size=64, num_attention_heads=4, window_size=(8, 0))
    with pytest.raises(ValueError, match="sliding-window"):
        SDPAttention(cfg, 1, AttnMaskType.causal, "self")


def test_flop_count_is_the_stated_formula():
    from training.model import flop_count

    m = TrainConfig().model  # L4 d64, 4 heads, ffn 256, GELU
    f = flop_count(m, vocab_size=50257, seq_length=64)
    layer = 4 * (64 * 3 * 64 + 64 * 64) + 4 * (2 * 64 * 256)  # QKV + proj, two MLP matrices
    assert f.layer_params == layer and f.logit_params == 50304 * 64
    assert f.per_token == 6 * (layer + 50304 * 64) + 12 * 4 * 64 * 64
