"""A small, deterministic training loop shared by every chapter: ``fit``, ``evaluate``, ``predict``.

Data is either a ``DataLoader`` or a tuple ``(*inputs, targets)`` whose tensors all have the
sample as their first dimension. Each batch is such a tuple, and the model is called as
``model(*inputs)``:

* a CNN: ``(images, labels)``, called as ``model(images)``;
* a text classifier: ``(tokens, lengths, labels)``, called as ``model(tokens, lengths)``;
* a ``MultimodalClassifier``: ``(inputs, mask, labels)`` with ``inputs`` a dict from modality
  name to tensor (or tuple of tensors), called as ``model(inputs, mask)``
  (``MultimodalDigits.tensors()`` returns such a tuple).

An input may hold tensors inside dicts and tuples; the loop batches and moves every one of them.

For a tuple of tensors the loop does its own batching (a seeded permutation and slicing), which is
much faster on small data than a ``DataLoader`` and gives the same batches on every machine.
Accuracy is reported whenever the targets are class indices and the outputs are logits
``(N, num_classes)``. ``fit`` leaves the model with the weights of its last epoch, or, with
``keep_best=True``, with those of the epoch with the lowest validation loss.

``fit_ensemble`` trains K models of one architecture together, as one batched ensemble
(``torch.func.stack_module_state`` and ``vmap``), each on its own data (chapter 8).
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from mmcourse.utils import get_device
from mmcourse.validate import check_bool, check_int, describe

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure

Data = DataLoader | Sequence[Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]


def _best_index(losses: Sequence[float]) -> int | None:
    """The index of the lowest loss, the earliest on ties; a NaN counts as +inf (None if empty)."""
    if not losses:
        return None
    keys = [math.inf if math.isnan(loss) else loss for loss in losses]
    return min(range(len(keys)), key=keys.__getitem__)  # min keeps the first of equal keys


@dataclass
class History:
    """Per-epoch metrics of a ``fit`` run; ``history.plot()`` draws the learning curves.

    Every list has one entry per epoch, the first epoch at index 0. ``best_epoch`` is the index
    of the epoch with the lowest validation loss (the earliest on ties): the epoch whose weights
    ``fit(..., keep_best=True)`` keeps. ``kept_best`` says whether the model was left with them
    (``True``) or with those of the last epoch (``False``, the default).
    """

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    kept_best: bool = False

    @property
    def epochs(self) -> int:
        """How many epochs were run."""
        return len(self.train_loss)

    @property
    def best_epoch(self) -> int | None:
        """Index of the lowest validation loss, earliest on ties (NaN counts as +inf).

        ``None`` when no validation loss was measured. It is an index into the per-epoch lists:
        ``history.val_accuracy[history.best_epoch]``; counting from one, it is epoch
        ``best_epoch + 1``.
        """
        return _best_index(self.val_loss)

    def last(self) -> dict[str, float]:
        """The metrics of the final epoch, by name (only those that were measured)."""
        names = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
        return {name: getattr(self, name)[-1] for name in names if getattr(self, name)}

    def plot(self, title: str | None = None, axes: Any = None) -> Figure:
        """Loss and (when measured) accuracy per epoch, for training and validation."""
        import matplotlib.pyplot as plt

        has_accuracy = bool(self.train_accuracy)
        if axes is None:
            fig, axes = plt.subplots(
                1, 2 if has_accuracy else 1, figsize=(7 if has_accuracy else 3.5, 3)
            )
        axes = list(axes) if isinstance(axes, Sequence) or hasattr(axes, "__len__") else [axes]
        epochs = range(1, self.epochs + 1)
        axes[0].plot(epochs, self.train_loss, label="training")
        if self.val_loss:
            axes[0].plot(epochs, self.val_loss, label="validation")
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("loss")
        axes[0].set_title("loss")
        axes[0].legend()
        if has_accuracy and len(axes) > 1:
            axes[1].plot(epochs, self.train_accuracy, label="training")
            if self.val_accuracy:
                axes[1].plot(epochs, self.val_accuracy, label="validation")
            axes[1].set_xlabel("epoch")
            axes[1].set_ylabel("accuracy")
            axes[1].set_title("accuracy")
            axes[1].legend()
        fig = axes[0].figure
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


def _show_progress(progress: bool | None) -> bool:
    """Progress bars by default only where someone watches: a terminal or Colab.

    Book builds and tests stay quiet. ``MMCOURSE_PROGRESS=1`` or ``0`` forces the choice.
    """
    if progress is not None:
        return progress
    forced = os.environ.get("MMCOURSE_PROGRESS")
    if forced is not None:
        return forced not in ("0", "false", "False", "")
    return "google.colab" in sys.modules or sys.stderr.isatty()


def _map(fn: Callable[[Tensor], Tensor], x: Any) -> Any:
    """``fn`` applied to every tensor in ``x`` (dicts, tuples and lists of them included)."""
    if isinstance(x, Tensor):
        return fn(x)
    if isinstance(x, Mapping):
        return {key: _map(fn, value) for key, value in x.items()}
    if isinstance(x, tuple | list):
        return tuple(_map(fn, value) for value in x)
    return x  # anything else (a DataLoader batch may hold strings) passes through


def _tensors(x: Any) -> list[Tensor]:
    """Every tensor in ``x`` (a tensor, or dicts, tuples and lists of them), in order."""
    if isinstance(x, Tensor):
        return [x]
    values = list(x.values()) if isinstance(x, Mapping) else x
    if not isinstance(values, tuple | list):
        raise TypeError(f"a batch may hold tensors, dicts, tuples and lists, got {describe(x)}")
    return [t for value in values for t in _tensors(value)]


def _check_data(data: Any, name: str) -> None:
    if isinstance(data, DataLoader):
        return
    wanted = "a DataLoader or a tuple (*inputs, targets) of tensors"
    if isinstance(data, Tensor | Mapping) or not isinstance(data, Sequence) or len(data) < 2:
        raise TypeError(f"{name} must be {wanted}, got {describe(data)}")
    try:
        tensors = _tensors(data)
    except TypeError:
        raise TypeError(f"{name} must be {wanted}, got {describe(data)}") from None
    sizes = [t.shape[0] if t.dim() else None for t in tensors]
    if len(set(sizes)) != 1 or sizes[0] is None:
        raise ValueError(
            f"every tensor in {name} must have the same first (sample) dimension, got sizes {sizes}"
        )


def _batches(
    data: Data, batch_size: int, shuffle: bool, generator: torch.Generator | None
) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, DataLoader):
        for batch in data:
            yield tuple(batch) if isinstance(batch, list | tuple) else (batch,)
        return
    first = _tensors(data)[0]
    n = first.shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size].to(first.device)
        yield _map(lambda t: t[index], tuple(data))  # noqa: B023 (used at once)


def _to(batch: tuple[Any, ...], device: torch.device) -> tuple[Any, ...]:
    return _map(lambda t: t.to(device, non_blocking=True), tuple(batch))


def _n_correct(output: Tensor, target: Tensor) -> int | None:
    if output.dim() == 2 and target.dim() == 1 and not target.is_floating_point():
        return int((output.argmax(dim=1) == target).sum())
    return None


def fit(
    model: nn.Module,
    train_data: Data,
    val_data: Data | None = None,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: LossFn = F.cross_entropy,
    weight_decay: float = 0.0,
    clip_grad_norm: float | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool | None = None,
    keep_best: bool = False,
) -> History:
    """Train ``model`` with Adam (or ``optimizer``) and return its ``History``.

    Each epoch shuffles ``train_data`` with a generator seeded from ``seed`` and the epoch
    number, so a run repeats exactly (seed the model's initialization before building it, with
    ``mmcourse.set_seed``). ``val_data`` is evaluated after every epoch. ``clip_grad_norm`` rescales
    the gradient whenever its norm exceeds that value. The model is moved to ``device``
    (default: ``get_device()``) and left there.

    Which weights the model ends with:

    * ``keep_best=False`` (the default): those of the **last** epoch. This is what the chapters
      use, unless a chapter says otherwise.
    * ``keep_best=True`` (needs ``val_data``): those of the epoch with the **lowest validation
      loss**, the earliest on ties, ``e* = argmin_e val_loss[e]`` (a NaN loss counts as +inf).
      After every epoch that lowers the validation loss, a copy of ``model.state_dict()`` (its
      parameters and buffers, e.g. BatchNorm's running statistics) is kept; after the last epoch
      it is loaded back, also when the loss diverges and ``fit`` raises. The model then equals
      that of a fresh run with ``epochs=e* + 1`` started from the same seeds (bit for bit on a
      CPU; GPU kernels may differ in the last bits). A given ``optimizer`` keeps the state of
      the last epoch.

    Either way ``history.best_epoch`` is ``e*`` (``None`` without ``val_data``) and
    ``history.kept_best`` says which weights the model holds.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {describe(model)}")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    keep_best = check_bool(keep_best, "keep_best")
    _check_data(train_data, "train_data")
    if val_data is not None:
        _check_data(val_data, "val_data")
    elif keep_best:
        raise ValueError(
            "keep_best=True needs val_data (the best epoch is the one with the lowest "
            "validation loss), got val_data=None"
        )
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    if not isinstance(train_data, DataLoader):
        train_data = _to(tuple(train_data), device)
    if val_data is not None and not isinstance(val_data, DataLoader):
        val_data = _to(tuple(val_data), device)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    history = History(kept_best=keep_best)
    best_state: dict[str, Tensor] | None = None
    show = _show_progress(progress)
    if show:  # a notebook widget in Colab, a text bar in a terminal
        from tqdm.auto import tqdm
    else:  # tqdm.auto would warn about missing widgets even for a hidden bar
        from tqdm import tqdm
    bar = tqdm(range(epochs), disable=not show, desc="epochs", leave=False)
    for epoch in bar:
        start = time.perf_counter()
        model.train()
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        total_loss, total_correct, total, countable = 0.0, 0, 0, True
        for batch in _batches(train_data, batch_size, shuffle=True, generator=generator):
            *inputs, target = _to(batch, device)
            output = model(*inputs)
            loss = loss_fn(output, target)
            if not torch.isfinite(loss):
                if best_state is not None:  # keep_best: leave the best weights, not these
                    model.load_state_dict(best_state)
                raise FloatingPointError(
                    f"the loss became {loss.item()} in epoch {epoch + 1}; lower the learning "
                    "rate or clip the gradients (clip_grad_norm=...)"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            n = target.shape[0]
            total_loss += loss.item() * n
            total += n
            correct = _n_correct(output.detach(), target)
            if correct is None:
                countable = False
            else:
                total_correct += correct
        history.train_loss.append(total_loss / total)
        if countable:
            history.train_accuracy.append(total_correct / total)
        if val_data is not None:
            metrics = evaluate(
                model, val_data, loss_fn=loss_fn, batch_size=max(256, batch_size), device=device
            )
            history.val_loss.append(metrics["loss"])
            if "accuracy" in metrics:
                history.val_accuracy.append(metrics["accuracy"])
            if keep_best and history.best_epoch == epoch:  # a new lowest validation loss
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix({k: f"{v:.3f}" for k, v in history.last().items()})
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def _stack(items: Sequence[Any]) -> Any:
    """K nested structures of one form, stacked leaf by leaf: ``(...)`` -> ``(K, ...)``."""
    first = items[0]
    if isinstance(first, Tensor):
        return torch.stack(list(items))
    if isinstance(first, Mapping):
        return {key: _stack([item[key] for item in items]) for key in first}
    return tuple(_stack(list(parts)) for parts in zip(*items, strict=True))


def fit_ensemble(
    models: Sequence[nn.Module],
    train_data: Sequence[Sequence[Any]],
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    loss_fn: LossFn = F.cross_entropy,
    weight_decay: float = 0.0,
    device: torch.device | str | None = None,
    seed: int = 0,
) -> list[History]:
    """Train K models of the same architecture at once, as one batched ensemble.

    ``models[k]`` is trained on ``train_data[k]``, a tuple ``(*inputs, targets)`` as for
    ``fit``; every ``train_data[k]`` must have the same structure and shapes (the same ``N``
    samples of different features, say). ``torch.func.stack_module_state`` stacks each
    parameter of the K models into one ``(K, ...)`` tensor, the data is stacked to
    ``(K, N, ...)``, and ``torch.func.vmap`` runs the architecture's forward over the leading
    axis, so one step computes the K losses ``L_k`` in a single pass. The optimizer (Adam)
    minimizes ``sum_k L_k``: model ``k``'s parameters only reach ``L_k``, and Adam updates
    every number on its own, so this is K independent trainings. Every model sees the batches
    that ``fit(models[k], train_data[k], seed=seed, ...)`` would draw, and ends computing the
    same function up to rounding (a parameter whose exact gradient is zero, such as attention's
    key bias, may drift differently: Adam scales rounding noise up to full steps). The trained
    parameters are copied back into ``models``.

    Suits small models whose steps are dominated by per-operation overhead. Models that
    update buffers in training (``BatchNorm``) or draw random numbers are not supported.
    Returns one ``History`` per model (training loss and accuracy per epoch).
    """
    from torch.func import functional_call, stack_module_state, vmap

    if isinstance(models, nn.Module) or not isinstance(models, Sequence) or not models:
        raise TypeError(f"models must be a non-empty list of nn.Modules, got {describe(models)}")
    for k, model in enumerate(models):
        if not isinstance(model, nn.Module):
            raise TypeError(f"models[{k}] must be an nn.Module, got {describe(model)}")
    shapes = [[(n, tuple(p.shape)) for n, p in model.named_parameters()] for model in models]
    for k, found in enumerate(shapes):
        if found != shapes[0]:
            raise ValueError(
                f"models must share one architecture: models[{k}] has parameters {found}, "
                f"models[0] has {shapes[0]}"
            )
    if isinstance(train_data, Tensor) or not isinstance(train_data, Sequence):
        raise TypeError(f"train_data must be a list of K data tuples, got {describe(train_data)}")
    if len(train_data) != len(models):
        raise ValueError(
            f"train_data must hold one data tuple per model ({len(models)}), got {len(train_data)}"
        )
    for k, data in enumerate(train_data):
        if isinstance(data, DataLoader):
            raise TypeError(f"train_data[{k}] must be a tuple of tensors, got a DataLoader")
        _check_data(data, f"train_data[{k}]")
    sizes = [[tuple(t.shape) for t in _tensors(data)] for data in train_data]
    for k, found in enumerate(sizes):
        if found != sizes[0]:
            raise ValueError(
                f"every train_data[k] must have the same shapes: train_data[{k}] has {found}, "
                f"train_data[0] has {sizes[0]}"
            )
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    device = torch.device(device) if device is not None else get_device()

    for model in models:
        model.to(device).train()
    params, buffers = stack_module_state(list(models))  # name -> (K, ...)
    template = copy.deepcopy(models[0]).to("meta")  # the architecture, without numbers
    data = _stack([_to(tuple(d), device) for d in train_data])  # leaves (K, N, ...)

    def one_model(p: dict, b: dict, batch: tuple) -> tuple[Tensor, Tensor]:
        *inputs, target = batch
        output = functional_call(template, (p, b), tuple(inputs))
        return loss_fn(output, target), output

    step = vmap(one_model, randomness="error")  # (K,) losses, (K, B, ...) outputs
    optimizer = torch.optim.Adam(params.values(), lr=lr, weight_decay=weight_decay)
    n = _tensors(train_data[0])[0].shape[0]
    histories = [History() for _ in models]
    for epoch in range(epochs):
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)  # as in fit
        order = torch.randperm(n, generator=generator)
        total_loss = torch.zeros(len(models))
        total_correct, countable = torch.zeros(len(models)), True
        for first in range(0, n, batch_size):
            index = order[first : first + batch_size].to(device)
            batch = _map(lambda t: t[:, index], data)  # noqa: B023 (used at once)
            losses, outputs = step(params, buffers, batch)
            if not torch.isfinite(losses).all():
                raise FloatingPointError(
                    f"the loss became {losses.tolist()} in epoch {epoch + 1}; lower the "
                    "learning rate"
                )
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            target = batch[-1]  # (K, B)
            total_loss += losses.detach().cpu() * len(index)
            if outputs.dim() == 3 and target.dim() == 2 and not target.is_floating_point():
                total_correct += (outputs.detach().argmax(-1) == target).sum(1).cpu()
            else:
                countable = False
        seconds = time.perf_counter() - start
        for k, history in enumerate(histories):
            history.train_loss.append(float(total_loss[k]) / n)
            if countable:
                history.train_accuracy.append(float(total_correct[k]) / n)
            history.seconds.append(seconds)
    with torch.no_grad():
        for k, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][k])
            for name, b in model.named_buffers():
                b.copy_(buffers[name][k])
    return histories


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Data,
    *,
    loss_fn: LossFn = F.cross_entropy,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Mean loss (and accuracy, for class targets) of ``model`` on ``data``, in eval mode."""
    _check_data(data, "data")
    device = torch.device(device) if device is not None else next(_devices(model), get_device())
    was_training = model.training
    model.eval()
    total_loss, total_correct, total, countable = 0.0, 0, 0, True
    for batch in _batches(data, batch_size, shuffle=False, generator=None):
        *inputs, target = _to(batch, device)
        output = model(*inputs)
        n = target.shape[0]
        total_loss += loss_fn(output, target).item() * n
        total += n
        correct = _n_correct(output, target)
        if correct is None:
            countable = False
        else:
            total_correct += correct
    model.train(was_training)
    if total == 0:
        raise ValueError("data must hold at least one sample, got none")
    metrics = {"loss": total_loss / total}
    if countable:
        metrics["accuracy"] = total_correct / total
    return metrics


@torch.no_grad()
def predict(
    model: nn.Module,
    inputs: Data,
    *,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> Tensor:
    """The model's outputs for every sample, concatenated, on the CPU (eval mode).

    ``inputs`` is a tuple of the model's inputs (no targets), e.g. ``(images,)`` or
    ``(inputs, mask)`` for a ``MultimodalClassifier``, a single tensor, or a ``DataLoader`` whose
    batches are ``(*inputs, targets)``.
    """
    device = torch.device(device) if device is not None else next(_devices(model), get_device())
    was_training = model.training
    model.eval()
    outputs = []
    if isinstance(inputs, DataLoader):
        batches = (batch[:-1] for batch in _batches(inputs, batch_size, False, None))
    else:
        if isinstance(inputs, Tensor | Mapping):
            inputs = (inputs,)
        batches = _batches(tuple(inputs), batch_size, shuffle=False, generator=None)
    for batch in batches:
        outputs.append(model(*_to(tuple(batch), device)).cpu())
    model.train(was_training)
    return torch.cat(outputs)


def _devices(model: nn.Module) -> Iterator[torch.device]:
    return (p.device for p in model.parameters())


def count_parameters(model: nn.Module) -> int:
    """The number of trainable numbers in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["History", "count_parameters", "evaluate", "fit", "fit_ensemble", "predict"]
