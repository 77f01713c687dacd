"""Checkers for the pooling and CNN exercises (exercises/03_pooling_cnn.md)."""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmcourse.check._core import (
    CheckFailed,
    as_int,
    as_tensor,
    call,
    checker,
    expect_close,
    expect_shape,
    passed,
)

# ---------------------------------------------------------------------------------------------
# Task 1: pool_output_size

# (size, kernel_size, stride, padding, ceil_mode): hand-picked traps, then seeded random cases.
_SIZE_CASES = [
    (3, 2, 2, 1, True),  # the famous one: a third window would start in the right padding
    (8, 2, None, 0, False),  # stride=None means the kernel size
    (5, 2, None, 0, True),  # ceil keeps a half window
    (5, 2, None, 0, False),
    (7, 3, 2, 1, False),
    (6, 3, 2, 1, True),
    (10, 3, 3, 1, True),
    (9, 4, 3, 2, True),
    (1, 1, 1, 0, False),
    (32, 3, 2, 1, True),
]


def _true_pool_size(size: int, k: int, s: int | None, p: int, ceil: bool) -> int:
    s = k if s is None else s
    room = size + 2 * p - k
    if not ceil:
        return room // s + 1
    out = -(-room // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def _pool_size_cases() -> list[tuple[int, int, int | None, int, bool]]:
    rng = random.Random(3)
    cases = list(_SIZE_CASES)
    while len(cases) < 40:
        k = rng.randint(1, 6)
        s = rng.choice([None, rng.randint(1, 4)])
        p, size, ceil = rng.randint(0, k // 2), rng.randint(1, 30), rng.random() < 0.6
        if size + 2 * p >= k:
            cases.append((size, k, s, p, ceil))
    return cases


def _naive_ceil(n, k, s, p, ceil):
    s = k if s is None else s
    return (-(-(n + 2 * p - k) // s) if ceil else (n + 2 * p - k) // s) + 1


_POOL_SIZE_MISTAKES = [
    (
        _naive_ceil,
        "In ceil_mode, PyTorch drops a last window that would start in the right padding: "
        "if (out - 1) * stride >= size + padding, subtract one.",
    ),
    (
        lambda n, k, s, p, c: _true_pool_size(n, k, s, p, False),
        "With ceil_mode=True round the division up, so that a last, partial window is kept.",
    ),
    (
        lambda n, k, s, p, c: _true_pool_size(n, k, 1 if s is None else s, p, c),
        "stride=None means the stride equals the kernel size (the windows tile the input).",
    ),
    (
        lambda n, k, s, p, c: _naive_ceil(n - p, k, s, p, c),
        "Padding is added on both sides: the padded size is size + 2*padding.",
    ),
    (
        lambda n, k, s, p, c: _true_pool_size(n, k, s, p, c) - 1,
        "Count the first window too: the formula ends in + 1.",
    ),
]


@checker
def pool_output_size(fn: Any) -> None:
    """Check ``fn(size, kernel_size, stride=None, padding=0, ceil_mode=False) -> int``."""
    cases = _pool_size_cases()
    answers = []
    for size, k, s, p, ceil in cases:
        case = f"for an input of size {size}, kernel {k}, stride {s}, padding {p}, ceil_mode={ceil}"
        expected = _true_pool_size(size, k, s, p, ceil)
        got = call(fn, "pool_output_size", case, size, k, stride=s, padding=p, ceil_mode=ceil)
        answers.append(((size, k, s, p, ceil), as_int(got, case, expected)))
    for (size, k, s, p, ceil), got in answers:
        expected = _true_pool_size(size, k, s, p, ceil)
        if got != expected:
            hint = ""
            for formula, text in _POOL_SIZE_MISTAKES:
                if all(formula(*args) == answer for args, answer in answers):
                    hint = text
                    break
            raise CheckFailed(
                f"for an input of size {size}, kernel {k}, stride {s}, padding {p}, "
                f"ceil_mode={ceil} you returned {got}, expected {expected}"
                + (f". {hint}" if hint else "")
            )
    passed("pool_output_size", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 2: max_pool2d


def _max_pool_cases() -> list[dict]:
    g = torch.Generator().manual_seed(4)
    specs = [  # (N, C, H, W, kernel_size, stride, padding)
        (1, 1, 4, 4, 2, None, 0),
        (2, 3, 6, 6, 2, None, 0),
        (1, 2, 7, 5, 3, 2, 0),
        (2, 1, 5, 5, 3, 1, 1),
        (1, 2, 8, 6, 2, 2, 1),
        (3, 1, 9, 9, 3, None, 1),
        (1, 1, 5, 8, 4, 3, 2),
    ]
    return [
        {
            "x": torch.randn(n, c, h, w, generator=g) - 0.5,  # mostly negative near the padding
            "kernel_size": k,
            "stride": s,
            "padding": p,
        }
        for n, c, h, w, k, s, p in specs
    ]


def _max_pool_hint(result: torch.Tensor, case: dict) -> str:
    x, k, s, p = case["x"], case["kernel_size"], case["stride"], case["padding"]

    def same(other: torch.Tensor) -> bool:
        return other.shape == result.shape and torch.allclose(
            result.detach().double().cpu(), other.double(), atol=1e-4, rtol=1e-4
        )

    if same(F.avg_pool2d(x, k, s, p)) or same(F.avg_pool2d(x, k, s, p, count_include_pad=False)):
        return "You computed each window's mean: max pooling keeps its largest value."
    if p and same(F.max_pool2d(F.pad(x, (p, p, p, p)), k, s)):
        return (
            "The padding must never win the maximum: pad with -inf (float('-inf')), not zeros. "
            "With negative inputs, a zero from the padding is larger than every real value."
        )
    return ""


def _shape_hint(result: torch.Tensor, case: dict) -> str:
    x, k, s, p = case["x"], case["kernel_size"], case["stride"], case["padding"]
    if s is None and result.shape == F.max_pool2d(x, k, 1, p).shape:
        return "stride=None means the stride equals the kernel size, not 1."
    if p and result.shape == F.max_pool2d(x, k, s, 0).shape:
        return f"Pad the input by {p} on all four sides first."
    return "Each axis has floor((size + 2*padding - kernel_size) / stride) + 1 outputs."


@checker
def max_pool2d(fn: Any) -> None:
    """Check ``fn(x, kernel_size, stride=None, padding=0)`` against ``F.max_pool2d``."""
    cases = _max_pool_cases()
    for case in cases:
        x, k, s, p = case["x"], case["kernel_size"], case["stride"], case["padding"]
        description = f"for an input of shape {tuple(x.shape)}, kernel {k}, stride {s}, padding {p}"
        expected = F.max_pool2d(x, k, s, p)
        result = call(fn, "max_pool2d", description, x.clone(), k, stride=s, padding=p)
        result = as_tensor(result, description)
        if tuple(result.shape) != tuple(expected.shape):
            expect_shape(result, expected.shape, description, _shape_hint(result, case))
        expect_close(result, expected, description, _max_pool_hint(result, case))
    passed("max_pool2d", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 3: max_pool_backward


def _backward_cases() -> list[tuple[torch.Tensor, torch.Tensor, int, str]]:
    g = torch.Generator().manual_seed(5)
    cases = []
    for n, c, h, w, k in [(1, 1, 4, 4, 2), (2, 3, 6, 4, 2), (1, 2, 6, 9, 3), (2, 1, 5, 7, 2)]:
        x = torch.randn(n, c, h, w, generator=g)
        grad = torch.randn(n, c, h // k, w // k, generator=g)
        cases.append((x, grad, k, ""))
    tied = torch.tensor([[[[1.0, 1.0, 0.0, 2.0], [0.0, 1.0, 2.0, 2.0]]]])  # ties in both windows
    cases.append((tied, torch.tensor([[[[3.0, 5.0]]]]), 2, " (with ties inside the windows)"))
    return cases


def _reference_backward(x: torch.Tensor, grad: torch.Tensor, k: int) -> torch.Tensor:
    x = x.detach().clone().requires_grad_()
    (result,) = torch.autograd.grad(F.max_pool2d(x, k), x, grad)
    return result


def _backward_hint(result: torch.Tensor, x: torch.Tensor, grad: torch.Tensor, k: int) -> str:
    def same(other: torch.Tensor) -> bool:
        return other.shape == result.shape and torch.allclose(
            result.detach().double().cpu(), other.double(), atol=1e-4, rtol=1e-4
        )

    xr = x.detach().clone().requires_grad_()
    (spread,) = torch.autograd.grad(F.avg_pool2d(xr, k), xr, grad)
    if same(spread):
        return (
            "You spread each gradient evenly over its window: that is average pooling's "
            "gradient. Through a maximum, only the position that won the window gets it."
        )
    if same(_reference_backward(x, torch.ones_like(grad), k)):
        return (
            "The winners must receive the upstream gradient grad_output[n, c, i, j], "
            "not 1: the chain rule multiplies by it."
        )
    n, c, h, w = x.shape
    crop = x[:, :, : h // k * k, : w // k * k]
    windows = crop.reshape(n, c, h // k, k, w // k, k)
    is_max = windows == windows.amax(dim=(3, 5), keepdim=True)
    every_tie = torch.zeros_like(x)
    every_tie[:, :, : h // k * k, : w // k * k] = (
        (is_max * grad[:, :, :, None, :, None]).reshape(crop.shape).to(x.dtype)
    )
    if same(every_tie):
        return (
            "When several entries of a window tie for the maximum, PyTorch gives the whole "
            "gradient to the first of them (in row-major order), not to each of them."
        )
    return ""


@checker
def max_pool_backward(fn: Any) -> None:
    """Check ``fn(x, grad_output, kernel_size)``: the gradient of max pooling w.r.t. ``x``."""
    cases = _backward_cases()
    for x, grad, k, note in cases:
        description = (
            f"for an input of shape {tuple(x.shape)}{note}, kernel_size {k} "
            f"(so grad_output has shape {tuple(grad.shape)})"
        )
        expected = _reference_backward(x, grad, k)
        result = call(fn, "max_pool_backward", description, x.clone(), grad.clone(), k)
        result = as_tensor(result, description)
        expect_shape(
            result,
            expected.shape,
            description,
            "The gradient with respect to x has the shape of x (inputs a window does not "
            "cover get 0)",
        )
        expect_close(result, expected, description, _backward_hint(result, x, grad, k))
    passed("max_pool_backward", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 4: cross_entropy


def _ce_cases() -> list[tuple[torch.Tensor, torch.Tensor, str]]:
    g = torch.Generator().manual_seed(6)
    cases = []
    for n, k, scale in [(4, 10, 1.0), (1, 10, 2.0), (7, 3, 1.0), (16, 2, 3.0), (5, 10, 500.0)]:
        logits = scale * torch.randn(n, k, generator=g)
        target = torch.randint(0, k, (n,), generator=g)
        cases.append((logits, target, " (large logits)" if scale > 100 else ""))
    return cases


def _ce_hint(value: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> str:
    def same(other: torch.Tensor) -> bool:
        return torch.allclose(value.detach().double().cpu(), other.double(), atol=1e-4)

    reference = F.cross_entropy(logits, target)
    over_batch = -F.log_softmax(logits, dim=0).gather(1, target[:, None]).mean()
    if logits.shape[0] > 1 and same(over_batch):
        return (
            "You normalized over the samples of the batch (dim=0). The softmax of sample i "
            "sums over its classes: logsumexp over dim=1 (erratum E12)."
        )
    if logits.shape[0] > 1 and same(reference * logits.shape[0]):
        return "Average over the samples (divide by N), as F.cross_entropy does by default."
    if same(-reference):
        return "Cross-entropy is the *negative* mean log-probability of the right class."
    probability = F.softmax(logits, dim=1).gather(1, target[:, None])
    if same(-probability.mean()) or same(1 - probability.mean()):
        return "Take the log of the right class's probability: -log p[i, y[i]], averaged."
    return ""


@checker
def cross_entropy(fn: Any) -> None:
    """Check ``fn(logits, target)`` against ``F.cross_entropy`` (values and gradients)."""
    cases = _ce_cases()
    for logits, target, note in cases:
        n, k = logits.shape
        description = f"for logits of shape ({n}, {k}){note}"
        expected = F.cross_entropy(logits, target)
        inputs = logits.clone().requires_grad_()
        result = call(fn, "cross_entropy", description, inputs, target.clone())
        if isinstance(result, float | int) and not isinstance(result, bool):
            raise CheckFailed(
                f"{description}: you returned the Python number {result!r}; return a tensor "
                "(no .item()), so that the loss can be backpropagated"
            )
        result = as_tensor(result, description)
        if result.numel() != 1:
            raise CheckFailed(
                f"{description}: your result has shape {tuple(result.shape)}, expected a single "
                "number (a 0-d tensor): the mean over the samples"
            )
        result = result.reshape(())
        if not torch.isfinite(result):
            raise CheckFailed(
                f"{description}: your loss is {result.item()}. exp() overflows for large "
                "logits: subtract each row's maximum first (the log-sum-exp trick), "
                "log sum_k exp(z_k) = m + log sum_k exp(z_k - m)"
            )
        expect_close(result, expected, description, _ce_hint(result, logits, target))
        if not result.requires_grad:
            raise CheckFailed(
                f"{description}: your loss has the right value but no gradient: compute it "
                "with torch operations on the logits (no .item(), .detach() or NumPy)"
            )
        (grad,) = torch.autograd.grad(result, inputs, allow_unused=True)
        reference = logits.clone().requires_grad_()
        (expected_grad,) = torch.autograd.grad(F.cross_entropy(reference, target), reference)
        if grad is None:
            raise CheckFailed(f"{description}: your loss does not depend on the logits")
        expect_close(grad, expected_grad, f"{description}, the gradient")
    passed("cross_entropy", len(cases))


# ---------------------------------------------------------------------------------------------
# Task 5: small_cnn

PARAMETER_BUDGET = 10_000
TARGET_ACCURACY = 0.97
EPOCHS, LR = 15, 3e-3


@checker
def small_cnn(fn: Any) -> None:
    """Check that ``fn()`` builds a CNN within the budget that reaches 97% on the digits.

    The model is built after ``set_seed(0)``, trained with ``mmcourse.train.fit`` (Adam,
    15 epochs, learning rate 3e-3, batch 64, seed 0) on the training part of
    ``digits_splits(seed=0)`` and evaluated on its test part.
    """
    from mmcourse.data import digits_splits
    from mmcourse.train import count_parameters, evaluate, fit
    from mmcourse.utils import set_seed

    if isinstance(fn, nn.Module):
        raise CheckFailed(
            "you passed a model; pass the function that builds it (small_cnn, without "
            "parentheses), so that the checker can build it from a fixed seed"
        )
    set_seed(0)
    model = call(fn, "small_cnn", "when called")
    if isinstance(model, type) and issubclass(model, nn.Module):
        raise CheckFailed(
            f"small_cnn returned the class {model.__name__}, not a model: call it, "
            f"e.g. return {model.__name__}(...)"
        )
    if not isinstance(model, nn.Module):
        raise CheckFailed(
            f"small_cnn returned a {type(model).__name__}; expected an nn.Module "
            "(for example an nn.Sequential)"
        )
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise CheckFailed(
            "your model has no nn.Conv2d layer: the task is a convolutional network "
            "(convolutions, pooling, then a linear layer to the 10 classes)"
        )
    n_params = count_parameters(model)
    if n_params > PARAMETER_BUDGET:
        raise CheckFailed(
            f"your model has {n_params:,} parameters, the budget is {PARAMETER_BUDGET:,}. "
            "Pool after each convolution block: flattening 16 maps of 8×8 into a linear layer "
            "costs 16*64*10 = 10,240 weights, flattening 32 maps of 2×2 only 1,280"
        )
    images = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(7))
    model.eval()
    case = "on a batch of 5 images of shape (5, 1, 8, 8)"
    with torch.no_grad():
        out = call(model, "model", case, images)
    model.train()
    out = as_tensor(out, case, "your model returned")
    if tuple(out.shape) != (5, 10):
        hint = (
            "Flatten the feature maps (nn.Flatten()) before the linear layer."
            if out.dim() > 2
            else "The last layer must output 10 numbers, one logit per digit."
        )
        raise CheckFailed(
            f"{case} your model returned shape {tuple(out.shape)}, expected (5, 10). {hint}"
        )
    if (out >= 0).all() and torch.allclose(out.sum(dim=1), torch.ones(5), atol=1e-4):
        raise CheckFailed(
            "your model's outputs are probabilities (each row is non-negative and sums to 1): "
            "remove the final softmax. F.cross_entropy takes logits and applies the "
            "log-softmax itself (erratum E6)"
        )
    train, _, test = digits_splits(seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread
    try:
        fit(model, train, epochs=EPOCHS, lr=LR, seed=0, progress=False)
        accuracy = evaluate(model, test)["accuracy"]
    except Exception as error:
        raise CheckFailed(f"training your model failed: {type(error).__name__}: {error}") from None
    finally:
        torch.set_num_threads(threads)
    if accuracy < TARGET_ACCURACY:
        activations = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU, nn.Tanh, nn.Sigmoid)
        if not any(isinstance(m, activations) for m in model.modules()):
            hint = (
                " Your model has no nonlinearity (nn.ReLU) between its layers, so it can only "
                "compute a linear function of the pixels, however many layers it has."
            )
        else:
            hint = (
                " A ReLU after each convolution, a max pooling after each block and "
                "nn.BatchNorm2d after each convolution make training fast and reliable."
            )
        raise CheckFailed(
            f"after {EPOCHS} epochs of Adam (learning rate {LR}) your model "
            f"({n_params:,} parameters) reaches {accuracy:.1%} test accuracy; "
            f"{TARGET_ACCURACY:.0%} is needed.{hint}"
        )
    print(
        f"✓ small_cnn: {n_params:,} parameters (budget {PARAMETER_BUDGET:,}), "
        f"{accuracy:.1%} test accuracy after {EPOCHS} epochs."
    )
