"""mmcourse.fusion: shapes, masks, registered and trained parameters, and the math of each method."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmcourse.fusion import (
    AttentionFusion,
    ConcatFusion,
    Fusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
    MultimodalClassifier,
    Precomputed,
    TensorFusion,
    UnimodalClassifier,
    WeightedSumFusion,
    append_one,
    outer_product,
)

METHODS = {
    "concat": lambda dims, out: ConcatFusion(dims, out),
    "weighted": lambda dims, out: WeightedSumFusion(dims, out),
    "tensor": lambda dims, out: TensorFusion(dims, out),
    "lowrank": lambda dims, out: LowRankFusion(dims, out, rank=3),
    "gated": lambda dims, out: GatedFusion(dims, out),
    "attention": lambda dims, out: AttentionFusion(dims, out, embed_dim=8, num_heads=2),
    "late": lambda dims, out: LateFusion(dims, out),
}


def _features(dims, n=5, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, d, generator=g, requires_grad=requires_grad) for d in dims]


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("dims", [[4], [3, 5], [6, 2, 4]])
@pytest.mark.parametrize("n", [1, 7])
def test_shapes(name, dims, n):
    fusion = METHODS[name](dims, 6)
    assert isinstance(fusion, Fusion)
    assert fusion(_features(dims, n)).shape == (n, 6)
    mask = torch.ones(n, len(dims))
    mask[0, 0] = 0
    assert fusion(_features(dims, n), mask).shape == (n, 6)


@pytest.mark.parametrize("name", METHODS)
def test_gradients_reach_every_parameter_and_every_input(name):
    torch.manual_seed(0)
    dims = [3, 4, 2]
    fusion = METHODS[name](dims, 5)
    features = _features(dims, n=6, requires_grad=True)
    fusion(features).pow(2).sum().backward()
    for pname, p in fusion.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient for {pname}"
    for m, f in enumerate(features):
        assert f.grad is not None and f.grad.abs().sum() > 0, f"{name}: no gradient to modality {m}"


@pytest.mark.parametrize("name", METHODS)
def test_every_parameter_is_registered_and_moves_with_the_module(name):
    fusion = METHODS[name]([3, 4, 2], 5)
    registered = {id(p) for p in fusion.parameters()}
    for module in fusion.modules():
        for value in vars(module).values():
            if isinstance(value, list | tuple):
                assert not any(isinstance(v, torch.Tensor) for v in value), (
                    f"{name}: tensors kept in a plain list are not registered"
                )
            if isinstance(value, nn.Parameter):
                assert id(value) in registered
    fusion.to(torch.float64)
    assert all(p.dtype == torch.float64 for p in fusion.parameters())
    assert fusion([f.double() for f in _features([3, 4, 2])]).dtype == torch.float64


@pytest.mark.parametrize("name", METHODS)
def test_every_parameter_trains(name):
    torch.manual_seed(0)
    dims = [3, 4, 2]
    fusion = METHODS[name](dims, 4)
    before = {k: v.detach().clone() for k, v in fusion.named_parameters()}
    optimizer = torch.optim.Adam(fusion.parameters(), lr=1e-2)
    target = torch.randint(0, 4, (16,))
    features = _features(dims, n=16)
    for _ in range(3):
        loss = F.cross_entropy(fusion(features), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for k, v in fusion.named_parameters():
        assert not torch.equal(before[k], v.detach()), f"{name}: parameter {k} did not change"


def test_concat_is_a_linear_layer_on_the_concatenation():
    fusion = ConcatFusion([3, 2], 4)
    a, b = _features([3, 2])
    expected = torch.cat([a, b], 1) @ fusion.linear.weight.T + fusion.linear.bias
    torch.testing.assert_close(fusion([a, b]), expected)
    assert sum(p.numel() for p in fusion.parameters()) == (3 + 2) * 4 + 4


def test_weighted_sum_is_a_convex_combination_of_projections():
    fusion = WeightedSumFusion([3, 5, 2], 4)
    with torch.no_grad():
        fusion.scores.copy_(torch.tensor([0.5, -1.0, 2.0]))
    features = _features([3, 5, 2])
    w = torch.softmax(fusion.scores, 0)
    projected = [p(f) for p, f in zip(fusion.projections, features, strict=True)]
    expected = sum(w[m] * projected[m] for m in range(3))
    torch.testing.assert_close(fusion(features), expected)
    # Missing modalities are left out and the weights renormalized over the others.
    mask = torch.tensor([[1.0, 0.0, 1.0]]).expand(5, 3)
    w2 = torch.softmax(fusion.scores[[0, 2]], 0)
    torch.testing.assert_close(fusion(features, mask), w2[0] * projected[0] + w2[1] * projected[2])
    assert torch.allclose(fusion.weights(mask).sum(1), torch.ones(5))


def test_weighted_sum_of_different_sizes_needs_projection():
    """Erratum E4: alpha * f_image + (1 - alpha) * f_text with sizes 1024 and 512 cannot be added."""
    image, text = torch.randn(2, 1024), torch.randn(2, 512)
    with pytest.raises(RuntimeError):
        _ = 0.5 * image + 0.5 * text
    assert WeightedSumFusion([1024, 512, 256], 64)([image, text, torch.randn(2, 256)]).shape == (
        2,
        64,
    )


def test_append_one():
    assert torch.equal(append_one(torch.zeros(2, 3)), torch.tensor([[0.0, 0, 0, 1], [0, 0, 0, 1]]))


def test_outer_product_contains_unimodal_bimodal_and_trimodal_terms():
    a, b, c = _features([2, 3, 4], n=4)
    z = outer_product([a, b, c]).view(4, 3, 4, 5)  # (d_a + 1, d_b + 1, d_c + 1)
    assert outer_product([a, b, c]).shape == (4, 3 * 4 * 5)
    torch.testing.assert_close(z[:, :2, 3, 4], a)  # [a;1] ⊗ [b;1] ⊗ [c;1] at (i, 1, 1) is a_i
    torch.testing.assert_close(z[:, 2, :3, 4], b)
    torch.testing.assert_close(z[:, 2, 3, :4], c)
    torch.testing.assert_close(z[:, :2, :3, 4], torch.einsum("ni,nj->nij", a, b))
    torch.testing.assert_close(z[:, :2, :3, :4], torch.einsum("ni,nj,nk->nijk", a, b, c))
    assert torch.equal(z[:, 2, 3, 4], torch.ones(4))


def test_tensor_fusion_size_is_the_product_of_the_feature_sizes():
    fusion = TensorFusion([32, 32, 128], 8)
    assert fusion.fused_dim == 33 * 33 * 129
    assert sum(p.numel() for p in fusion.parameters()) == 33 * 33 * 129 * 8 + 8


@settings(max_examples=40, deadline=None)
@given(
    dims=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    rank=st.integers(1, 4),
    out=st.integers(1, 4),
    n=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_low_rank_equals_tensor_fusion_with_a_cp_weight(dims, rank, out, n, seed):
    torch.manual_seed(seed)
    low = LowRankFusion(dims, out, rank=rank).double()
    with torch.no_grad():
        low.rank_weights.normal_()
        low.bias.normal_()
    full = TensorFusion(dims, out).double()
    with torch.no_grad():
        full.linear.weight.copy_(low.full_weight().T)
        full.linear.bias.copy_(low.bias)
    features = [f.double() for f in _features(dims, n=n, seed=seed)]
    torch.testing.assert_close(low(features), full(features))
    # The CP weight really has rank <= r along the output: it is a sum of r outer products.
    assert low.full_weight().shape == (math.prod(d + 1 for d in dims), out)


def test_low_rank_parameter_count_is_linear_in_the_modalities():
    dims, out, rank = [32, 32, 128], 8, 4
    low = LowRankFusion(dims, out, rank=rank)
    assert (
        sum(p.numel() for p in low.parameters())
        == rank * sum(d + 1 for d in dims) * out + rank + out
    )
    assert len(list(low.factors)) == 3 and all(isinstance(f, nn.Parameter) for f in low.factors)


def test_gated_fusion_gates_are_convex_and_respect_the_mask():
    fusion = GatedFusion([3, 4], 5)
    features = _features([3, 4])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    gates = fusion.gates(features, mask)
    torch.testing.assert_close(gates.sum(1), torch.ones(5, 5))
    assert torch.all(gates[1, 1] == 0) and torch.all(gates[2, 0] == 0)
    hidden = torch.tanh(fusion.transforms[0](features[0]))
    torch.testing.assert_close(fusion(features, mask)[1], hidden[1])


def test_attention_fusion_ignores_missing_modalities():
    torch.manual_seed(0)
    fusion = AttentionFusion([3, 4, 2], 6, embed_dim=8, num_heads=2).eval()
    features = _features([3, 4, 2], n=3)
    mask = torch.tensor([[1.0, 0.0, 1.0]]).expand(3, 3)
    out = fusion(features, mask)
    changed = list(features)
    changed[1] = torch.randn(3, 4) * 100  # whatever the missing modality holds
    torch.testing.assert_close(fusion(changed, mask), out)
    assert torch.allclose(fusion.last_attention.sum(-1), torch.ones(3, 3))


def test_late_fusion_averages_log_probabilities_of_present_modalities():
    fusion = LateFusion([3, 4], 5)
    features = _features([3, 4])
    logits = fusion.unimodal_logits(features)
    expected = F.log_softmax(logits, -1).mean(1)
    torch.testing.assert_close(fusion(features), expected)
    mask = torch.tensor([[1.0, 0.0]]).expand(5, 2)
    torch.testing.assert_close(fusion(features, mask), F.log_softmax(logits[:, 0], -1))
    averaged = LateFusion([3, 4], 5, combine="logits")
    torch.testing.assert_close(averaged(features), averaged.unimodal_logits(features).mean(1))


@pytest.mark.parametrize("name", ["concat", "tensor", "lowrank"])
def test_missing_modality_is_zeroed(name):
    fusion = METHODS[name]([3, 4], 5)
    features = _features([3, 4])
    mask = torch.tensor([[1.0, 0.0]]).expand(5, 2)
    torch.testing.assert_close(fusion(features, mask), fusion([features[0], torch.zeros(5, 4)]))


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize(
    ("features", "mask", "message"),
    [
        ([torch.zeros(2, 3)], None, r"expected 2 feature tensors \(in_dims=\[3, 4\]\), got 1"),
        (
            [torch.zeros(2, 3), torch.zeros(2, 5)],
            None,
            r"modality 1 should have features of shape \(N, 4\), got \(2, 5\)",
        ),
        (
            [torch.zeros(2, 3), torch.zeros(3, 4)],
            None,
            r"same batch size, got shapes \[\(2, 3\), \(3, 4\)\]",
        ),
        (
            [torch.zeros(2, 3), torch.zeros(2, 4)],
            torch.ones(2, 3),
            r"mask should have shape \(N, M\) = \(2, 2\)",
        ),
        (
            [torch.zeros(2, 3, 1), torch.zeros(2, 4)],
            None,
            r"modality 0 should have features of shape \(N, 3\)",
        ),
    ],
)
def test_bad_input_names_the_shapes(name, features, mask, message):
    fusion = METHODS[name]([3, 4], 5)
    with pytest.raises(ValueError, match=message):
        fusion(features, mask)


def test_bad_construction():
    with pytest.raises(ValueError, match="in_dims must be a non-empty list"):
        ConcatFusion([], 3)
    with pytest.raises(ValueError, match="out_dim must be a positive int"):
        ConcatFusion([3], 0)
    with pytest.raises(ValueError, match="rank must be a positive int"):
        LowRankFusion([3], 2, rank=0)
    with pytest.raises(ValueError, match="divisible"):
        AttentionFusion([3], 2, embed_dim=10, num_heads=4)
    with pytest.raises(TypeError, match="list of 1 tensors"):
        ConcatFusion([3], 2)(torch.zeros(2, 3))


class _Encoder(nn.Module):
    def __init__(self, d_in, out_dim):
        super().__init__()
        self.out_dim = out_dim
        self.linear = nn.Linear(d_in, out_dim)

    def forward(self, x):
        return self.linear(x)


class _TwoInputEncoder(_Encoder):
    def forward(self, x, scale):
        return self.linear(x) * scale[:, None]


@pytest.mark.parametrize("name", METHODS)
def test_classifier_trains_every_encoder(name):
    torch.manual_seed(0)
    encoders = [_Encoder(2, 3), _TwoInputEncoder(4, 5)]
    model = MultimodalClassifier(encoders, METHODS[name]([3, 5], 6), num_classes=4, arity=[1, 2])
    a, b, s = torch.randn(8, 2), torch.randn(8, 4), torch.rand(8) + 0.5
    F.cross_entropy(model(a, b, s), torch.randint(0, 4, (8,))).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient for {pname}"
    assert model(a, b, s, torch.ones(8, 2)).shape == (8, 4)


def test_classifier_checks_its_parts_and_inputs():
    with pytest.raises(
        ValueError, match=r"encoder out_dims \[3, 5\] do not match fusion.in_dims \[3, 4\]"
    ):
        MultimodalClassifier([_Encoder(2, 3), _Encoder(2, 5)], ConcatFusion([3, 4], 2))
    with pytest.raises(ValueError, match="2 encoders but the fusion expects 1"):
        MultimodalClassifier([_Encoder(2, 3), _Encoder(2, 5)], ConcatFusion([3], 2))
    model = MultimodalClassifier([_Encoder(2, 3)], ConcatFusion([3], 2))
    with pytest.raises(ValueError, match="expected 1 input tensors"):
        model(torch.zeros(1, 2), torch.zeros(1, 1), torch.zeros(1))


def test_modality_dropout_hides_modalities_only_in_training():
    torch.manual_seed(0)
    model = MultimodalClassifier(
        [_Encoder(2, 3), _Encoder(2, 3)], WeightedSumFusion([3, 3], 4), modality_dropout=0.5
    )
    x = (torch.randn(200, 2), torch.randn(200, 2))
    model.eval()
    assert torch.equal(model(*x), model(*x))
    model.train()
    assert not torch.equal(model(*x), model(*x))


def test_unimodal_classifier_and_precomputed_features():
    torch.manual_seed(0)
    uni = UnimodalClassifier(_TwoInputEncoder(4, 5), num_classes=3)
    x, scale = torch.randn(6, 4), torch.rand(6)
    torch.testing.assert_close(uni(x, scale), uni.head(uni.encoder(x, scale)))
    with pytest.raises(TypeError, match="out_dim"):
        UnimodalClassifier(nn.Linear(2, 2))
    cached = MultimodalClassifier([Precomputed(3), Precomputed(5)], ConcatFusion([3, 5], 4))
    a, b = torch.randn(6, 3), torch.randn(6, 5)
    torch.testing.assert_close(cached(a, b), cached.head(cached.fusion([a, b])))
    with pytest.raises(ValueError, match=r"shape \(N, 3\), got \(6, 4\)"):
        cached(torch.randn(6, 4), b)
