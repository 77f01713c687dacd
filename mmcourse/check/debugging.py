"""Checkers for the find-the-bug exercises of chapter 10 (exercises/10_case_studies.md).

Each task hands the learner a short broken training step or model, most of them from the errata
of the source documents (book/errata.md), and asks for it fixed. The checkers run the fixed
version briefly (twenty training steps, a linear probe, a short fit) and name the symptom that
remains: a loss taken on probabilities, gradients that pile up, a label among the inputs, swapped
LSTM gates, logits of two classifiers stacked, factors that no optimizer sees. The LSTM task is a
declaration, run on hidden cases by the engine; the others are custom.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmcourse.check._core import (
    CheckFailed,
    Mistake,
    as_number,
    as_tensor,
    call,
    case,
    checker,
    exercise,
    one_thread,
)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generator inside the block, and restore the learner's state after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _build(cls: Any, name: str, case: str, *args: Any, **kwargs: Any) -> nn.Module:
    """An instance of the learner's model class ``cls``, built from a fixed seed."""
    if isinstance(cls, nn.Module):
        raise CheckFailed(
            f"you passed a model; pass the class {name} itself (without parentheses), so that "
            "the checker can build it from a fixed seed"
        )
    if not callable(cls):
        raise CheckFailed(f"expected the class {name}, got {type(cls).__name__} {cls!r:.60}")
    with _seeded(0):
        model = call(cls, name, case, *args, **kwargs)
    if not isinstance(model, nn.Module):
        raise CheckFailed(f"{case}: {name} gave a {type(model).__name__}; expected an nn.Module")
    return model


def _digits() -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """The training and test images and labels of ``digits_splits(seed=0)``."""
    from mmcourse.data import digits_splits

    train, _, test = digits_splits(seed=0)
    return train, test


# ---------------------------------------------------------------------------------------------
# Task 1: a training step with a softmax before the loss (E6) and no zero_grad

STEPS, BATCH, LR = 20, 32, 0.5


def _step(model, optimizer, images, labels, softmax=False, zero_grad=True):
    """One SGD step; the two bugs of the original can be switched on."""
    if zero_grad:
        optimizer.zero_grad()
    logits = model(images)
    loss = F.cross_entropy(torch.softmax(logits, dim=1) if softmax else logits, labels)
    loss.backward()
    optimizer.step()
    return loss.item()


STEP_MISTAKES = [
    (
        "Both bugs remain: the loss is taken on probabilities (F.cross_entropy applies the "
        "log-softmax itself: pass it the logits, erratum E6), and the gradients of earlier "
        "steps pile up (call optimizer.zero_grad() before loss.backward()).",
        lambda *a: _step(*a, softmax=True, zero_grad=False),
    ),
    (
        "Your loss is the cross-entropy of probabilities: F.cross_entropy applies the "
        "log-softmax itself, so pass it the logits (no softmax before the loss, erratum E6).",
        lambda *a: _step(*a, softmax=True),
    ),
    (
        "The gradients of earlier steps pile up: loss.backward() adds to .grad, so call "
        "optimizer.zero_grad() before it, at every step.",
        lambda *a: _step(*a, zero_grad=False),
    ),
]


def _trajectory(step: Any, learner: bool = False) -> tuple[list[float], list[Tensor]]:
    """The losses returned by ``STEPS`` calls of ``step`` on digit batches (a linear model and
    SGD with learning rate ``LR``), and the parameters, flattened into one vector, before the
    first step and after each."""
    (images, labels), _ = _digits()
    with _seeded(10):
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    losses, parameters = [], [torch.cat([p.detach().flatten() for p in model.parameters()])]
    for k in range(STEPS):
        x, y = images[k * BATCH : (k + 1) * BATCH], labels[k * BATCH : (k + 1) * BATCH]
        if learner:
            where = f"at step {k + 1}"
            loss = call(step, "train_step", where, model, optimizer, x.clone(), y.clone())
            losses.append(as_number(loss, where, "your train_step returned"))
        else:
            losses.append(step(model, optimizer, x, y))
        parameters.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    return losses, parameters


