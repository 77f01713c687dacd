"""mmcourse.retrieval against torch.nn.functional and brute-force loops; error messages."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcourse.retrieval import normalize, recall_at_k, similarity, zero_shot_predict


def _randn(*shape, seed, dtype=torch.float64, grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).requires_grad_(grad)


def _ties(n, d, seed):
    """Embeddings with entries in {-1, 0, 1}: repeated rows and equal similarities are common."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(-1, 2, (n, d), generator=g).double()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 9),
    m=st.integers(1, 9),
    d=st.integers(1, 7),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 2**31 - 1),
)
def test_similarity_matches_torch(n, m, d, scale, seed):
    a = (scale * _randn(n, d, seed=seed)).detach().requires_grad_()
    b = _randn(m, d, seed=seed + 1, grad=True)
    ours = similarity(a, b)
    assert ours.shape == (n, m)
    ref = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
    torch.testing.assert_close(ours, ref)
    cosine = F.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1)
    torch.testing.assert_close(ours, cosine)
    upstream = torch.cos(torch.arange(n * m, dtype=ours.dtype)).reshape(n, m)
    grads = torch.autograd.grad((ours * upstream).sum(), (a, b))
    ref_grads = torch.autograd.grad((ref * upstream).sum(), (a, b))
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(grad, ref_grad)


def test_normalize_matches_torch_including_zero_rows():
    x = _randn(5, 3, seed=0)
    x[2] = 0.0  # a zero row stays zero, with a finite gradient
    x.requires_grad_()
    ours, ref = normalize(x), F.normalize(x, dim=1)
    torch.testing.assert_close(ours, ref)
    upstream = torch.arange(15.0, dtype=x.dtype).reshape(5, 3)
    (grad,) = torch.autograd.grad((ours * upstream).sum(), x)
    (ref_grad,) = torch.autograd.grad((ref * upstream).sum(), x)
    torch.testing.assert_close(grad, ref_grad)
    torch.testing.assert_close(ours[2], torch.zeros(3, dtype=x.dtype))


def _recall_brute_force(a, b, k):
    """Rank each partner by a sort in Python; a tie puts the partner after its equals."""
    s = similarity(a, b).tolist()
    hits = 0
    for i, row in enumerate(s):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j == i))  # noqa: B023
        hits += order.index(i) < k
    return hits / len(s)


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(1, 5),
    k=st.integers(1, 12),
    ties=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_recall_at_k_matches_a_brute_force_loop(n, d, k, ties, seed):
    k = min(k, n)
    make = _ties if ties else (lambda n, d, seed: _randn(n, d, seed=seed))
    a, b = make(n, d, seed), make(n, d, seed + 1)
    b[: n // 2] = a[: n // 2] + 0.1 * b[: n // 2]  # some pairs close together
    assert recall_at_k(a, b, k) == pytest.approx(_recall_brute_force(a, b, k))
    assert recall_at_k(b, a, k) == pytest.approx(_recall_brute_force(b, a, k))


@pytest.mark.parametrize("k", [1, 2, 5])
def test_recall_at_k_without_ties_is_torch_topk(k):
    a, b = _randn(40, 6, seed=3), _randn(40, 6, seed=4)
    b[:20] += 2 * a[:20]
    top = similarity(a, b).topk(k, dim=1).indices  # (N, k)
    expected = (top == torch.arange(40)[:, None]).any(dim=1).double().mean().item()
    assert recall_at_k(a, b, k) == pytest.approx(expected)


def test_recall_at_k_known_values():
    a = torch.eye(4)
    assert recall_at_k(a, 3 * a) == 1.0  # every partner points the same way
    assert recall_at_k(a, a.roll(1, dims=0)) == 0.0  # every partner is another's
    same = torch.ones(4, 2)  # collapsed embeddings: all ties, which count against the query
    assert recall_at_k(same, same, k=3) == 0.0
    assert recall_at_k(same, same, k=4) == 1.0  # k = N: every partner is among all N
    assert recall_at_k(torch.randn(1, 3), torch.randn(1, 3)) == 1.0  # one pair, one candidate
    a, b = _randn(6, 3, seed=5, grad=True), _randn(6, 3, seed=6)
    assert isinstance(recall_at_k(a, b), float)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 10),
    k=st.integers(1, 10),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**31 - 1),
)
def test_zero_shot_predict_is_the_most_similar_class(n, k, d, seed):
    x, classes = _randn(n, d, seed=seed), _randn(k, d, seed=seed + 1)
    ours = zero_shot_predict(x, classes)
    assert ours.shape == (n,) and ours.dtype == torch.int64
    for i in range(n):
        cosines = [
            float(x[i] @ c) / (math.sqrt(float(x[i] @ x[i])) * math.sqrt(float(c @ c)))
            for c in classes
        ]
        assert cosines[ours[i]] == pytest.approx(max(cosines))


