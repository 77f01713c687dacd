"""mmcourse.utils: seeding repeats runs exactly; the device helper honors overrides."""

from __future__ import annotations

import os
import random
import sys

import numpy as np
import pytest
import torch

from mmcourse.utils import get_device, glue, plain_number, set_seed


def _draw() -> dict[str, object]:
    """One draw from each global generator that set_seed seeds."""
    return {
        "random": random.random(),
        "numpy": float(np.random.rand()),  # noqa: NPY002 (the global state set_seed seeds)
        "torch": torch.rand(3).tolist(),
    }


def test_set_seed_repeats_every_generator():
    set_seed(123)
    first = _draw()
    set_seed(123)
    assert _draw() == first
    set_seed(124)
    other = _draw()
    for name in first:  # each generator on its own, so that no seeding can hide behind another
        assert other[name] != first[name], f"set_seed(124) did not reseed {name}"


def test_set_seed_leaves_the_environment_alone(monkeypatch):
    # PYTHONHASHSEED only matters before the interpreter starts; set_seed must not pretend.
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    environment = dict(os.environ)
    set_seed(5)
    assert dict(os.environ) == environment


def test_set_seed_returns_a_seeded_generator():
    a = torch.rand(4, generator=set_seed(7))
    b = torch.rand(4, generator=set_seed(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad", [1.5, "0", None, True])
def test_set_seed_rejects_non_ints(bad):
    with pytest.raises(TypeError, match=f"seed.*int.*{bad!r}"):
        set_seed(bad)


def test_set_seed_accepts_numpy_ints():
    assert torch.equal(
        torch.rand(3, generator=set_seed(np.int64(3))), torch.rand(3, generator=set_seed(3))
    )


def test_get_device_prefers_cuda_when_present(monkeypatch):
    monkeypatch.delenv("MMCOURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")


def test_get_device_override(monkeypatch):
    monkeypatch.setenv("MMCOURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.delenv("MMCOURSE_DEVICE")
    assert get_device("cpu") == torch.device("cpu")


def test_glue_outside_a_notebook_is_harmless():
    assert glue("answer", 42) is None


def test_glue_without_myst_nb_prints_the_value(monkeypatch, capsys):
    # Colab has no myst-nb: the prose shows `name`, and the cell's output shows its value.
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # makes `import myst_nb` fail
    glue("accuracy", np.float64(0.75))
    glue("loss", torch.tensor([1.5]))
    assert capsys.readouterr().out == "accuracy = 0.75\nloss = 1.5\n"


@pytest.mark.skipif(
    os.environ.get("MMCOURSE_EXPECT_CUDA") != "1",
    reason="only on the GPU runner (MMCOURSE_EXPECT_CUDA=1)",
)
def test_gpu_runner_really_uses_cuda(monkeypatch):
    monkeypatch.delenv("MMCOURSE_DEVICE", raising=False)
    assert torch.cuda.is_available()
    assert get_device().type == "cuda"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.float64(0.25), 0.25),
        (np.int64(3), 3),
        (torch.tensor(0.5), 0.5),
        (torch.tensor([7]), 7),
        (0.125, 0.125),
        ("seven", "seven"),
    ],
)
def test_glued_numbers_are_plain_python_numbers(value, expected):
    plain = plain_number(value)
    assert plain == expected and type(plain) is type(expected)
