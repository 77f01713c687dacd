"""Small plotting helpers for the chapters (matplotlib is imported only when they are called)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import Tensor

from mmcourse.validate import check_int, check_number, check_tensor

if TYPE_CHECKING:  # matplotlib is imported only when a plot is drawn
    from matplotlib.figure import Figure


def show_images(
    images: Tensor,
    titles: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    suptitle: str | None = None,
    size: float | None = None,
    symmetric: bool = False,
) -> Figure:
    """Show a batch of single-channel images ``(N, 1, H, W)`` or ``(N, H, W)`` in a grid.

    ``size`` is the width of one image in inches; by default the grid is at most 7 inches wide,
    the width of the book's text column, and each image at most 1.4 inches. ``symmetric=True``
    centers the color scale on zero (for signed feature maps and kernels). Returns the figure.
    """
    check_tensor(images, "images", (3, 4))
    if images.dim() == 4:
        if images.shape[1] != 1:
            raise ValueError(
                f"images must be single-channel (N, 1, H, W), got shape {tuple(images.shape)}"
            )
        images = images[:, 0]
    n = images.shape[0]
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles must have one entry per image ({n}), got {len(titles)}")
    ncols = max(1, min(check_int(ncols, "ncols", 1), n))
    if size is None:
        size = min(1.4, 7.0 / ncols)
    size = check_number(size, "size", positive=True)

    import matplotlib.pyplot as plt

    images = images.detach().cpu().float().numpy()  # matplotlib reads NumPy arrays
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
            limit = float(abs(image).max()) or 1.0
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
    check_tensor(images, "images", 4)
    check_int(nrow, "nrow", 1)
    check_int(padding, "padding", 0)
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().cpu(), nrow=nrow, padding=padding, pad_value=1.0)
    return grid[0] if grid.shape[0] in (1, 3) else grid


__all__ = ["show_images", "as_grid"]
