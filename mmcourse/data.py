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
