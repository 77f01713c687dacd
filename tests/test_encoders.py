"""mmcourse.encoders.ImageEncoder: shapes, gradients, options and error messages."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmcourse.encoders import ImageEncoder
from mmcourse.train import count_parameters


@pytest.mark.parametrize("out_dim", [1, 10, 64, 128])
@pytest.mark.parametrize("n", [1, 5])
def test_output_shape(out_dim, n):
    encoder = ImageEncoder(out_dim)
    assert encoder.out_dim == out_dim
    assert encoder(torch.rand(n, 1, 8, 8)).shape == (n, out_dim)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        dict(pooling="avg"),
        dict(pooling="none"),
        dict(global_pool=True),
        dict(pooling="none", global_pool=True),
        dict(channels=(8,)),
        dict(channels=(4, 8, 16)),
        dict(dropout=0.3),
    ],
)
def test_gradients_reach_every_parameter(kwargs):
    torch.manual_seed(0)
    model = nn.Sequential(ImageEncoder(16, **kwargs), nn.Linear(16, 10))
    images = torch.rand(6, 1, 8, 8)
    loss = nn.functional.cross_entropy(model(images), torch.arange(6))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} gets no gradient"
        assert parameter.grad.abs().sum() > 0, f"{name} gets a zero gradient"


def test_parameter_counts_follow_the_architecture():
    # conv 1->32 (+ BN), conv 32->64 (+ BN), then 64 maps of 2x2 -> 64 features.
    conv = (32 * 9 + 32) + 2 * 32 + (64 * 32 * 9 + 64) + 2 * 64
    assert count_parameters(ImageEncoder(64)) == conv + 64 * 4 * 64 + 64
    assert count_parameters(ImageEncoder(64, global_pool=True)) == conv + 64 * 64 + 64
    assert count_parameters(ImageEncoder(64, pooling="none")) == conv + 64 * 64 * 64 + 64


def test_features_are_non_negative_and_first_block_keeps_a_map_per_channel():
    encoder = ImageEncoder(32).eval()
    images = torch.rand(3, 1, 8, 8)
    assert (encoder(images) >= 0).all()  # the projection ends in a ReLU
    assert encoder.blocks[0](images).shape == (3, 32, 4, 4)
    assert ImageEncoder(pooling="none").blocks[0](images).shape == (3, 32, 8, 8)


def test_global_pooling_ignores_where_a_pattern_is():
    torch.manual_seed(0)
    encoder = ImageEncoder(8, channels=(4,), pooling="none", global_pool=True).eval()
    blob = torch.zeros(1, 1, 8, 8)
    blob[..., 2:4, 2:4] = 1.0
    moved = torch.roll(blob, shifts=(2, 3), dims=(2, 3))  # still away from the borders
    torch.testing.assert_close(encoder(blob), encoder(moved))


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (
            torch.zeros(1, 8, 8),
            ValueError,
            r"\(N, 1, 8, 8\), got shape \(1, 8, 8\) \(add the batch",
        ),
        (torch.zeros(2, 3, 8, 8), ValueError, r"got shape \(2, 3, 8, 8\)"),
        (torch.zeros(2, 1, 28, 28), ValueError, r"got shape \(2, 1, 28, 28\)"),
        (torch.zeros(2, 64), ValueError, r"got shape \(2, 64\)"),
        ([[0.0]], TypeError, "got list"),
    ],
)
def test_bad_input_gets_a_clear_error(images, error, message):
    with pytest.raises(error, match=message):
        ImageEncoder()(images)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(out_dim=0), "out_dim must be a positive int, got 0"),
        (dict(out_dim=2.5), "out_dim must be a positive int"),
        (dict(channels=()), "channels must be positive ints"),
        (dict(channels=(8, 0)), "channels must be positive ints"),
        (dict(channels=(1, 2, 3, 4)), "at most 3 blocks fit"),
        (dict(pooling="min"), "pooling must be 'max', 'avg' or 'none'"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_configuration_gets_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageEncoder(**kwargs)
