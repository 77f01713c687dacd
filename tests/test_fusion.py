"""mmcourse.fusion: shapes, masks, registered and trained parameters, and the math of each method."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmcourse.encoders import Precomputed
from mmcourse.fusion import (
    AttentionFusion,
    ConcatFusion,
    CrossAttentionFusion,
    Fusion,
    GatedFusion,
    LateFusion,
    LowRankFusion,
    MultimodalClassifier,
    TensorFusion,
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
    "cross": lambda dims, out: CrossAttentionFusion(dims, out, embed_dim=8, num_heads=2),
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


def test_weighted_sum_projects_every_size_to_out_dim_first():
    """Erratum E4: features of sizes 1024, 512 and 256 are each projected to out_dim, then mixed."""
    fusion = WeightedSumFusion([1024, 512, 256], 64)
    assert [tuple(p.weight.shape) for p in fusion.projections] == [(64, 1024), (64, 512), (64, 256)]
    features = _features([1024, 512, 256], n=2)
    assert fusion(features).shape == (2, 64)
    # All three modalities count: changing any one of them changes the result.
    for m in range(3):
        changed = list(features)
        changed[m] = changed[m] + 1.0
        assert not torch.allclose(fusion(changed), fusion(features))


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
    weight = low.full_weight()
    assert weight.shape == (math.prod(d + 1 for d in dims), out)
    # For every output, the weight is a sum of r outer products: unfolded along any modality
    # it is a matrix of rank <= r.
    for o in range(out):
        _assert_rank_at_most(weight[:, o].reshape([d + 1 for d in dims]), rank)


def _assert_rank_at_most(tensor, rank):
    """Every unfolding of ``tensor`` (one axis against the others) has matrix rank <= rank."""
    for axis in range(tensor.dim()):
        unfolded = tensor.movedim(axis, 0).reshape(tensor.shape[axis], -1)
        assert torch.linalg.matrix_rank(unfolded) <= rank, (axis, rank)


def test_low_rank_weight_has_the_rank_it_claims_and_tensor_fusion_does_not():
    torch.manual_seed(0)
    dims, out, rank = [5, 6, 4], 3, 2  # unfoldings of 6 x 35, 7 x 30, 5 x 42: rank up to 5
    low = LowRankFusion(dims, out, rank=rank).double()
    weight = low.full_weight()
    for o in range(out):
        _assert_rank_at_most(weight[:, o].reshape(6, 7, 5), rank)
    full = TensorFusion(dims, out).double().linear.weight.T  # an unconstrained weight
    with pytest.raises(AssertionError):
        _assert_rank_at_most(full[:, 0].reshape(6, 7, 5), rank)


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


def test_cross_attention_fusion_equals_torch_attention_with_the_diagonal_masked():
    torch.manual_seed(0)
    dims = [3, 4, 2]
    fusion = CrossAttentionFusion(dims, 5, embed_dim=8, num_heads=2).double()
    reference = nn.MultiheadAttention(8, 2, batch_first=True).double()
    reference.load_state_dict(fusion.attention.state_dict())
    features = [f.double().requires_grad_() for f in _features(dims, n=4)]
    mask = torch.tensor([[1.0, 1, 1], [1, 0, 1], [0, 0, 1], [1, 1, 0]], dtype=torch.float64)
    # Forbidden (rows: queries, columns: keys): itself and the missing modalities; a query
    # left with no key at all (audio in sample 2) attends to itself.
    forbid = torch.tensor(
        [
            [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
            [[1, 1, 0], [0, 1, 0], [0, 1, 1]],
            [[1, 1, 0], [1, 1, 0], [1, 1, 0]],
            [[1, 0, 1], [0, 1, 1], [0, 0, 1]],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(fusion.forbidden(mask), forbid)
    x = [f * mask[:, m : m + 1] for m, f in enumerate(features)]
    tokens = torch.stack([p(f) for p, f in zip(fusion.projections, x, strict=True)], 1)
    tokens = tokens + fusion.modality_embedding
    attended, _ = reference(tokens, tokens, tokens, attn_mask=forbid.repeat_interleave(2, 0))
    hidden = fusion.norm(tokens + attended)
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    expected = fusion.out(pooled)
    ours = fusion(features, mask)
    torch.testing.assert_close(ours, expected)
    leaves = [*features, fusion.modality_embedding]
    for a, b in zip(
        torch.autograd.grad(ours.pow(2).sum(), leaves),
        torch.autograd.grad(expected.pow(2).sum(), leaves),
        strict=True,
    ):
        torch.testing.assert_close(a, b)


def test_cross_attention_never_attends_to_itself_or_to_a_missing_modality():
    torch.manual_seed(0)
    fusion = CrossAttentionFusion([3, 4, 2], 6, embed_dim=8, num_heads=2).eval()
    features = _features([3, 4, 2], n=3)
    fusion(features)
    assert (fusion.last_attention.diagonal(dim1=1, dim2=2) == 0).all()
    mask = torch.tensor([[1.0, 0.0, 1.0]]).expand(3, 3)
    out = fusion(features, mask)
    assert (fusion.last_attention[:, :, 1] == 0).all()  # nobody attends to the missing text
    changed = list(features)
    changed[1] = torch.randn(3, 4) * 100
    torch.testing.assert_close(fusion(changed, mask), out)


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
        ([torch.zeros(2, 3)], None, r"features.*2 tensors.*\[3, 4\].*got 1"),
        (
            [torch.zeros(2, 3), torch.zeros(2, 5)],
            None,
            r"features\[1\].*\(\*, 4\).*\(2, 5\)",
        ),
        (
            [torch.zeros(2, 3), torch.zeros(3, 4)],
            None,
            r"features.*batch size.*\[\(2, 3\), \(3, 4\)\]",
        ),
        (
            [torch.zeros(2, 3), torch.zeros(2, 4)],
            torch.ones(2, 3),
            r"mask.*\(2, 2\).*\(2, 3\)",
        ),
        (
            [torch.zeros(2, 3, 1), torch.zeros(2, 4)],
            None,
            r"features\[0\].*2-D.*3-D",
        ),
    ],
)
def test_bad_input_names_the_shapes(name, features, mask, message):
    fusion = METHODS[name]([3, 4], 5)
    with pytest.raises(ValueError, match=message):
        fusion(features, mask)


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: ConcatFusion([], 3), ValueError, "in_dims.*one feature size per modality.*empty"),
        (lambda: ConcatFusion(3, 3), TypeError, "in_dims.*list of ints.*int 3"),
        (lambda: ConcatFusion([3, 0], 3), ValueError, r"in_dims\[1\].*>= 1.*got 0"),
        (lambda: ConcatFusion([3, 2.0], 3), TypeError, r"in_dims\[1\].*int.*float 2.0"),
        (lambda: ConcatFusion([3], 0), ValueError, "out_dim.*>= 1.*got 0"),
        (lambda: LowRankFusion([3], 2, rank=0), ValueError, "rank.*>= 1.*got 0"),
        (
            lambda: AttentionFusion([3], 2, embed_dim=10, num_heads=4),
            ValueError,
            "embed_dim.*divisible.*num_heads = 4.*got 10",
        ),
        (
            lambda: CrossAttentionFusion([3], 2, embed_dim=6, num_heads=4),
            ValueError,
            "embed_dim.*divisible.*num_heads = 4.*got 6",
        ),
        (
            lambda: LateFusion([3], 2, combine="sum"),
            ValueError,
            "combine.*'log_prob', 'logits'.*'sum'",
        ),
    ],
)
def test_bad_construction(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_features_must_be_a_list_of_tensors():
    with pytest.raises(TypeError, match=r"features.*list of 1 tensors.*tensor of shape \(2, 3\)"):
        ConcatFusion([3], 2)(torch.zeros(2, 3))
    with pytest.raises(TypeError, match=r"features\[0\].*torch\.Tensor.*list"):
        ConcatFusion([3], 2)([[[0.0, 0.0, 0.0]]])


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
    encoders = {"a": _Encoder(2, 3), "b": _TwoInputEncoder(4, 5)}
    model = MultimodalClassifier(encoders, METHODS[name]([3, 5], 6), num_classes=4)
    inputs = {"a": torch.randn(8, 2), "b": (torch.randn(8, 4), torch.rand(8) + 0.5)}
    F.cross_entropy(model(inputs), torch.randint(0, 4, (8,))).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}: no gradient for {pname}"
    assert model(inputs, torch.ones(8, 2)).shape == (8, 4)


def test_classifier_is_encoders_then_fusion_then_head():
    torch.manual_seed(0)
    encoders = {"a": _Encoder(2, 3), "b": _TwoInputEncoder(4, 5)}
    model = MultimodalClassifier(encoders, WeightedSumFusion([3, 5], 6), num_classes=4)
    inputs = {"b": (torch.randn(8, 4), torch.rand(8)), "a": torch.randn(8, 2)}  # any key order
    mask = torch.tensor([[1.0, 0.0]]).expand(8, 2)
    features = [encoders["a"](inputs["a"]), encoders["b"](*inputs["b"])]  # in encoders' order
    assert all(torch.equal(x, y) for x, y in zip(model.features(inputs), features, strict=True))
    expected = model.head(model.fusion(features, mask))
    torch.testing.assert_close(model(inputs, mask), expected)
    torch.testing.assert_close(model(inputs, mask=mask), expected)


def test_classifier_checks_its_parts_and_inputs():
    with pytest.raises(ValueError, match=r"out_dim.*fusion.in_dims = \[3, 4\].*got \[3, 5\]"):
        MultimodalClassifier({"a": _Encoder(2, 3), "b": _Encoder(2, 5)}, ConcatFusion([3, 4], 2))
    with pytest.raises(ValueError, match=r"encoders.*\(1\).*got 2.*\['a', 'b'\]"):
        MultimodalClassifier({"a": _Encoder(2, 3), "b": _Encoder(2, 5)}, ConcatFusion([3], 2))
    with pytest.raises(TypeError, match=r"encoders.*dict.*got list"):
        MultimodalClassifier([_Encoder(2, 3)], ConcatFusion([3], 2))
    with pytest.raises(TypeError, match=r"fusion.*Fusion.*Linear"):
        MultimodalClassifier({"a": _Encoder(2, 3)}, nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"modality_dropout.*\[0, 1\).*got 1.0"):
        MultimodalClassifier({"a": _Encoder(2, 3)}, ConcatFusion([3], 2), modality_dropout=1.0)
    model = MultimodalClassifier({"a": _Encoder(2, 3)}, ConcatFusion([3], 2))
    with pytest.raises(ValueError, match=r"inputs.*keys \['a'\].*got \['a', 'b'\]"):
        model({"a": torch.zeros(1, 2), "b": torch.zeros(1, 2)})
    with pytest.raises(TypeError, match=r"inputs.*dict.*tensor of shape \(1, 2\)"):
        model(torch.zeros(1, 2))


def test_modality_dropout_hides_modalities_only_in_training():
    torch.manual_seed(0)
    model = MultimodalClassifier(
        {"a": _Encoder(2, 3), "b": _Encoder(2, 3)},
        WeightedSumFusion([3, 3], 4),
        modality_dropout=0.5,
    )
    x = {"a": torch.randn(200, 2), "b": torch.randn(200, 2)}
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_classifier_on_precomputed_features():
    torch.manual_seed(0)
    cached = MultimodalClassifier(
        {"a": Precomputed(out_dim=3), "b": Precomputed(out_dim=5)}, ConcatFusion([3, 5], 4)
    )
    a, b = torch.randn(6, 3), torch.randn(6, 5)
    torch.testing.assert_close(cached({"a": a, "b": b}), cached.head(cached.fusion([a, b])))
    with pytest.raises(ValueError, match=r"features.*\(\*, 3\).*\(6, 4\)"):
        cached({"a": torch.randn(6, 4), "b": b})


@pytest.mark.parametrize("name", METHODS)
def test_every_method_trains_as_a_batched_ensemble_like_fit(name):
    # fit_ensemble runs the model under torch.func.vmap: masks, softmaxes and attention
    # must batch, and the K models must end where K separate fits end.
    from mmcourse.train import fit, fit_ensemble

    dims, n = [3, 5, 4], 40
    g = torch.Generator().manual_seed(0)
    data = []
    for _ in range(2):
        features = {f"m{m}": torch.randn(n, d, generator=g) for m, d in enumerate(dims)}
        mask = (torch.rand(n, 3, generator=g) > 0.3).float()  # some modalities missing
        data.append((features, mask, torch.randint(0, 4, (n,), generator=g)))

    def model(seed):
        torch.manual_seed(seed)
        encoders = {f"m{m}": Precomputed(out_dim=d) for m, d in enumerate(dims)}
        return MultimodalClassifier(encoders, METHODS[name](dims, 4), nn.Identity())

    separate, batched = [model(0), model(1)], [model(0), model(1)]
    for m, d in zip(separate, data, strict=True):
        fit(m, d, epochs=2, lr=1e-2, batch_size=16, device="cpu")
    fit_ensemble(batched, data, epochs=2, lr=1e-2, batch_size=16, device="cpu")
    # Compare the trained functions, not every parameter: attention's key bias has a zero
    # gradient (a softmax ignores a shift shared by all keys), and Adam turns the rounding
    # noise of that zero into steps that differ between runs but change no output.
    for a, b, (features, mask, _) in zip(separate, batched, data, strict=True):
        with torch.no_grad():
            torch.testing.assert_close(
                b.eval()(features, mask), a.eval()(features, mask), rtol=1e-4, atol=1e-5
            )