def _close(a: Tensor | float, b: Tensor | float) -> bool:
    return bool(torch.allclose(torch.as_tensor(a), torch.as_tensor(b), rtol=1e-3, atol=1e-4))


def _first_difference(mine: tuple, theirs: tuple, steps: int = STEPS) -> int | None:
    """The first of ``steps`` steps (0-based) at which two trajectories differ, or None."""
    for k in range(steps):
        if not (_close(mine[0][k], theirs[0][k]) and _close(mine[1][k + 1], theirs[1][k + 1])):
            return k
    return None


@checker
@one_thread
def train_step(fn: Any) -> None:
    """Check ``fn(model, optimizer, images, labels) -> loss`` (a float), one training step.

    Twenty steps of ``fn`` on batches of 32 digits (a linear model, SGD with learning rate 0.5)
    must return the same losses and leave the same parameters as a correct step: zero the
    gradients, cross-entropy of the logits, backward, optimizer step.
    """
    mine, right = _trajectory(fn, learner=True), _trajectory(_step)
    k = _first_difference(mine, right)
    if k is None:
        print(
            f"✓ train_step: the same losses and parameters as a correct step for {STEPS} steps "
            f"(loss {right[0][0]:.2f} → {right[0][-1]:.2f})."
        )
        return
    losses, parameters = mine
    if not _close(losses[k], right[0][k]):
        found = f"at step {k + 1} your train_step returned the loss {losses[k]:.4f}, "
        found += f"expected {right[0][k]:.4f}"
    else:
        found = f"after step {k + 1} your parameters differ from those of a correct step"
    if torch.equal(parameters[k + 1], parameters[k]):
        hint = (
            f"Step {k + 1} did not change the parameters: call loss.backward() and then "
            "optimizer.step(), with optimizer.zero_grad() before the backward pass, not "
            "between backward and step."
        )
    else:
        # the first mistake that gives all the learner's steps, else the steps up to this one
        wrong = [(h, _trajectory(step)) for h, step in STEP_MISTAKES]
        same = [
            h for n in (STEPS, k + 1) for h, t in wrong if _first_difference(mine, t, n) is None
        ]
        hint = same[0] if same else ""
    raise CheckFailed(f"{found}. {hint}".strip())


# ---------------------------------------------------------------------------------------------
# Task 2: the target among the inputs (label leakage, E7)

WORDS, AUDIO_DIM, TEXT_DIM = 10, 40, 8


