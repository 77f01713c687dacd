"""Figures the library draws fit the book's text column (7 inches) unless asked otherwise."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from mmcourse.plot import show_images  # noqa: E402
from mmcourse.train import History  # noqa: E402


@pytest.mark.parametrize(("n", "ncols"), [(8, 8), (40, 20), (3, 8), (1, 1)])
def test_an_image_grid_fits_the_column(n, ncols):
    fig = show_images(torch.rand(n, 1, 8, 8), ncols=ncols)
    width = fig.get_size_inches()[0]
    columns = min(n, ncols)
    assert width <= 7.0 + 1e-9
    assert width == pytest.approx(min(1.4, 7.0 / columns) * columns)
    plt.close(fig)


def test_an_explicit_size_is_kept():
    fig = show_images(torch.rand(4, 8, 8), ncols=4, size=2.0)
    assert fig.get_size_inches()[0] == pytest.approx(8.0)
    plt.close(fig)


def test_learning_curves_fit_the_column():
    history = History(train_loss=[1.0, 0.5], train_accuracy=[0.5, 0.8])
    fig = history.plot()
    assert fig.get_size_inches()[0] <= 7.0
    plt.close(fig)


def test_signed_maps_get_a_color_scale_centred_on_zero():
    fig = show_images(torch.tensor([[[-2.0, 1.0], [0.5, 0.0]]]), symmetric=True)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (-2.0, 2.0)
    plt.close(fig)
