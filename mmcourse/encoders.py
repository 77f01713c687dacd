"""Encoders: networks that turn one modality into a feature vector.

``ImageEncoder`` maps the course's 8×8 gray digits, ``(N, 1, 8, 8)``, to ``(N, out_dim)``
features. It is two convolutional blocks, each ``Conv2d(3×3, padding 1) -> BatchNorm2d -> ReLU
-> 2×2 pooling``, which turn the 8×8 image into a 2×2 grid of 64 feature maps, then a linear
projection with a ReLU to ``out_dim`` numbers. A classifier puts its own head on top,
``nn.Sequential(ImageEncoder(64), nn.Linear(64, 10))``; the fusion chapter combines the same
encoder with encoders of the other modalities.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["ImageEncoder"]


class ImageEncoder(nn.Module):
    """A small CNN from ``(N, 1, 8, 8)`` images to ``(N, out_dim)`` feature vectors.

    ``channels``: the output channels of the convolutional blocks (each block halves the image
    with its pooling, so at most three blocks fit an 8×8 image). ``pooling``: ``"max"``,
    ``"avg"`` or ``"none"`` (the blocks keep the full 8×8 resolution). ``global_pool``: average
    each final feature map over all its positions instead of flattening them, which makes the
    features insensitive to where in the image a pattern appeared. ``dropout``: applied to the
    flattened features before the projection (0 disables it).

    Attributes: ``out_dim``; ``blocks`` (an ``nn.Sequential`` of the conv blocks, so
    ``encoder.blocks[0]`` computes the first layer's feature maps); ``project``.
    """

    input_shape = (1, 8, 8)

    def __init__(
        self,
        out_dim: int = 64,
        channels: Sequence[int] = (32, 64),
        pooling: str = "max",
        global_pool: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1:
            raise ValueError(f"out_dim must be a positive int, got {out_dim!r}")
        channels = tuple(channels)
        if not channels or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in channels
        ):
            raise ValueError(f"channels must be positive ints, at least one, got {channels!r}")
        if pooling not in ("max", "avg", "none"):
            raise ValueError(f"pooling must be 'max', 'avg' or 'none', got {pooling!r}")
        if pooling != "none" and len(channels) > 3:
            raise ValueError(
                f"each pooled block halves the 8×8 image, so at most 3 blocks fit, "
                f"got {len(channels)} channels {channels}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.out_dim = out_dim
        blocks: list[nn.Module] = []
        side, previous = self.input_shape[1], self.input_shape[0]
        for width in channels:
            layers: list[nn.Module] = [
                nn.Conv2d(previous, width, kernel_size=3, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            if pooling != "none":
                layers.append(nn.MaxPool2d(2) if pooling == "max" else nn.AvgPool2d(2))
                side //= 2
            blocks.append(nn.Sequential(*layers))
            previous = width
        self.blocks = nn.Sequential(*blocks)
        flat = previous if global_pool else previous * side * side
        self.project = nn.Sequential(
            nn.AdaptiveAvgPool2d(1) if global_pool else nn.Identity(),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(flat, out_dim),
            nn.ReLU(),
        )

    def forward(self, images: Tensor) -> Tensor:
        """``(N, 1, 8, 8)`` images to ``(N, out_dim)`` features."""
        if not isinstance(images, Tensor):
            raise TypeError(f"expected a torch.Tensor of images, got {type(images).__name__}")
        if images.dim() != 4 or tuple(images.shape[1:]) != self.input_shape:
            raise ValueError(
                f"expected images of shape (N, 1, 8, 8), got shape {tuple(images.shape)}"
                + (" (add the batch dimension: images[None])" if images.dim() == 3 else "")
            )
        return self.project(self.blocks(images))
