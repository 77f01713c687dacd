"""mmcourse.losses against torch.nn.functional: values, gradients, stability, error messages."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcourse.losses import cross_entropy, info_nce, log_softmax, logsumexp, softmax


def _logits_and_target(n, k, scale, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(n, k, generator=g, dtype=dtype)).requires_grad_()
    target = torch.randint(0, k, (n,), generator=g)
    return logits, target


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 11),
    scale=st.sampled_from([0.1, 1.0, 10.0, 1000.0]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_cross_entropy_matches_torch(n, k, scale, reduction, seed):
    logits, target = _logits_and_target(n, k, scale, seed)
    ours = cross_entropy(logits, target, reduction=reduction)
    ref = F.cross_entropy(logits, target, reduction=reduction)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)
    upstream = torch.linspace(0.5, 1.5, ours.numel(), dtype=ours.dtype).reshape(ours.shape)
    (grad,) = torch.autograd.grad((ours * upstream).sum(), logits)
    (ref_grad,) = torch.autograd.grad((ref * upstream).sum(), logits)
    torch.testing.assert_close(grad, ref_grad)


@settings(max_examples=80, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    scale=st.sampled_from([1.0, 100.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_softmax_family_matches_torch_on_every_dim(shape, scale, seed):
    g = torch.Generator().manual_seed(seed)
    z = (scale * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_()
    for dim in range(-len(shape), len(shape)):
        for ours, ref in (
            (logsumexp(z, dim), torch.logsumexp(z, dim)),
            (log_softmax(z, dim), F.log_softmax(z, dim)),
            (softmax(z, dim), F.softmax(z, dim)),
        ):
            torch.testing.assert_close(ours, ref)
            upstream = torch.cos(torch.arange(ref.numel(), dtype=ref.dtype)).reshape(ref.shape)
            (a,) = torch.autograd.grad((ours * upstream).sum(), z)
            (b,) = torch.autograd.grad((ref * upstream).sum(), z)
            torch.testing.assert_close(a, b)


def test_large_float32_logits_stay_finite():
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [89.0, 90.0, 91.0]], requires_grad=True)
    target = torch.tensor([2, 0])
    ours = cross_entropy(logits, target)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, F.cross_entropy(logits, target))
    # The naive formula overflows: exp(1000) is inf in float32.
    naive = -torch.log(torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True))
    assert not torch.isfinite(naive).all()
    ours.backward()
    assert torch.isfinite(logits.grad).all()


def test_batch_of_one_and_known_values():
    logits = torch.zeros(1, 4)
    # Uniform logits over 4 classes: the loss is log 4 whatever the target.
    torch.testing.assert_close(
        cross_entropy(logits, torch.tensor([3])), torch.log(torch.tensor(4.0))
    )
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    per_sample = cross_entropy(logits, torch.tensor([0, 0]), reduction="none")
    expected = torch.log(1 + torch.exp(torch.tensor([-2.0, 2.0])))
    torch.testing.assert_close(per_sample, expected)


def test_loss_of_a_sample_does_not_depend_on_the_rest_of_the_batch():
    logits, target = _logits_and_target(6, 5, 3.0, 0)
    alone = cross_entropy(logits[:1], target[:1])
    in_batch = cross_entropy(logits, target, reduction="none")[0]
    torch.testing.assert_close(alone, in_batch)


def test_minus_infinity_logits_rows():
    z = torch.tensor([[0.0, float("-inf")], [float("-inf"), float("-inf")]])
    torch.testing.assert_close(logsumexp(z), torch.logsumexp(z, -1))


LONG = torch.long


# Each message must carry the facts: the argument, what was expected, what was given.
@pytest.mark.parametrize(
    ("logits", "target", "kwargs", "error", "facts"),
    [
        (torch.zeros(5), torch.tensor([0]), {}, ValueError, r"logits.*2-D.*1-D"),
        (torch.zeros(2, 3, 4), torch.zeros(2, dtype=LONG), {}, ValueError, "logits.*2-D.*3-D"),
        (torch.zeros(2, 3), torch.zeros(3, dtype=LONG), {}, ValueError, r"target.*\(2,\).*\(3,\)"),
        (torch.zeros(2, 3), torch.zeros(2, 1, dtype=LONG), {}, ValueError, r"target.*\(2, 1\)"),
        (torch.zeros(2, 3), torch.tensor([0, 3]), {}, ValueError, r"target.*0..2.*0 to 3"),
        (torch.zeros(2, 3), torch.tensor([-1, 0]), {}, ValueError, r"target.*0..2.*-1 to 0"),
        (torch.zeros(2, 3), torch.zeros(2), {}, TypeError, "target.*integer.*torch.float32"),
        (torch.zeros(2, 3), torch.zeros(2, dtype=torch.bool), {}, TypeError, "target.*torch.bool"),
        (torch.zeros(2, 3, dtype=LONG), torch.zeros(2, dtype=LONG), {}, TypeError, "logits.*floa"),
        ([[0.0, 1.0]], torch.tensor([0]), {}, TypeError, "logits.*torch.Tensor.*list"),
        (torch.zeros(1, 2), [0], {}, TypeError, "target.*torch.Tensor.*list"),
        (torch.zeros(1, 2), torch.tensor([0]), dict(reduction="avg"), ValueError, "reduction.*avg"),
        (torch.zeros(1, 2), torch.tensor([0]), dict(reduction=None), TypeError, "reduction.*None"),
    ],
)
def test_bad_input_gets_a_clear_error(logits, target, kwargs, error, facts):
    with pytest.raises(error, match=facts):
        cross_entropy(logits, target, **kwargs)


@pytest.mark.parametrize("fn", [logsumexp, log_softmax, softmax])
@pytest.mark.parametrize(
    ("logits", "dim", "error", "facts"),
    [
        (torch.zeros(2, 3), 2, ValueError, r"dim.*>= -2 and <= 1.*2$"),
        (torch.zeros(2, 3), -3, ValueError, r"dim.*>= -2 and <= 1.*-3$"),
        (torch.zeros(2, 3), True, TypeError, r"dim.*int.*True"),
        (torch.zeros(2, 3), 1.0, TypeError, r"dim.*int.*1\.0"),
        (torch.tensor(1.0), -1, ValueError, "logits.*0-d"),
        (torch.zeros(3, dtype=LONG), -1, TypeError, "logits.*floating-point.*torch.int64"),
    ],
)
def test_softmax_family_rejects_bad_arguments(fn, logits, dim, error, facts):
    with pytest.raises(error, match=facts):
        fn(logits, dim=dim)


# ---------------------------------------------------------------------------------------------
# info_nce: the symmetric InfoNCE (CLIP) loss, against its definition with F.cross_entropy


def _info_nce_reference(a, b, temperature, reduction="mean"):
    """Both directions with F.cross_entropy: rows (a_i among all b), columns (b_j among all a)."""
    s = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature
    target = torch.arange(len(s))
    rows = F.cross_entropy(s, target, reduction="none")
    columns = F.cross_entropy(s.T, target, reduction="none")
    losses = (rows + columns) / 2
    return {"none": losses, "sum": losses.sum(), "mean": losses.mean()}[reduction]


def _pairs(n, d, scale, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = (scale * torch.randn(n, d, generator=g, dtype=dtype)).requires_grad_()
    b = (scale * torch.randn(n, d, generator=g, dtype=dtype)).requires_grad_()
    return a, b


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 13),
    d=st.integers(1, 9),
    scale=st.sampled_from([0.01, 1.0, 100.0]),
    temperature=st.sampled_from([0.005, 0.07, 0.5, 1.0, 7.0]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_info_nce_matches_cross_entropy_both_ways(n, d, scale, temperature, reduction, seed):
    a, b = _pairs(n, d, scale, seed)
    ours = info_nce(a, b, temperature=temperature, reduction=reduction)
    ref = _info_nce_reference(a, b, temperature, reduction)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref)
    upstream = torch.linspace(0.5, 1.5, ours.numel(), dtype=ours.dtype).reshape(ours.shape)
    grads = torch.autograd.grad((ours * upstream).sum(), (a, b))
    ref_grads = torch.autograd.grad((ref * upstream).sum(), (a, b))
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref_grad)


@pytest.mark.parametrize(("n", "d"), [(1, 1), (1, 5), (2, 1), (2, 3), (3, 64), (37, 2), (128, 16)])
def test_info_nce_float32_shapes_and_default_temperature(n, d):
    a, b = _pairs(n, d, 1.0, n * 100 + d, torch.float32)
    ours = info_nce(a, b)  # temperature 0.07 by default
    ref = _info_nce_reference(a, b, 0.07)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(torch.autograd.grad(ours, (a, b)), torch.autograd.grad(ref, (a, b)))


def test_info_nce_small_temperature_stays_finite_in_float32():
    # Logits up to 1/tau = 1000: exp() overflows float32 unless the log-softmax is stable.
    a, b = _pairs(8, 4, 1.0, 3, torch.float32)
    ours = info_nce(a, b, temperature=1e-3)
    assert torch.isfinite(ours)
    torch.testing.assert_close(ours, _info_nce_reference(a, b, 1e-3))
    grads = torch.autograd.grad(ours, (a, b))
    assert all(torch.isfinite(g).all() for g in grads)


def test_info_nce_known_values():
    # One pair: each softmax has a single candidate, the loss is 0.
    torch.testing.assert_close(info_nce(torch.randn(1, 3), torch.randn(1, 3)), torch.tensor(0.0))
    # All similarities equal (every embedding the same direction): log N in both directions.
    same = torch.ones(5, 3)
    torch.testing.assert_close(info_nce(same, 2 * same), torch.log(torch.tensor(5.0)))
    # Orthonormal partners, tiny temperature: every pair is found, the loss is ~0.
    eye = torch.eye(4, dtype=torch.float64)
    assert info_nce(eye, eye, temperature=0.01) < 1e-30


def test_info_nce_is_symmetric_and_ignores_lengths():
    a, b = _pairs(6, 5, 1.0, 11)
    torch.testing.assert_close(info_nce(a, b), info_nce(b, a))
    scales = torch.tensor([[0.1], [2.0], [30.0], [1.0], [5.0], [0.5]], dtype=torch.float64)
    torch.testing.assert_close(info_nce(a * scales, b), info_nce(a, b))
    # Per-pair losses: pair i's row and column terms, in order.
    none = info_nce(a, b, reduction="none")
    torch.testing.assert_close(none.mean(), info_nce(a, b))
    torch.testing.assert_close(none.sum(), info_nce(a, b, reduction="sum"))


X = torch.ones(2, 3)


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "error", "facts"),
    [
        ([[1.0]], torch.zeros(1, 1), {}, TypeError, "a.*torch.Tensor.*list"),
        (torch.zeros(1, 1), None, {}, TypeError, "b.*torch.Tensor.*NoneType"),
        (torch.zeros(4), torch.zeros(4), {}, ValueError, "a.*2-D.*1-D"),
        (torch.zeros(2, 3), torch.zeros(2, 3, 1), {}, ValueError, "b.*2-D.*3-D"),
        (torch.zeros(2, 3, dtype=LONG), torch.zeros(2, 3), {}, TypeError, "a.*floating.*int64"),
        (torch.zeros(0, 3), torch.zeros(0, 3), {}, ValueError, r"a.*at least one row.*\(0, 3\)"),
        (torch.zeros(2, 3), torch.zeros(2, 4), {}, ValueError, r"b.*\(\*, 3\).*\(2, 4\)"),
        (torch.zeros(2, 3), torch.zeros(3, 3), {}, ValueError, r"b.*\(2, 3\).*\(3, 3\)"),
        (X, X, dict(temperature=0), ValueError, "temperature.*> 0.*0"),
        (X, X, dict(temperature=-1.0), ValueError, "temperature.*-1"),
        (X, X, dict(temperature="0.1"), TypeError, "temperature.*str"),
        (X, X, dict(temperature=True), TypeError, "temperature.*True"),
        (X, X, dict(temperature=torch.tensor(-0.5)), ValueError, "temperature.*> 0.*-0.5"),
        (X, X, dict(temperature=torch.tensor([0.1])), ValueError, "temperature.*0-D.*1-D"),
        (X, X, dict(temperature=torch.tensor(1)), TypeError, "temperature.*floating.*int64"),
        (X, X, dict(reduction="avg"), ValueError, "reduction.*avg"),
    ],
)
def test_info_nce_rejects_bad_arguments(a, b, kwargs, error, facts):
    with pytest.raises(error, match=facts):
        info_nce(a, b, **kwargs)


@pytest.mark.parametrize("seed", range(3))
def test_info_nce_learned_temperature_gets_its_gradient(seed):
    """CLIP's temperature is learned, 1 / exp(logit_scale): a tensor temperature must reach the
    loss as a tensor, with the gradient the cross-entropy form gives it."""
    g = torch.Generator().manual_seed(seed)
    a, b = (torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(2))
    scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    ours = info_nce(a, b, temperature=1 / scale.exp())
    (ours_grad,) = torch.autograd.grad(ours, scale)
    reference = _info_nce_reference(a, b, 1 / scale.exp())
    (reference_grad,) = torch.autograd.grad(reference, scale)
    torch.testing.assert_close(ours, reference)
    torch.testing.assert_close(ours_grad, reference_grad)