def _speech(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` spoken words: ``(audio, words)``, audio ``(n, 40)`` = the word's pattern + noise."""
    patterns = 0.7 * torch.randn(WORDS, AUDIO_DIM, generator=torch.Generator().manual_seed(70))
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(0, WORDS, (n,), generator=g)
    return patterns[words] + torch.randn(n, AUDIO_DIM, generator=g), words


def _inputs(fn: Any, audio: Tensor, words: Tensor, embed: nn.Module, case: str) -> Tensor:
    """The inputs the learner's ``fn`` makes, checked to be ``(N, features)`` with that target."""
    out = call(fn, "inputs_and_target", case, audio.clone(), words.clone(), embed)
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise CheckFailed(
            f"{case}: your inputs_and_target returned {out!r:.60} (a {type(out).__name__}); "
            "expected two values (inputs, target)"
        )
    inputs = as_tensor(out[0], case, "as inputs you returned")
    target = as_tensor(out[1], case, "as target you returned")
    if target.shape != words.shape or target.is_floating_point() or not target.eq(words).all():
        raise CheckFailed(
            f"{case}: your target is not the word ids: the target stays `words` (int64, shape "
            f"{tuple(words.shape)}); it is the inputs that must change"
        )
    if inputs.dim() != 2 or inputs.shape[0] != len(words):
        raise CheckFailed(
            f"{case}: your inputs have shape {tuple(inputs.shape)}; expected one row of "
            f"features per sample, shape ({len(words)}, features)"
        )
    inputs = inputs.detach().to("cpu", torch.float32)
    if not torch.isfinite(inputs).all():
        raise CheckFailed(f"{case}: your inputs contain NaN or infinity")
    return inputs


def _probe(x: Tensor, y: Tensor, test_x: Tensor, test_y: Tensor) -> float:
    """The test accuracy of a linear classifier trained on ``x`` (standardized) to predict ``y``."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    with _seeded(0):
        linear = nn.Linear(x.shape[1], WORDS)
    optimizer = torch.optim.Adam(linear.parameters(), lr=0.05)
    for _ in range(150):
        optimizer.zero_grad()
        F.cross_entropy(linear((x - mean) / std), y).backward()
        optimizer.step()
    with torch.no_grad():
        return (linear((test_x - mean) / std).argmax(1) == test_y).float().mean().item()


@checker
@one_thread
def inputs_and_target(fn: Any) -> None:
    """Check ``fn(audio, words, embed) -> (inputs, target)`` for a classifier of spoken words.

    A linear classifier is trained on the inputs of 400 recordings and tested on 300 others. It
    must be 70% right, and at most 30% (chance is 10%) when the audio of every recording is
    replaced by noise: above that, the words themselves are among the inputs.
    """
    with _seeded(1):
        embed = nn.Embedding(WORDS, TEXT_DIM)
    accuracies = []
    for kind, seed in (("recordings", 71), ("recordings of noise", 73)):
        (audio, words), (test_audio, test_words) = _speech(400, seed), _speech(300, seed + 1)
        if kind != "recordings":
            g = torch.Generator().manual_seed(seed)
            audio, test_audio = (torch.randn(a.shape, generator=g) for a in (audio, test_audio))
        x = _inputs(fn, audio, words, embed, f"for 400 {kind}")
        test_x = _inputs(fn, test_audio, test_words, embed, f"for 300 other {kind}")
        if x.shape[1] != test_x.shape[1]:
            raise CheckFailed(
                f"your inputs have {x.shape[1]} features for 400 {kind} and {test_x.shape[1]} "
                "for 300 others; expected the same number every time"
            )
        accuracies.append(_probe(x, words, test_x, test_words))
    heard, deaf = accuracies
    if deaf > 0.3:
        raise CheckFailed(
            f"a classifier of your inputs is {heard:.0%} right on new recordings, and still "
            f"{deaf:.0%} right when every recording is noise (chance is 10%): the word itself "
            "is among the inputs (label leakage, erratum E7). At test time there is no "
            "transcript; the inputs must come from the audio alone"
        )
    if heard < 0.7:
        raise CheckFailed(
            f"a classifier of your inputs is only {heard:.0%} right on new recordings (70% is "
            "needed): your inputs lost what the audio says about the word. Keep the audio "
            "features"
        )
    print(
        f"✓ inputs_and_target: a classifier of your inputs is {heard:.0%} right on new "
        f"recordings, and {deaf:.0%} (chance) when they are noise: no leak."
    )


# ---------------------------------------------------------------------------------------------
# Task 3: an LSTM classifier whose forget and input gates are swapped (E3)


def _lstm(x, gates, head, bug=""):
    """The LSTM loop (gates in PyTorch's order i, f, g, o), with one typical bug switched on."""
    n, steps, _ = x.shape
    h = c = x.new_zeros(n, gates.out_features // 4)
    for t in range(steps):
        if bug == "reset":
            h = c = x.new_zeros(n, gates.out_features // 4)
        i, f, g, o = gates(torch.cat([x[:, t], h], dim=1)).chunk(4, dim=1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * g + i * c if bug == "swapped" else f * c + i * g
        h = o * c if bug == "no tanh" else o * torch.tanh(c)
    return head(c if bug == "cell" else h)


def _lstm_cases():
    """Random sequences and layers; the last case has one step only (any state reset passes)."""
    cases = []
    for seed, (n, steps, d, hidden, classes) in enumerate(
        [(4, 6, 3, 5, 4), (3, 9, 4, 2, 3), (2, 1, 2, 3, 2)]
    ):
        with _seeded(100 + seed):
            gates, head = nn.Linear(d + hidden, 4 * hidden), nn.Linear(hidden, classes)
            with torch.no_grad():
                gates.weight.mul_(3.0)  # gates far from 0.5, so that each bug shows
            cases.append(case(torch.randn(n, steps, d), gates, head))
    return cases


@exercise(
    cases=_lstm_cases,
    describe=lambda x, gates, head: (
        f"for x of shape {tuple(x.shape)}, hidden size {gates.out_features // 4} and "
        f"{head.out_features} classes"
    ),
    mistakes=[
        Mistake(
            "c' = f * g + i * c: the forget and input gates are swapped (erratum E3). The "
            "forget gate f keeps the old cell, the input gate i writes the candidate g: "
            "c' = f * c + i * g.",
            partial(_lstm, bug="swapped"),
        ),
        Mistake(
            "h' = o * tanh(c'): squash the new cell with tanh before the output gate.",
            partial(_lstm, bug="no tanh"),
        ),
        Mistake("Classify the last hidden state h, not the cell c.", partial(_lstm, bug="cell")),
        Mistake(
            "Your answer depends on the last step only: create h and c once, before the "
            "loop, and carry them from step to step.",
            partial(_lstm, bug="reset"),
        ),
    ],
    shape_hint="Return the head's logits after the last step: one row of num_classes "
    "numbers per sequence, shape (N, num_classes).",
)
def lstm_classify(x, gates, head):
    """Check ``fn(x, gates, head) -> head(h_T)``: an LSTM over ``x`` of shape ``(N, T, D)``
    whose four gates (order i, f, g, o) are the one ``nn.Linear`` ``gates`` applied to
    ``[x_t; h_{t-1}]``, then ``head`` on the last hidden state; equal to ``nn.LSTM``."""
    d, hidden = x.shape[2], gates.out_features // 4
    with _seeded(0):  # its random initialization, overwritten, must not move the learner's
        lstm = nn.LSTM(d, hidden, batch_first=True)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(gates.weight[:, :d])
        lstm.weight_hh_l0.copy_(gates.weight[:, d:])
        lstm.bias_ih_l0.copy_(gates.bias)
        lstm.bias_hh_l0.zero_()
    return head(lstm(x)[0][:, -1])


# ---------------------------------------------------------------------------------------------
# Task 4: two classifiers' logits stacked instead of features fused (E13)

FUSED_EPOCHS, FUSED_LR, FUSED_TARGET = 10, 1e-2, 0.9


def _shifted(images: Tensor, labels: Tensor, shift: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(images, text, target)``: text one-hot "plus zero" / "plus five", target the sum mod 10."""
    return images, F.one_hot(shift, 2).float(), (labels + 5 * shift) % 10


def _shifted_digits() -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """Every training image with both texts; every test image with a random one."""
    (images, labels), (test_images, test_labels) = _digits()
    n = len(labels)
    train = _shifted(images.repeat(2, 1, 1, 1), labels.repeat(2), torch.arange(2 * n) // n)
    shift = torch.randint(0, 2, (len(test_labels),), generator=torch.Generator().manual_seed(9))
    return train, _shifted(test_images, test_labels, shift)


def _outputs(model: nn.Module, images: Tensor, text: Tensor, case: str) -> Tensor:
    with torch.no_grad():
        out = call(model, "model", case, images, text)
    out = as_tensor(out, case, "your model returned")
    if out.shape == (len(images), 12):
        raise CheckFailed(
            f"{case}: your model returned shape {tuple(out.shape)}: it stacks two classifiers' "
            "logits (sizes 10 and 2) instead of fusing what the encoders see (erratum E13). "
            "Let each encoder end in features, concatenate them, and end in one head with 10 "
            "outputs"
        )
    if out.shape != (len(images), 10):
        raise CheckFailed(
            f"{case}: your model returned shape {tuple(out.shape)}, expected "
            f"({len(images)}, 10): one logit per class, from one head"
        )
    out = out.to("cpu", torch.float64)
    if (out >= 0).all() and torch.allclose(out.sum(1), torch.ones_like(out[:, 0]), atol=1e-4):
        raise CheckFailed(
            f"{case}: your model's outputs are probabilities (each row is non-negative and sums "
            "to 1): remove the final softmax. F.cross_entropy takes logits (erratum E6)"
        )
    return out


@checker
@one_thread
def image_text_model(cls: Any) -> None:
    """Check ``cls()``, a model called as ``model(images, text)`` that fuses both.

    ``images`` are 8×8 digits ``(N, 1, 8, 8)``, ``text`` a one-hot ``(N, 2)`` for "plus zero"
    or "plus five", the label the digit plus 0 or 5, mod 10. The model must return ``(N, 10)``
    logits that depend on both inputs, and not as a sum of an image part and a text part; after
    10 epochs of Adam (learning rate 0.01, batch 64) it must be 90% right on held-out pairs.
    """
    from mmcourse.train import evaluate, fit

    model = _build(cls, "ImageTextModel", "for ImageTextModel()")
    train, test = _shifted_digits()
    images = test[0][:16]
    plus0, plus5 = (F.one_hot(torch.full((16,), s), 2).float() for s in (0, 1))
    case = "on 16 images of shape (16, 1, 8, 8) and texts of shape (16, 2)"
    model.eval()
    out0, out5 = _outputs(model, images, plus0, case), _outputs(model, images, plus5, case)
    change = out5 - out0
    if (out0 - out0[0]).abs().max() < 1e-6:
        raise CheckFailed(
            "your model gives the same output for every image: it ignores the images. Fuse the "
            "image features with the text features"
        )
    if change.abs().max() < 1e-6:
        raise CheckFailed(
            "your model gives the same output for both texts: it ignores the text. Fuse the "
            "text features with the image features"
        )
    if (change - change.mean(0)).abs().max() < 1e-5 * (1 + change.abs().max()):
        raise CheckFailed(
            "changing the text shifts the logits of every image by the same amount: your model "
            "adds an image part and a text part (late fusion, or one linear layer on the "
            "concatenated features), so it cannot learn a label that depends on both together. "
            "Put a hidden layer with a nonlinearity (nn.ReLU) between the fusion and the output"
        )
    model.train()
    try:
        fit(model, train, epochs=FUSED_EPOCHS, lr=FUSED_LR, device="cpu", seed=0, progress=False)
        accuracy = evaluate(model, test, device="cpu")["accuracy"]
    except Exception as error:
        raise CheckFailed(f"training your model failed: {type(error).__name__}: {error}") from None
    if accuracy < FUSED_TARGET:
        raise CheckFailed(
            f"after {FUSED_EPOCHS} epochs of Adam (learning rate {FUSED_LR}) your model is "
            f"{accuracy:.1%} right on held-out pairs; {FUSED_TARGET:.0%} is needed. Give each "
            "encoder a hidden layer (nn.ReLU) and the head one after the fusion"
        )
    print(f"✓ image_text_model: {accuracy:.1%} right on held-out pairs of image and text.")


# ---------------------------------------------------------------------------------------------
# Task 5: low-rank fusion whose factors are a plain Python list (never registered)

DIMS, OUT, RANK = [3, 5], 4, 2


def _low_rank(features: list[Tensor], factors: Any, bias: Tensor) -> Tensor:
    """``sum_r prod_m ([x_m; 1] @ w_m[r]) + b``, ``(N, out)``."""
    product = 1
    for x, w in zip(features, factors, strict=True):
        x1 = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        product = product * torch.einsum("nd,rdo->nro", x1, w)
    return product.sum(dim=1) + bias


@checker
@one_thread
def low_rank_fusion(cls: Any) -> None:
    """Check ``cls(in_dims, out_dim, rank)``, low-rank fusion with registered factors.

    Built as ``cls([3, 5], 4, rank=2)``, it must keep the original's ``factors`` (one tensor of
    shape ``(rank, d_m + 1, out_dim)`` per modality) and ``bias``, compute
    ``sum_r prod_m ([x_m; 1] @ w_m[r]) + b``, and 30 steps of Adam on ``model.parameters()``
    must train every factor.
    """
    case = "for LowRankFusion([3, 5], 4, rank=2)"
    model = _build(cls, "LowRankFusion", case, DIMS, OUT, rank=RANK)
    g = torch.Generator().manual_seed(11)
    features = [torch.randn(6, d, generator=g) for d in DIMS]
    target = torch.randn(6, OUT, generator=g)
    where = f"{case}, on features of shapes (6, 3) and (6, 5)"
    out = as_tensor(call(model, "LowRankFusion", where, features), where, "your model returned")
    if out.shape != (6, OUT):
        raise CheckFailed(f"{where}: your model returned shape {tuple(out.shape)}, expected (6, 4)")
    factors, bias = getattr(model, "factors", None), getattr(model, "bias", None)
    shapes = [(RANK, d + 1, OUT) for d in DIMS]
    if (
        not isinstance(bias, Tensor)
        or not isinstance(factors, list | tuple | nn.ParameterList)
        or [tuple(w.shape) if isinstance(w, Tensor) else w for w in factors] != shapes
    ):
        raise CheckFailed(
            f"{case}: keep the attributes of the original, self.factors (tensors of shapes "
            f"{', '.join(map(str, shapes))}) and self.bias, and fix only what is broken"
        )
    if not torch.allclose(out, _low_rank(features, factors, bias), atol=1e-5):
        raise CheckFailed(
            f"{where}: your model no longer computes sum_r prod_m ([x_m; 1] @ w_m[r]) + b with "
            "its own factors and bias: fix only what is broken"
        )
    before = [w.detach().clone() for w in factors]
    parameters = list(model.parameters())
    losses = []
    if parameters:
        optimizer = torch.optim.Adam(parameters, lr=0.05)
        for _ in range(30):
            optimizer.zero_grad()
            loss = F.mse_loss(model(features), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    stuck = [m for m, (w, w0) in enumerate(zip(factors, before, strict=True)) if w0.equal(w)]
    if stuck:
        symptom = f"after 30 steps of Adam on model.parameters(), factor {stuck[0]} has not changed"
        registered = {id(p) for p in parameters}
        w = factors[stuck[0]]
        if id(w) in {id(b) for b in model.buffers()}:
            raise CheckFailed(
                f"{symptom}: the factors are buffers (register_buffer), saved and moved with the "
                "model but not parameters, so no optimizer trains them. Make them nn.Parameter "
                "in an nn.ParameterList"
            )
        if id(w) in registered and not w.requires_grad:
            raise CheckFailed(
                f"{symptom}: it does not require gradients (requires_grad=False), so the "
                "optimizer skips it"
            )
        if id(w) in registered:
            raise CheckFailed(
                f"{symptom}: it is a parameter, but its gradient is zero. A product of factors "
                "that start at zero stays at zero: initialize them randomly (torch.randn)"
            )
        raise CheckFailed(
            f"{symptom}: model.parameters() does not contain the low-rank factors. A Python "
            "list of parameters is never registered, so the optimizer, .to(device) and "
            "state_dict() do not see them: use nn.ParameterList"
        )
    print(
        f"✓ low_rank_fusion: computes low-rank fusion, and 30 steps of Adam on "
        f"model.parameters() train every factor (loss {losses[0]:.2f} → {losses[-1]:.2f})."
    )
