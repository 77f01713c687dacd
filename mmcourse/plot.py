"""Small plotting helpers for the chapters (matplotlib is imported only when they are called)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import Tensor

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure


def show_images(
    images: Tensor,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    suptitle: str | None = None,
    size: float = 1.4,
    symmetric: bool = False,
) -> Figure:
    """Show a batch of single-channel images ``(N, 1, H, W)`` or ``(N, H, W)`` in a grid.

    ``symmetric=True`` centers the color scale on zero (for signed feature maps and kernels).
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    images = images.detach().cpu()
    if images.dim() == 4:
        if images.shape[1] != 1:
            raise ValueError(
                f"expected single-channel images (N, 1, H, W), got {tuple(images.shape)}"
            )
        images = images[:, 0]
    if images.dim() != 3:
        raise ValueError(
            f"expected images of shape (N, H, W) or (N, 1, H, W), got {tuple(images.shape)}"
        )
    n = images.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= n:
            continue
        image = images[index]
        if symmetric:
            limit = float(image.abs().max()) or 1.0
            ax.imshow(image, cmap="RdBu_r" if cmap == "gray" else cmap, vmin=-limit, vmax=limit)
        else:
            ax.imshow(image, cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def as_grid(images: Tensor, nrow: int = 8, padding: int = 1) -> Tensor:
    """Tile ``(N, 1, H, W)`` images into one ``(H', W')`` image with torchvision's ``make_grid``."""
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().cpu(), nrow=nrow, padding=padding, pad_value=1.0)
    return grid[0] if grid.shape[0] in (1, 3) else grid


__all__ = ["show_images", "as_grid"]