def test_zero_shot_predict_ignores_lengths():
    classes = torch.eye(3)
    x = torch.tensor([[0.1, 0.0, 0.0], [0.0, 50.0, 1.0], [1.0, 2.0, 30.0]])
    assert zero_shot_predict(x, 7 * classes).tolist() == [0, 1, 2]


NAN, INF = float("nan"), float("inf")
LONG = torch.long


@pytest.mark.parametrize(
    ("fn", "args", "error", "facts"),
    [
        (similarity, ([[1.0]], torch.zeros(1, 1)), TypeError, "a.*torch.Tensor.*list"),
        (similarity, (torch.zeros(2), torch.zeros(1, 2)), ValueError, "a.*2-D.*1-D"),
        (similarity, (torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, r"b.*\(\*, 3\).*\(2, 4\)"),
        (similarity, (torch.zeros(2, 3, dtype=LONG), torch.zeros(2, 3)), TypeError, "a.*int64"),
        (similarity, (torch.zeros(2, 0), torch.zeros(2, 0)), ValueError, r"one column.*\(2, 0\)"),
        (normalize, (torch.zeros(3),), ValueError, "x.*2-D.*1-D"),
        (recall_at_k, (torch.zeros(3, 2), torch.zeros(4, 2)), ValueError, r"b.*\(3, 2\).*\(4, 2\)"),
        (recall_at_k, (torch.zeros(3, 2), torch.zeros(3, 2), 4), ValueError, r"k.*<= 3.*4"),
        (recall_at_k, (torch.zeros(3, 2), torch.zeros(3, 2), 0), ValueError, r"k.*>= 1.*0"),
        (recall_at_k, (torch.zeros(3, 2), torch.zeros(3, 2), 1.0), TypeError, r"k.*int.*1\.0"),
        (recall_at_k, (torch.zeros(0, 2), torch.zeros(0, 2)), ValueError, r"a.*one row.*\(0, 2\)"),
        (
            zero_shot_predict,
            (torch.zeros(3, 2), torch.zeros(10, 3)),
            ValueError,
            r"class_embeddings.*\(\*, 2\).*\(10, 3\)",
        ),
        (zero_shot_predict, (torch.zeros(3, 2), "digits"), TypeError, "class_embeddings.*str"),
        (zero_shot_predict, (torch.zeros(2, 2, 2), torch.eye(2)), ValueError, "embeddings.*3-D"),
        (
            similarity,
            (torch.zeros(2, 3), torch.zeros(2, 3).double()),
            TypeError,
            "b.*float32.*float64",
        ),
        (
            similarity,
            (torch.zeros(2, 3), torch.zeros(2, 3, device="meta")),
            ValueError,
            "b.*cpu.*meta",
        ),
        (recall_at_k, (torch.ones(3, 2), torch.full((3, 2), NAN)), ValueError, "b.*finite.*NaN"),
        (
            zero_shot_predict,
            (torch.full((3, 2), INF), torch.eye(2)),
            ValueError,
            "embeddings.*finite",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(fn, args, error, facts):
    with pytest.raises(error, match=facts):
        fn(*args)
