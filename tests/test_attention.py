"""mmcourse.attention against PyTorch: attention, heads, encoder layers, positions, tokenizers."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmcourse.attention import (
    FrameEmbedding,
    LearnedPositionalEmbedding,
    MultiheadAttention,
    MultimodalTransformer,
    PatchEmbedding,
    SinusoidalPositionalEncoding,
    TransformerEncoder,
    TransformerEncoderLayer,
    WordEmbedding,
    attention_weights,
    causal_mask,
    frame_tokens,
    merge_heads,
    patchify,
    scaled_dot_product_attention,
    sinusoidal_positions,
    split_heads,
)

D = torch.float64
INF = float("-inf")


@pytest.fixture(autouse=True)
def _quiet_mask_type_warnings():
    # PyTorch warns when a bool key_padding_mask meets a float attn_mask; mixing them is tested.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Mm]ismatched.*")
        warnings.filterwarnings("ignore", message=".*enable_nested_tensor.*")
        yield


def _grads(out, leaves):
    """``out`` flattened and the gradients of a non-uniform weighted sum w.r.t. ``leaves``."""
    out = torch.cat([o.flatten() for o in out]) if isinstance(out, tuple) else out.flatten()
    upstream = torch.linspace(-1, 1, out.numel(), dtype=out.dtype)
    return [out, *torch.autograd.grad((out * upstream).sum(), leaves, allow_unused=True)]


def _assert_all_close(ours, ref):
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


def _leaf(shape, generator=None):
    return torch.randn(shape, dtype=D, generator=generator).requires_grad_()


# ---------------------------------------------------------------------------------------------
# scaled_dot_product_attention


@st.composite
def sdpa_case(draw):
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))  # e.g. (N, H)

    def some_batch(full=batch):  # each batch dimension either full or 1 (broadcast)
        return tuple(b if b > 1 and draw(st.booleans()) else 1 for b in full)

    lq, lk = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    e, ev = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    q_batch, k_batch = some_batch(), some_batch()
    scores_batch = torch.broadcast_shapes(q_batch, k_batch)
    # PyTorch broadcasts value, and the mask, into the batch of the scores, not beyond
    q, k, v = (*q_batch, lq, e), (*k_batch, lk, e), (*some_batch(scores_batch), lk, ev)
    mask = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    mask_batch = some_batch(scores_batch)[draw(st.integers(0, len(batch))) :]  # fewer dims
    mask_shape = (*mask_batch, lq if draw(st.booleans()) else 1, lk)
    # With is_causal, PyTorch's kernel returns NaN for a scale <= 0 (it scales the queries and
    # keys by the square root of the scale), where the formula, and ours, is well defined.
    low = 0.05 if mask == "causal" else -2.0
    scale = draw(st.none() | st.floats(low, 2.0))
    return q, k, v, mask, mask_shape, scale, draw(st.integers(0, 2**31 - 1))


@settings(max_examples=80, deadline=None)
@given(sdpa_case())
def test_sdpa_matches_torch(case):
    q_shape, k_shape, v_shape, kind, mask_shape, scale, seed = case
    g = torch.Generator().manual_seed(seed)
    q, k, v = _leaf(q_shape, g), _leaf(k_shape, g), _leaf(v_shape, g)
    leaves, kwargs = [q, k, v], {"scale": scale}
    if kind == "bool":  # True = may attend; with few keys whole rows are often all False
        kwargs["attn_mask"] = torch.rand(mask_shape, generator=g) < 0.6
    elif kind == "float":
        mask = torch.randn(mask_shape, dtype=D, generator=g)
        mask[torch.rand(mask_shape, generator=g) < 0.3] = INF
        kwargs["attn_mask"] = mask.requires_grad_()
        leaves.append(kwargs["attn_mask"])
    elif kind == "causal":
        kwargs["is_causal"] = True
    ours = _grads(scaled_dot_product_attention(q, k, v, **kwargs), leaves)
    ref = _grads(F.scaled_dot_product_attention(q, k, v, **kwargs), leaves)
    _assert_all_close(ours, ref)


def test_sdpa_is_the_formula_and_the_default_scale_is_one_over_sqrt_e():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, dtype=D, generator=g) for _ in range(3))
    expected = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(7), dim=-1) @ v
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), expected)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, scale=0.0), v.mean(1, keepdim=True).expand(2, 3, 7)
    )
    weights = attention_weights(q, k)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, dtype=D))
    torch.testing.assert_close(weights @ v, expected)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_a_row_that_masks_every_key_gives_zeros_as_torch(kind):
    # PyTorch's reference: the output row and its gradients are 0, not nan (a plain softmax
    # would divide 0 by 0).
    g = torch.Generator().manual_seed(3)
    q, k, v = _leaf((2, 3, 4), g), _leaf((2, 5, 4), g), _leaf((2, 5, 6), g)
    allowed = torch.ones(3, 5, dtype=torch.bool)
    allowed[1] = False  # query 1 may attend to no key
    allowed[2, :2] = False
    mask = allowed if kind == "bool" else torch.zeros(3, 5, dtype=D).masked_fill(~allowed, INF)
    ours = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert not ours.isnan().any()
    assert (ours[:, 1] == 0).all() and (ours[:, [0, 2]] != 0).all()
    weights = attention_weights(q, k, attn_mask=mask)
    assert (weights[:, 1] == 0).all()
    torch.testing.assert_close(weights[:, [0, 2]].sum(-1), torch.ones(2, 2, dtype=D))
    ours_all = _grads(ours, [q, k, v])
    assert (ours_all[1][:, 1] == 0).all()  # d out / d query 1 is zero
    _assert_all_close(
        ours_all, _grads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask), [q, k, v])
    )
    naive = torch.softmax((q @ k.transpose(1, 2)).masked_fill(~allowed, INF), dim=-1)
    assert naive[:, 1].isnan().all()  # what the safe softmax avoids


def test_causal_mask_is_top_left_and_matches_torch():
    torch.testing.assert_close(causal_mask(4), nn.Transformer.generate_square_subsequent_mask(4))
    mask = causal_mask(2, 4, dtype=D)
    expected = torch.tensor([[0, INF, INF, INF], [0, 0, INF, INF]], dtype=D)
    torch.testing.assert_close(mask, expected)
    q, k, v = (torch.randn(1, n, 3, dtype=D) for n in (2, 4, 4))
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, is_causal=True),
        scaled_dot_product_attention(q, k, v, attn_mask=mask),
    )


def test_sdpa_dropout_zeroes_weights_and_rescales_the_rest():
    torch.manual_seed(0)
    q, k = torch.randn(2, 6, 3, dtype=D), torch.randn(2, 8, 3, dtype=D)
    identity = torch.eye(8, dtype=D).expand(2, 8, 8)  # the output is the weights themselves
    dropped = scaled_dot_product_attention(q, k, identity, dropout_p=0.25)
    weights = attention_weights(q, k)
    kept = dropped != 0
    assert 0 < kept.sum() < kept.numel()
    torch.testing.assert_close(dropped[kept], weights[kept] / 0.75)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, identity, dropout_p=0.0), weights)


@pytest.mark.parametrize(
    ("shapes", "kwargs", "error", "facts"),
    [
        (((2, 3, 4), (2, 5, 3), (2, 5, 6)), {}, ValueError, ["(2, 3, 4)", "(2, 5, 3)", "E"]),
        (((2, 3, 4), (2, 5, 4), (2, 6, 6)), {}, ValueError, ["(2, 5, 4)", "(2, 6, 6)", "S"]),
        (
            ((2, 3, 4), (3, 5, 4), (3, 5, 6)),
            {},
            ValueError,
            ["broadcast", "(2, 3, 4)", "(3, 5, 4)"],
        ),
        (((4,), (5, 4), (5, 6)), {}, ValueError, ["query", "(4,)", "at least 2"]),
        (
            ((2, 3, 4), (2, 5, 4), (2, 5, 6)),
            {"attn_mask": torch.ones(3, 4, dtype=torch.bool)},
            ValueError,
            ["attn_mask", "(2, 3, 5)", "(3, 4)"],
        ),
        (
            ((2, 3, 4), (2, 5, 4), (2, 5, 6)),
            {"attn_mask": torch.ones(5, dtype=torch.bool)},
            ValueError,
            ["attn_mask", "(2, 3, 5)", "(5,)"],
        ),
        (
            ((2, 3, 4), (2, 5, 4), (2, 5, 6)),
            {"attn_mask": torch.ones(3, 5, dtype=torch.long)},
            ValueError,
            ["attn_mask", "bool or floating-point", "torch.int64"],
        ),
        (
            ((2, 3, 4), (2, 5, 4), (2, 5, 6)),
            {"attn_mask": torch.zeros(3, 5), "is_causal": True},
            ValueError,
            ["attn_mask", "is_causal"],
        ),
        (((2, 3, 4), (2, 5, 4), (2, 5, 6)), {"dropout_p": 1.5}, ValueError, ["dropout_p", "1.5"]),
        (((2, 3, 4), (2, 5, 4), (2, 5, 6)), {"scale": "big"}, TypeError, ["scale", "big"]),
        (((2, 3, 4), (2, 5, 4), (2, 5, 6)), {"is_causal": 1}, TypeError, ["is_causal", "bool"]),
    ],
)
def test_sdpa_rejects_bad_input(shapes, kwargs, error, facts):
    q, k, v = (torch.zeros(s) for s in shapes)
    with pytest.raises(error) as info:
        scaled_dot_product_attention(q, k, v, **kwargs)
    for fact in facts:
        assert fact in str(info.value)


def test_sdpa_rejects_bad_types():
    x = torch.zeros(2, 3, 4)
    with pytest.raises(TypeError, match="query must be a torch.Tensor, got list"):
        scaled_dot_product_attention([[0.0]], x, x)
    with pytest.raises(
        TypeError, match="key must be a floating-point tensor, got dtype torch.int64"
    ):
        scaled_dot_product_attention(x, x.long(), x)
    with pytest.raises(TypeError, match="torch.float32, torch.float64"):
        scaled_dot_product_attention(x, x.double(), x)


# ---------------------------------------------------------------------------------------------
# Heads


def test_split_and_merge_heads():
    x = torch.arange(2 * 3 * 6.0).reshape(2, 3, 6)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 3, 2)
    torch.testing.assert_close(heads[:, 1], x[:, :, 2:4])  # head h holds features h*D..(h+1)*D-1
    torch.testing.assert_close(merge_heads(heads), x)
    torch.testing.assert_close(split_heads(x, 1)[:, 0], x)
    with pytest.raises(ValueError) as info:
        split_heads(x, 4)
    assert all(s in str(info.value) for s in ("E=6", "(2, 3, 6)", "num_heads=4"))
    with pytest.raises(ValueError, match=r"x must be a 3-D tensor, got a 2-D tensor of shape"):
        split_heads(x[0], 3)
    with pytest.raises(ValueError, match="x must be a 4-D tensor"):
        merge_heads(x)
    with pytest.raises(ValueError, match="num_heads must be an int >= 1, got 0"):
        split_heads(x, 0)


# ---------------------------------------------------------------------------------------------
# MultiheadAttention


def _mha_leaves(module, *inputs):
    names = sorted(name for name, _ in module.named_parameters())
    return [*inputs, *(module.get_parameter(name) for name in names)]


@st.composite
def mha_case(draw):
    heads, head_dim = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    embed = heads * head_dim
    cross = draw(st.booleans())
    kdim = draw(st.integers(1, 5)) if cross else None
    vdim = draw(st.integers(1, 5)) if cross else None
    n, lq = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    lk = draw(st.integers(1, 4)) if cross else lq
    return dict(
        heads=heads,
        embed=embed,
        kdim=kdim,
        vdim=vdim,
        bias=draw(st.booleans()),
        n=n,
        lq=lq,
        lk=lk,
        padding=draw(st.sampled_from(["none", "bool", "float"])),
        attn=draw(st.sampled_from(["none", "bool2d", "bool3d", "float2d", "float3d"])),
        need_weights=draw(st.booleans()),
        average=draw(st.booleans()),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def _random_mask(shape, kind, generator):
    """A bool (True forbids) or float mask that never forbids key 0, so no row is all masked."""
    forbid = torch.rand(shape, generator=generator) < 0.4
    forbid[..., 0] = False
    if kind.startswith("bool"):
        return forbid
    return torch.randn(shape, dtype=D, generator=generator).masked_fill(forbid, INF)


@settings(max_examples=60, deadline=None)
@given(mha_case())
def test_multihead_attention_matches_torch(c):
    torch.manual_seed(c["seed"])
    g = torch.Generator().manual_seed(c["seed"])
    reference = nn.MultiheadAttention(
        c["embed"], c["heads"], bias=c["bias"], kdim=c["kdim"], vdim=c["vdim"], batch_first=True
    ).double()
    with torch.no_grad():  # the biases start at 0: make them count
        for p in reference.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=D, generator=g))
    ours = MultiheadAttention.from_torch(reference)
    query = _leaf((c["n"], c["lq"], c["embed"]), g)
    key = _leaf((c["n"], c["lk"], c["kdim"] or c["embed"]), g)
    value = _leaf((c["n"], c["lk"], c["vdim"] or c["embed"]), g)
    kwargs = dict(need_weights=c["need_weights"], average_attn_weights=c["average"])
    if c["padding"] != "none":
        kwargs["key_padding_mask"] = _random_mask((c["n"], c["lk"]), c["padding"], g)
    if c["attn"] != "none":
        shape = (c["lq"], c["lk"]) if c["attn"].endswith("2d") else (c["n"] * c["heads"],)
        shape = shape if len(shape) == 2 else (*shape, c["lq"], c["lk"])
        kwargs["attn_mask"] = _random_mask(shape, c["attn"], g)

    def run(module):
        out, weights = module(query, key, value, **kwargs)
        assert (weights is None) == (not c["need_weights"])
        result = out if weights is None else (out, weights)
        return _grads(result, _mha_leaves(module, query, key, value))

    _assert_all_close(run(ours), run(reference))


def test_multihead_attention_weight_shapes_and_a_fully_masked_row():
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(6, 2, batch_first=True).double()
    ours = MultiheadAttention.from_torch(reference)
    x = _leaf((2, 4, 6))
    padding = torch.zeros(2, 4, dtype=torch.bool)
    padding[1] = True  # the second sequence is all padding: no query of it may attend
    out, weights = ours(x, x, x, key_padding_mask=padding, average_attn_weights=False)
    assert out.shape == (2, 4, 6) and weights.shape == (2, 2, 4, 4)
    assert ours(x, x, x)[1].shape == (2, 4, 4)
    assert (weights[1] == 0).all() and not out.isnan().any()
    torch.testing.assert_close(out[1], ours.out_proj.bias.expand(4, 6))  # zero mix, then W_o
    # PyTorch: need_weights=False (its scaled_dot_product_attention) gives the same zeros...
    ref_out, _ = reference(x, x, x, key_padding_mask=padding, need_weights=False)
    _assert_all_close(_grads(out, _mha_leaves(ours, x)), _grads(ref_out, _mha_leaves(reference, x)))
    # ... but need_weights=True gives nan there: ours stays 0 (the documented difference).
    ref_out, ref_weights = reference(x, x, x, key_padding_mask=padding, average_attn_weights=False)
    assert ref_out[1].isnan().all() and ref_weights[1].isnan().all()
    torch.testing.assert_close(out[0], ref_out[0])
    torch.testing.assert_close(weights[0], ref_weights[0])


@pytest.mark.parametrize("dims", [{}, {"kdim": 3, "vdim": 5}])
def test_multihead_attention_parameters_follow_torch(dims):
    torch.manual_seed(0)
    reference = nn.MultiheadAttention(8, 2, batch_first=True, **dims)
    ours = MultiheadAttention(8, 2, **dims)
    ref_params = dict(reference.named_parameters())
    assert {n: p.shape for n, p in ours.named_parameters()} == {
        n: p.shape for n, p in ref_params.items()
    }
    assert (ours.in_proj_bias == 0).all() and (ours.out_proj.bias == 0).all()
    bound = math.sqrt(6 / (8 + 8))  # Xavier-uniform of an (E, E) block
    assert 0.5 * bound < ours.projection_weights()[0].abs().max() <= bound
    assert [n for n, _ in MultiheadAttention(8, 2, bias=False).named_parameters()] == [
        n for n, _ in nn.MultiheadAttention(8, 2, bias=False).named_parameters()
    ]


def test_multihead_attention_from_torch_copies_and_dropout():
    reference = nn.MultiheadAttention(4, 2, dropout=0.5, batch_first=True)
    ours = MultiheadAttention.from_torch(reference)
    assert ours.dropout == 0.5
    with torch.no_grad():
        ours.in_proj_weight.zero_()
    assert reference.in_proj_weight.abs().sum() > 0  # a copy, not shared tensors
    x = torch.randn(2, 5, 4)
    ours.train()
    _, weights = ours(x, x, x, average_attn_weights=False)
    assert (weights == 0).any()  # dropped attention weights (kept ones are 2 * 1/5 here)
    assert torch.isclose(weights[weights != 0], torch.tensor(0.4)).all()
    ours.eval()
    torch.testing.assert_close(ours(x, x, x)[1], torch.full((2, 5, 5), 0.2))


@pytest.mark.parametrize(
    ("kwargs", "facts"),
    [
        ({"key_padding_mask": torch.zeros(3, 5, dtype=torch.bool)}, ["(2, 5)", "(3, 5)"]),
        ({"key_padding_mask": torch.zeros(2, 4, dtype=torch.bool)}, ["(2, 5)", "(2, 4)"]),
        ({"key_padding_mask": torch.zeros(2, 5, dtype=torch.int64)}, ["key_padding_mask", "int64"]),
        ({"attn_mask": torch.zeros(5, 4)}, ["(4, 5)", "(8, 4, 5)", "(5, 4)"]),
        ({"attn_mask": torch.zeros(2, 4, 5)}, ["(4, 5)", "(8, 4, 5)", "(2, 4, 5)"]),
        ({"attn_mask": torch.zeros(4, 5, dtype=torch.uint8)}, ["attn_mask", "uint8"]),
    ],
)
def test_multihead_attention_rejects_bad_masks(kwargs, facts):
    mha = MultiheadAttention(8, 4)
    q, kv = torch.zeros(2, 4, 8), torch.zeros(2, 5, 8)
    with pytest.raises(ValueError) as info:
        mha(q, kv, kv, **kwargs)
    for fact in facts:
        assert fact in str(info.value)


def test_multihead_attention_rejects_bad_inputs_and_settings():
    mha = MultiheadAttention(6, 2, kdim=3, vdim=4)
    q, k, v = torch.zeros(2, 4, 6), torch.zeros(2, 5, 3), torch.zeros(2, 5, 4)
    with pytest.raises(ValueError, match=r"key must have shape \(N, length, 3\), got \(2, 5, 6\)"):
        mha(q, torch.zeros(2, 5, 6), v)
    with pytest.raises(ValueError, match=r"batch size N.*\(2, 4, 6\).*\(3, 5, 3\)"):
        mha(q, torch.zeros(3, 5, 3), torch.zeros(3, 5, 4))
    with pytest.raises(ValueError, match=r"same length S.*\(2, 5, 3\).*\(2, 6, 4\)"):
        mha(q, k, torch.zeros(2, 6, 4))
    with pytest.raises(ValueError, match="query must be a 3-D tensor, got a 2-D"):
        mha(q[0], k, v)
    with pytest.raises(ValueError, match="embed_dim=10 and num_heads=3"):
        MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="dropout must be .* got -0.1"):
        MultiheadAttention(4, 2, dropout=-0.1)
    with pytest.raises(TypeError, match="MultiheadAttention.from_torch expects"):
        MultiheadAttention.from_torch(nn.Linear(3, 3))
    with pytest.raises(ValueError, match="batch_first=True"):
        MultiheadAttention.from_torch(nn.MultiheadAttention(4, 2))
    with pytest.raises(ValueError, match="add_bias_kv"):
        MultiheadAttention.from_torch(
            nn.MultiheadAttention(4, 2, add_bias_kv=True, batch_first=True)
        )


# ---------------------------------------------------------------------------------------------
# Transformer encoder


def _torch_layer(d_model, heads, ff, **kwargs):
    return nn.TransformerEncoderLayer(d_model, heads, ff, batch_first=True, **kwargs)


@settings(max_examples=40, deadline=None)
@given(
    heads=st.integers(1, 3),
    head_dim=st.integers(1, 3),
    ff=st.integers(1, 6),
    norm_first=st.booleans(),
    activation=st.sampled_from(["relu", "gelu"]),
    bias=st.booleans(),
    n=st.integers(1, 3),
    length=st.integers(1, 5),
    src_mask=st.sampled_from(["none", "causal", "bool"]),
    padding=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_encoder_layer_matches_torch_in_eval_mode(
    heads, head_dim, ff, norm_first, activation, bias, n, length, src_mask, padding, seed
):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    d_model = heads * head_dim
    reference = _torch_layer(
        d_model, heads, ff, activation=activation, norm_first=norm_first, bias=bias
    )
    reference = reference.double().eval()
    with torch.no_grad():  # the norms start at (1, 0) and attention biases at 0: perturb
        for p in reference.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=D, generator=g))
    ours = TransformerEncoderLayer.from_torch(reference).eval()
    x = _leaf((n, length, d_model), g)
    kwargs = {}
    if src_mask == "causal":
        kwargs["src_mask"] = causal_mask(length, dtype=D)
    elif src_mask == "bool":  # True forbids; a row may forbid every key: zeros as in PyTorch
        kwargs["src_mask"] = torch.rand(length, length, generator=g) < 0.3
    if padding:
        kwargs["src_key_padding_mask"] = torch.rand(n, length, generator=g) < 0.3
    ours_all = _grads(ours(x, **kwargs), _mha_leaves(ours, x))
    ref_all = _grads(reference(x, **kwargs), _mha_leaves(reference, x))
    _assert_all_close(ours_all, ref_all)


def test_encoder_layer_parameters_and_torch_fast_path():
    torch.manual_seed(0)
    ours = TransformerEncoderLayer(8, 2, 16)
    reference = _torch_layer(8, 2, 16)
    assert {n: p.shape for n, p in ours.named_parameters()} == {
        n: p.shape for n, p in reference.named_parameters()
    }
    # Without gradients, eval mode takes PyTorch's fused fast path: float32, same numbers.
    reference.eval()
    ours = TransformerEncoderLayer.from_torch(reference).eval()
    x = torch.randn(3, 5, 8)
    padding = torch.zeros(3, 5, dtype=torch.bool)
    padding[0, 3:] = True
    with torch.no_grad():
        torch.testing.assert_close(
            ours(x, src_key_padding_mask=padding), reference(x, src_key_padding_mask=padding)
        )


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_matches_torch(norm_first):
    torch.manual_seed(1)
    layer = _torch_layer(6, 3, 10, activation="gelu", norm_first=norm_first).double()
    reference = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(6).double()).eval()
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.1 * torch.randn_like(p))  # the three layers now differ
    ours = TransformerEncoder.from_torch(reference).eval()
    assert len(ours.layers) == 3 and isinstance(ours.norm, nn.LayerNorm)
    x = _leaf((2, 4, 6))
    padding = torch.tensor([[False] * 4, [False, False, True, True]])
    mask = causal_mask(4, dtype=D)
    ours_all = _grads(ours(x, mask, padding), _mha_leaves(ours, x))
    ref_all = _grads(reference(x, mask, padding), _mha_leaves(reference, x))
    _assert_all_close(ours_all, ref_all)
    # Eval without gradients: PyTorch's post-norm stack runs on nested tensors and returns 0 at
    # padded positions; ours computes them as usual. The real positions agree.
    with torch.no_grad():
        ours_out, ref_out = ours(x, src_key_padding_mask=padding), reference(x, None, padding)
    torch.testing.assert_close(ours_out[~padding], ref_out[~padding])


def test_encoder_stack_copies_the_layer():
    layer = TransformerEncoderLayer(4, 2, 8, dropout=0.0)
    stack = TransformerEncoder(layer, 2)
    first, second = stack.layers
    torch.testing.assert_close(first.linear1.weight, layer.linear1.weight)  # same start
    with torch.no_grad():
        first.linear1.weight.zero_()
    assert second.linear1.weight.abs().sum() > 0 and layer.linear1.weight.abs().sum() > 0
    with pytest.raises(TypeError, match="encoder_layer must be"):
        TransformerEncoder(_torch_layer(4, 2, 8), 2)
    with pytest.raises(ValueError, match="num_layers must be an int >= 1, got 0"):
        TransformerEncoder(layer, 0)


def test_encoder_layer_errors():
    with pytest.raises(ValueError, match="d_model=10 and nhead=4"):
        TransformerEncoderLayer(10, 4)
    with pytest.raises(ValueError, match="activation must be 'relu' or 'gelu', got str 'tanh'"):
        TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="activation must be"):
        TransformerEncoderLayer.from_torch(_torch_layer(8, 2, 8, activation=F.silu))
    with pytest.raises(ValueError, match="batch_first=True"):
        TransformerEncoderLayer.from_torch(nn.TransformerEncoderLayer(8, 2))
    with pytest.raises(TypeError, match="TransformerEncoderLayer.from_torch expects"):
        TransformerEncoderLayer.from_torch(nn.MultiheadAttention(8, 2))
    layer = TransformerEncoderLayer(8, 2)
    with pytest.raises(ValueError) as info:
        layer(torch.zeros(2, 5, 8), src_key_padding_mask=torch.zeros(3, 5, dtype=torch.bool))
    assert "(2, 5)" in str(info.value) and "(3, 5)" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Positions


@settings(max_examples=40, deadline=None)
@given(length=st.integers(1, 12), dim=st.integers(1, 9), base=st.sampled_from([10000.0, 50.0]))
def test_sinusoidal_positions_follow_the_formula(length, dim, base):
    pe = sinusoidal_positions(length, dim, base, dtype=D)
    assert pe.shape == (length, dim)
    for p in range(length):
        for j in range(dim):
            angle = p / base ** ((j - j % 2) / dim)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert math.isclose(pe[p, j].item(), expected, abs_tol=1e-12)


def test_sinusoidal_dot_products_depend_only_on_the_offset():
    pe = sinusoidal_positions(40, 16, dtype=D)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0] * 8, dtype=D))
    gram = pe @ pe.T
    for offset in (1, 5, 17):
        diagonal = gram.diagonal(offset)
        torch.testing.assert_close(diagonal, diagonal[0].expand_as(diagonal))
    assert sinusoidal_positions(3, 4).dtype == torch.float32


def test_positional_modules():
    x = torch.randn(2, 5, 6)
    sinusoidal = SinusoidalPositionalEncoding(6, max_len=8)
    torch.testing.assert_close(sinusoidal(x), x + sinusoidal_positions(5, 6))
    assert list(sinusoidal.parameters()) == [] and "pe" not in sinusoidal.state_dict()
    torch.testing.assert_close(
        sinusoidal(x.double()), x.double() + sinusoidal_positions(5, 6, dtype=D)
    )

    torch.manual_seed(0)
    learned = LearnedPositionalEmbedding(8, 6)
    table = nn.Embedding(8, 6)
    table.weight.data.copy_(learned.weight.data)
    x = x.requires_grad_()
    ours = learned(x)
    torch.testing.assert_close(ours, x + table(torch.arange(5)))
    (grad,) = torch.autograd.grad(ours.sum(), [learned.weight])
    torch.testing.assert_close(grad[:5], torch.full((5, 6), 2.0))  # summed over the batch of 2
    assert (grad[5:] == 0).all()
    assert 0.01 < LearnedPositionalEmbedding(500, 64).weight.std() < 0.03

    for module in (sinusoidal, learned):
        with pytest.raises(ValueError, match=r"L <= max_len=8, got \(2, 9, 6\)"):
            module(torch.zeros(2, 9, 6))
        with pytest.raises(ValueError, match=r"\(N, L, 6\) .* got \(2, 5, 7\)"):
            module(torch.zeros(2, 5, 7))
    with pytest.raises(ValueError, match="dim must be an int >= 1, got 0"):
        sinusoidal_positions(4, 0)


# ---------------------------------------------------------------------------------------------
# Tokenizers


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 2),
    channels=st.integers(1, 3),
    embed=st.integers(1, 5),
    patch=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    grid=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    seed=st.integers(0, 2**31 - 1),
)
def test_patch_embedding_is_a_strided_convolution(n, channels, embed, patch, grid, seed):
    torch.manual_seed(seed)
    conv = nn.Conv2d(channels, embed, kernel_size=patch, stride=patch).double()
    ours = PatchEmbedding.from_torch(conv)
    x = _leaf((n, channels, grid[0] * patch[0], grid[1] * patch[1]))
    tokens = ours(x)
    assert tokens.shape == (n, grid[0] * grid[1], embed)
    reference = conv(x).flatten(2).transpose(1, 2)  # (N, E, rows, cols) -> (N, P, E)
    _assert_all_close(
        _grads(tokens, [x, ours.weight, ours.bias]), _grads(reference, [x, conv.weight, conv.bias])
    )


def test_patch_embedding_equals_torchvision_vit_tokenizer():
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    vit = VisionTransformer(
        image_size=12, patch_size=4, num_layers=1, num_heads=2, hidden_dim=6, mlp_dim=8
    )
    ours = PatchEmbedding.from_torch(vit.conv_proj)
    assert ours.patch_size == (4, 4)
    images = torch.randn(2, 3, 12, 12)
    torch.testing.assert_close(ours(images), vit._process_input(images))


def test_patchify_and_patch_embedding_errors():
    images = torch.arange(2 * 4 * 6.0).reshape(1, 2, 4, 6)
    patches = patchify(images, 2)
    assert patches.shape == (1, 6, 8)
    torch.testing.assert_close(patches[0, 1], images[0, :, 0:2, 2:4].flatten())  # row-major
    torch.testing.assert_close(patches[0, 3], images[0, :, 2:4, 0:2].flatten())
    with pytest.raises(ValueError) as info:
        patchify(images, 4)
    assert "(4, 4)" in str(info.value) and "(1, 2, 4, 6)" in str(info.value)
    with pytest.raises(ValueError, match=r"3 channels \(N, 3, H, W\), got shape \(1, 2, 4, 6\)"):
        PatchEmbedding(3, 5, 2)(images)
    with pytest.raises(ValueError, match="stride == kernel_size"):
        PatchEmbedding.from_torch(nn.Conv2d(3, 4, kernel_size=4, stride=2))
    with pytest.raises(ValueError, match="stride == kernel_size"):
        PatchEmbedding.from_torch(nn.Conv2d(3, 4, kernel_size=2, stride=2, padding=1))
    with pytest.raises(ValueError, match="patch_size must be an int or a pair of ints >= 1"):
        PatchEmbedding(3, 4, 0)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 2),
    mels=st.integers(1, 5),
    steps=st.integers(1, 13),
    frames=st.integers(1, 4),
)
def test_frame_tokens(n, mels, steps, frames):
    spectrogram = torch.randn(n, mels, steps, dtype=D)
    if steps < frames:
        with pytest.raises(ValueError) as info:
            frame_tokens(spectrogram, frames)
        assert f"T={steps}" in str(info.value) and f"frames={frames}" in str(info.value)
        return
    tokens = frame_tokens(spectrogram, frames)
    assert tokens.shape == (n, steps // frames, mels * frames)
    for k in range(steps // frames):
        for m in range(mels):
            for j in range(frames):
                assert tokens[0, k, m * frames + j] == spectrogram[0, m, k * frames + j]
    usable = spectrogram[:, :, : steps // frames * frames]
    torch.testing.assert_close(tokens, patchify(usable[:, None], (mels, frames)))


def test_frame_tokens_rejects_bad_input():
    with pytest.raises(ValueError, match=r"spectrogram must be a 3-D tensor, got a 2-D"):
        frame_tokens(torch.zeros(4, 10), 2)
    with pytest.raises(ValueError, match="frames must be an int >= 1, got 0"):
        frame_tokens(torch.zeros(1, 4, 10), 0)


# ---------------------------------------------------------------------------------------------
# Tokenizers for text and audio, and the multimodal Transformer


def test_word_embedding_is_an_embedding_with_a_padding_mask():
    torch.manual_seed(0)
    words = WordEmbedding(7, 4)
    tokens = torch.tensor([[3, 5, 2], [6, 0, 0]])
    lengths = torch.tensor([3, 1])
    embedded, padding = words(tokens, lengths)
    torch.testing.assert_close(embedded, words.embedding.weight[tokens])
    assert padding.tolist() == [[False, False, False], [False, True, True]]
    assert (embedded[1, 1:] == 0).all()  # the <pad> row stays zero
    with pytest.raises(ValueError) as info:
        words(tokens, torch.tensor([3, 1, 2]))
    assert "lengths" in str(info.value) and "(2,)" in str(info.value) and "(3,)" in str(info.value)
    with pytest.raises(ValueError, match=r"ids from 0 to 6 \(vocab_size=7\).*from 2 to 7"):
        words(torch.tensor([[2, 7]]), torch.tensor([2]))
    with pytest.raises(
        TypeError, match="tokens must be an integer tensor, got dtype torch.float32"
    ):
        words(tokens.float(), lengths)


def test_frame_embedding_is_a_patch_embedding_of_full_height():
    torch.manual_seed(0)
    frames = FrameEmbedding(5, 3, frames=2).double()
    spectrogram = _leaf((2, 5, 7))
    ours = frames(spectrogram)
    assert ours.shape == (2, 3, 3)  # 7 frames -> 3 tokens of 2 frames, the last frame dropped
    patches = PatchEmbedding(1, 3, (5, 2)).double()
    with torch.no_grad():
        patches.weight.copy_(frames.linear.weight.view(3, 1, 5, 2))
        patches.bias.copy_(frames.linear.bias)
    reference = patches(spectrogram[:, None, :, :6])
    _assert_all_close(_grads(ours, [spectrogram]), _grads(reference, [spectrogram]))
    with pytest.raises(ValueError, match=r"n_mels=5, T\), got \(2, 4, 7\)"):
        frames(torch.zeros(2, 4, 7, dtype=D))


def _tokenizers(d=8, vocab=9):
    return {
        "image": PatchEmbedding(1, d, 4),
        "text": WordEmbedding(vocab, d),
        "audio": FrameEmbedding(5, d, frames=2),
    }


def _batch(n=4, seed=0, vocab=9):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 6, (n,), generator=g)
    tokens = torch.randint(1, vocab, (n, 5), generator=g)
    tokens[torch.arange(5)[None, :] >= lengths[:, None]] = 0
    return {
        "image": torch.rand(n, 1, 8, 8, generator=g, dtype=D),
        "text": (tokens, lengths),
        "audio": torch.randn(n, 5, 6, generator=g, dtype=D),
    }


def _model(**kwargs):
    torch.manual_seed(0)
    return MultimodalTransformer(_tokenizers(), 8, 2, **kwargs).double()


def test_multimodal_transformer_equals_a_torch_encoder_on_the_same_sequence():
    # The sequence [cls; X_m + P_m + e_m ...] built by hand, read by nn.TransformerEncoder
    # (pre-norm, GELU, final LayerNorm) with the same weights, then the head on the class token.
    model = _model(num_layers=2, dim_feedforward=16)
    layer = nn.TransformerEncoderLayer(
        8, 2, 16, dropout=0.0, activation="gelu", norm_first=True, batch_first=True
    )
    reference = nn.TransformerEncoder(
        layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False
    ).double()
    reference.load_state_dict(model.encoder.state_dict())
    inputs = _batch()
    mask = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 1], [1, 1, 0]])
    parts, padding = [model.cls_token.expand(4, 1, 8)], [torch.zeros(4, 1, dtype=torch.bool)]
    for k, (name, tokenizer) in enumerate(model.tokenizers.items()):
        x = inputs[name]
        out = tokenizer(*x) if isinstance(x, tuple) else tokenizer(x)
        tokens, pad = out if isinstance(out, tuple) else (out, torch.zeros(out.shape[:2]) > 0)
        t = tokens.shape[1]
        parts.append(tokens + model.positions[name].weight[:t] + model.modality_embedding[k])
        padding.append(pad | (mask[:, k, None] == 0))
    hidden = reference(torch.cat(parts, 1), src_key_padding_mask=torch.cat(padding, 1))
    expected = model.head(hidden[:, 0])
    leaves = [model.cls_token, model.modality_embedding, model.tokenizers["image"].weight]
    _assert_all_close(_grads(model(inputs, mask), leaves), _grads(expected, leaves))


def test_a_masked_modality_is_never_read_and_padding_neither():
    model = _model()
    inputs = _batch()
    mask = torch.tensor([[1, 1, 0]] * 4)
    out = model(inputs, mask)
    noise = {**inputs, "audio": torch.randn(4, 5, 6, dtype=D) * 100}
    torch.testing.assert_close(model(noise, mask), out)
    assert not torch.allclose(model(noise), model(inputs))  # present, it is read
    tokens, lengths = inputs["text"]
    garbage = torch.where(tokens == 0, torch.randint(1, 9, tokens.shape), tokens)
    torch.testing.assert_close(model({**inputs, "text": (garbage, lengths)}, mask), out)
    grads = torch.autograd.grad(out.sum(), list(model.tokenizers["audio"].parameters()))
    assert all((g == 0).all() for g in grads)


def test_embed_lays_out_the_sequence_and_its_padding():
    model = _model()
    inputs = _batch()
    _, lengths = inputs["text"]
    sequence, padding, slices = model.embed(inputs, torch.tensor([[1, 1, 1], [1, 1, 0]] * 2))
    assert sequence.shape == (4, 1 + 4 + 5 + 3, 8)
    assert slices == {"image": slice(1, 5), "text": slice(5, 10), "audio": slice(10, 13)}
    assert not padding[:, 0].any() and not padding[:, slices["image"]].any()
    assert padding[:, slices["text"]].sum(1).tolist() == (5 - lengths).tolist()
    assert padding[:, slices["audio"]].all(1).tolist() == [False, True, False, True]
    assert model.modalities == ["image", "text", "audio"]


def test_cls_attention_is_the_last_layers_head_average_from_the_class_token():
    model = _model(num_layers=2).eval()
    inputs = _batch()
    mask = torch.tensor([[1, 1, 1], [1, 0, 1], [1, 1, 0], [0, 1, 1]])
    weights, slices = model.cls_attention(inputs, mask)
    sequence, padding, _ = model.embed(inputs, mask)
    x = model.encoder.layers[0](sequence, src_key_padding_mask=padding)
    last = model.encoder.layers[1]
    reference = nn.MultiheadAttention(8, 2, batch_first=True).double()
    reference.load_state_dict(last.self_attn.state_dict())
    normed = last.norm1(x)
    _, expected = reference(normed, normed, normed, key_padding_mask=padding)
    torch.testing.assert_close(weights, expected[:, 0])
    torch.testing.assert_close(weights.sum(1), torch.ones(4, dtype=D))
    assert (weights[padding] == 0).all() and (weights[1, slices["text"]] == 0).all()


def test_every_parameter_of_the_multimodal_transformer_gets_a_gradient():
    model = _model(num_layers=2)
    F.cross_entropy(model(_batch()), torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        if name == "tokenizers.text.embedding.weight":
            assert p.grad[0].abs().sum() == 0 and p.grad[1:].abs().sum() > 0  # <pad> fixed
        elif name.startswith("positions."):
            assert p.grad[:5].abs().sum() > 0 and (p.grad[5:] == 0).all(), name
        else:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_modality_dropout_hides_modalities_in_training_only_and_never_all():
    model = _model(modality_dropout=0.9)
    inputs = _batch(n=64)
    _, padding, slices = model.embed(inputs)
    hidden = torch.stack([padding[:, s].all(1) for s in (slices["image"], slices["audio"])], 1)
    text = padding[:, slices["text"]].all(1)
    assert hidden.any() and not (hidden.all(1) & text).any()  # one modality always stays
    # With the text missing from the data, the one kept is the image or the audio.
    no_text = torch.tensor([[1, 0, 1]] * 64)
    _, padding, _ = model.embed(inputs, no_text)
    hidden = torch.stack([padding[:, s].all(1) for s in (slices["image"], slices["audio"])], 1)
    assert hidden.any() and not hidden.all(1).any()
    model.eval()
    _, padding, _ = model.embed(inputs)
    assert not padding[:, slices["image"]].any() and not padding[:, slices["audio"]].any()


def test_single_modality_transformer():
    torch.manual_seed(0)
    model = MultimodalTransformer({"image": PatchEmbedding(1, 8, 2)}, 8, 4, num_classes=3)
    assert model({"image": torch.rand(5, 1, 8, 8)}).shape == (5, 3)


@pytest.mark.parametrize(
    ("build", "error", "facts"),
    [
        (lambda: MultimodalTransformer({}, 8, 2), TypeError, ["tokenizers", "dict {}"]),
        (
            lambda: MultimodalTransformer({"a": torch.nn.functional.relu}, 8, 2),
            TypeError,
            ["tokenizers['a']", "nn.Module", "function"],
        ),
        (lambda: MultimodalTransformer(_tokenizers(), 10, 4), ValueError, ["d_model=10", "4"]),
        (
            lambda: MultimodalTransformer(_tokenizers(), 8, 2, modality_dropout=1.0),
            ValueError,
            ["modality_dropout", "[0, 1)", "1.0"],
        ),
        (lambda: MultimodalTransformer(_tokenizers(), 8, 2, max_len=0), ValueError, ["max_len"]),
    ],
)
def test_multimodal_transformer_construction_errors(build, error, facts):
    with pytest.raises(error) as info:
        build()
    assert all(fact in str(info.value) for fact in facts), str(info.value)


def test_multimodal_transformer_input_errors():
    model = _model()
    inputs = _batch()
    with pytest.raises(ValueError) as info:
        model({"image": inputs["image"]})
    assert "['image', 'text', 'audio']" in str(info.value) and "['image']" in str(info.value)
    with pytest.raises(TypeError, match="inputs must be a dict"):
        model(inputs["image"])
    with pytest.raises(ValueError) as info:
        model(inputs, torch.ones(4, 2))
    assert "(4, 3)" in str(info.value) and "(4, 2)" in str(info.value)
    narrow = MultimodalTransformer({"image": PatchEmbedding(1, 6, 4)}, 8, 2)
    with pytest.raises(ValueError) as info:
        narrow({"image": torch.rand(2, 1, 8, 8)})
    assert "'image'" in str(info.value) and "d_model=8" in str(info.value)
    assert "(2, 4, 6)" in str(info.value)

    class BadPadding(nn.Module):
        def forward(self, x):
            return x, torch.zeros(x.shape[:2])  # a float mask

    bad = MultimodalTransformer({"seq": BadPadding()}, 8, 2)
    with pytest.raises(ValueError) as info:
        bad({"seq": torch.zeros(2, 3, 8)})
    assert "'seq'" in str(info.value) and "bool" in str(info.value)
    assert "(2, 3)" in str(info.value) and "torch.float32" in str(info.value)
    short = MultimodalTransformer({"image": PatchEmbedding(1, 8, 2)}, 8, 2, max_len=10)
    with pytest.raises(ValueError, match=r"max_len=10, got \(2, 16, 8\)"):
        short({"image": torch.rand(2, 1, 8, 8)})
