"""Checker for the small-CNN exercise (exercises/03_pooling_cnn.md): an image encoder, trained.

Custom: the model is built from a fixed seed, trained on the digits and judged by its size and
its test accuracy, with a hint for the usual reasons it falls short.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mmcourse.check._core import CheckFailed, as_tensor, call, checker, one_thread

PARAMETER_BUDGET = 10_000
TARGET_ACCURACY = 0.97
EPOCHS, LR = 15, 3e-3


@checker
@one_thread
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
    try:
        fit(model, train, epochs=EPOCHS, lr=LR, seed=0, progress=False)
        accuracy = evaluate(model, test)["accuracy"]
    except Exception as error:
        raise CheckFailed(f"training your model failed: {type(error).__name__}: {error}") from None
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
