"""A small, deterministic training loop shared by every chapter: ``fit``, ``evaluate``, ``predict``.

Data is either a ``DataLoader`` or a tuple of tensors ``(*inputs, targets)`` whose first
dimension is the sample. Each batch is such a tuple, and the model is called as
``model(*inputs)``; so a multimodal model that takes ``(image, tokens, lengths, audio)`` trains
with the same loop as a CNN that takes ``(image,)``.

For a tuple of tensors the loop does its own batching (a seeded permutation and slicing), which is
much faster on small data than a ``DataLoader`` and gives the same batches on every machine.
Accuracy is reported whenever the targets are class indices and the outputs are logits
``(N, num_classes)``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from mmcourse.utils import get_device

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure

Data = DataLoader | Sequence[Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]


@dataclass
class History:
    """Per-epoch metrics of a ``fit`` run; ``history.plot()`` draws the learning curves."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """How many epochs were run."""
        return len(self.train_loss)

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
                1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5, 3.4)
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


def _check_data(data: Any, name: str) -> None:
    if isinstance(data, DataLoader):
        return
    if (
        not isinstance(data, Sequence)
        or len(data) < 2
        or not all(isinstance(t, Tensor) for t in data)
    ):
        raise TypeError(
            f"{name} must be a DataLoader or a tuple of tensors (*inputs, targets), "
            f"got {type(data).__name__}"
        )
    sizes = [t.shape[0] if t.dim() else None for t in data]
    if len(set(sizes)) != 1 or sizes[0] is None:
        raise ValueError(
            f"every tensor in {name} needs the same first (sample) dimension, got sizes {sizes}"
        )


def _batches(
    data: Data, batch_size: int, shuffle: bool, generator: torch.Generator | None
) -> Iterator[tuple[Tensor, ...]]:
    if isinstance(data, DataLoader):
        for batch in data:
            yield tuple(batch) if isinstance(batch, list | tuple) else (batch,)
        return
    n = data[0].shape[0]
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size].to(data[0].device)
        yield tuple(t[index] for t in data)


def _to(batch: tuple[Any, ...], device: torch.device) -> tuple[Any, ...]:
    return tuple(t.to(device, non_blocking=True) if isinstance(t, Tensor) else t for t in batch)


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
) -> History:
    """Train ``model`` with Adam (or ``optimizer``) and return its ``History``.

    Each epoch shuffles ``train_data`` with a generator seeded from ``seed`` and the epoch
    number, so a run repeats exactly (seed the model's initialization before building it, with
    ``mmcourse.set_seed``). ``val_data`` is evaluated after every epoch. ``clip_grad_norm`` rescales
    the gradient whenever its norm exceeds that value. The model is moved to ``device``
    (default: ``get_device()``) and left there.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    _check_data(train_data, "train_data")
    if val_data is not None:
        _check_data(val_data, "val_data")
    device = torch.device(device) if device is not None else get_device()
    model.to(device)
    if not isinstance(train_data, DataLoader):
        train_data = _to(tuple(train_data), device)
    if val_data is not None and not isinstance(val_data, DataLoader):
        val_data = _to(tuple(val_data), device)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    history = History()
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
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix({k: f"{v:.3f}" for k, v in history.last().items()})
    return history


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
        raise ValueError("data is empty")
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

    ``inputs`` is a tuple of input tensors (no targets) or a ``DataLoader`` whose batches are
    ``(*inputs, targets)``.
    """
    device = torch.device(device) if device is not None else next(_devices(model), get_device())
    was_training = model.training
    model.eval()
    outputs = []
    if isinstance(inputs, DataLoader):
        batches = (batch[:-1] for batch in _batches(inputs, batch_size, False, None))
    else:
        if isinstance(inputs, Tensor):
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


__all__ = ["History", "count_parameters", "evaluate", "fit", "predict"]
