"""The course's data, made offline and deterministically.

``load_digits`` returns the 1,797 real 8×8 handwritten digits that scikit-learn ships inside its
package (no download), as tensors ready for a convolutional network.
"""

from __future__ import annotations

import torch
from torch import Tensor


def load_digits() -> tuple[Tensor, Tensor]:
    """The scikit-learn digits as ``(images, labels)``.

    ``images``: ``(1797, 1, 8, 8)`` float32 in ``[0, 1]`` (the original 0..16 gray levels / 16);
    ``labels``: ``(1797,)`` int64 in ``0..9``. Always the same tensors, on every machine.
    """
    from sklearn.datasets import load_digits as sklearn_digits  # imported where it is used

    digits = sklearn_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return images, labels


def digits_splits(
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    return_indices: bool = False,
) -> (
    tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor], tuple[Tensor, Tensor]]
    | tuple[Tensor, Tensor, Tensor]
):
    """A fixed, stratified train/validation/test split of ``load_digits()``.

    Returns ``(train, val, test)``, each a pair ``(images, labels)`` ready for
    ``mmcourse.train.fit``. Every digit class is split in the same proportions: of its ``n_c``
    images, ``round(n_c * test_fraction)`` go to the test set, ``round(n_c * val_fraction)``
    to the validation set and the rest to training (with the defaults about 1,079 / 359 / 359
    images). The split depends only on ``seed``: the same seed gives the same split on every
    machine. With ``return_indices=True`` the three sorted index tensors into ``load_digits()``
    are returned instead, so other modalities can be aligned with the same split.
    """
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValueError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction + test_fraction must be below 1 to leave training data, "
            f"got {val_fraction} + {test_fraction}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    images, labels = load_digits()
    generator = torch.Generator().manual_seed(seed)
    parts: tuple[list[Tensor], list[Tensor], list[Tensor]] = ([], [], [])
    for digit in range(10):
        index = (labels == digit).nonzero().flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        n_test = round(len(index) * test_fraction)
        n_val = round(len(index) * val_fraction)
        parts[2].append(index[:n_test])
        parts[1].append(index[n_test : n_test + n_val])
        parts[0].append(index[n_test + n_val :])
    train, val, test = (torch.cat(part).sort().values for part in parts)
    if return_indices:
        return train, val, test
    return (images[train], labels[train]), (images[val], labels[val]), (images[test], labels[test])
