"""mmcourse.train: learns, repeats exactly under a seed, handles loaders and multi-input models."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mmcourse.train import History, count_parameters, evaluate, fit, fit_ensemble, predict
from mmcourse.utils import set_seed


def _blobs(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    x = centers[y] + torch.randn(n, 2, generator=g)
    return x, y


def _model(seed=0):
    set_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def test_fit_learns_and_reports_every_epoch():
    x, y = _blobs()
    history = fit(_model(), (x[:300], y[:300]), (x[300:], y[300:]), epochs=8, lr=1e-2, device="cpu")
    assert isinstance(history, History) and history.epochs == 8
    assert len(history.val_accuracy) == len(history.train_loss) == len(history.seconds) == 8
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_accuracy[-1] > 0.95


def test_same_seed_same_run_and_different_seed_different_run():
    x, y = _blobs()
    a = fit(_model(), (x, y), epochs=3, batch_size=32, seed=1, device="cpu")
    b = fit(_model(), (x, y), epochs=3, batch_size=32, seed=1, device="cpu")
    c = fit(_model(), (x, y), epochs=3, batch_size=32, seed=2, device="cpu")
    assert a.train_loss == b.train_loss
    assert a.train_loss != c.train_loss


def test_dataloader_and_multi_input_models():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(1, 3), nn.Linear(1, 3)

        def forward(self, first, second):
            return self.a(first) + self.b(second)

    x, y = _blobs()
    loader = DataLoader(
        TensorDataset(x[:, :1], x[:, 1:], y),
        batch_size=50,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    set_seed(0)
    model = TwoInputs()
    history = fit(model, loader, (x[:, :1], x[:, 1:], y), epochs=10, lr=5e-2, device="cpu")
    assert history.val_accuracy[-1] > 0.9
    assert evaluate(model, loader)["accuracy"] > 0.9
    assert predict(model, (x[:, :1], x[:, 1:])).shape == (400, 3)
    assert predict(model, loader).shape == (400, 3)


class _DictModel(nn.Module):
    """Called as model(inputs, mask): inputs a dict holding a tensor and a pair of tensors."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(1, 3), nn.Linear(1, 3)

    def forward(self, inputs, mask=None):
        first, (second, scale) = inputs["first"], inputs["second"]
        out = self.a(first) + self.b(second) * scale[:, None]
        return out if mask is None else out * mask


def test_batches_may_hold_dicts_and_tuples_of_tensors():
    x, y = _blobs()
    inputs = {"first": x[:, :1], "second": (x[:, 1:], torch.ones(len(x)))}
    mask = torch.ones(len(x), 1)
    set_seed(0)
    model = _DictModel()
    history = fit(model, (inputs, mask, y), (inputs, mask, y), epochs=10, lr=5e-2, device="cpu")
    assert history.val_accuracy[-1] > 0.9
    # Every batch is sliced the same way in every tensor: the direct computation agrees.
    with torch.no_grad():
        logits = model(inputs, mask)
    assert evaluate(model, (inputs, mask, y), batch_size=37)["loss"] == pytest.approx(
        F.cross_entropy(logits, y).item(), rel=1e-5
    )
    torch.testing.assert_close(predict(model, (inputs, mask), batch_size=37), logits)
    with torch.no_grad():
        unmasked = model(inputs)
    torch.testing.assert_close(predict(model, inputs, batch_size=37), unmasked)


def test_evaluate_matches_a_direct_computation():
    x, y = _blobs()
    model = _model()
    metrics = evaluate(model, (x, y), batch_size=37)
    with torch.no_grad():
        logits = model(x)
    assert metrics["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert metrics["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())


def test_regression_has_loss_but_no_accuracy():
    # Data from its own generator, so the run does not depend on what earlier tests drew.
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    target = x.sum(1, keepdim=True)
    set_seed(0)
    history = fit(
        nn.Linear(2, 1),
        (x, target),
        (x, target),
        epochs=100,  # converges from any start (30 epochs left some seeds above 1e-2)
        lr=0.1,
        loss_fn=F.mse_loss,
        device="cpu",
    )
    assert history.train_accuracy == [] and history.val_accuracy == []
    assert history.val_loss[-1] < 1e-2


def test_clip_grad_norm_limits_the_step():
    x, y = _blobs(n=8)
    model = nn.Linear(2, 3)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    fit(
        model,
        (x * 1e3, y),
        epochs=1,
        batch_size=8,
        optimizer=optimizer,
        clip_grad_norm=1e-3,
        device="cpu",
    )
    step = torch.cat(
        [(p.detach() - b).flatten() for p, b in zip(model.parameters(), before, strict=True)]
    )
    assert step.norm() <= 1e-3 * (1 + 1e-5)


def test_divergence_is_reported_clearly():
    x, y = _blobs(n=16)
    model = nn.Linear(2, 3)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(model, (x * float("inf"), y), epochs=1, device="cpu")


# ---------------------------------------------------------------------------------------------
# keep_best: the weights of the epoch with the lowest validation loss


def _noisy_blobs(n, seed):
    """Overlapping classes: a net trained on a handful of them soon fits their noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centers = torch.tensor([[0.0, 1.5], [1.5, 0.0], [-1.5, -1.5]])
    return centers[y] + 1.5 * torch.randn(n, 2, generator=g), y


def _batchnorm_model():
    set_seed(0)  # BatchNorm: the kept state must include its running statistics (buffers)
    return nn.Sequential(nn.Linear(2, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 3))


def _overfit(epochs, keep_best=False):
    """16 training samples, a large learning rate: validation loss falls, then rises."""
    model = _batchnorm_model()
    history = fit(
        model,
        _noisy_blobs(16, seed=1),
        _noisy_blobs(300, seed=2),
        epochs=epochs,
        lr=1e-2,
        batch_size=4,
        device="cpu",
        keep_best=keep_best,
    )
    return model, history


def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        assert torch.equal(sa[name], sb[name]), name


def test_keep_best_keeps_the_epoch_with_the_lowest_validation_loss():
    epochs = 12
    best, history = _overfit(epochs, keep_best=True)
    last, last_history = _overfit(epochs)
    # The setting only changes which weights the model ends with, not the training.
    assert history.val_loss == last_history.val_loss
    e = history.best_epoch
    assert e == min(range(epochs), key=lambda i: history.val_loss[i])
    assert 1 <= e <= epochs - 3  # validation loss fell, then rose
    assert history.val_loss[-1] > history.val_loss[e] + 0.1
    assert history.kept_best and not last_history.kept_best
    assert last_history.best_epoch == e  # recorded either way
    # Every epoch is seeded, so the kept model is exactly a fresh run of e + 1 epochs,
    # parameters and BatchNorm buffers alike; the default keeps the last epoch's.
    fresh, fresh_history = _overfit(e + 1)
    assert fresh_history.val_loss == history.val_loss[: e + 1]
    _assert_same_state(best, fresh)
    assert not torch.equal(best[0].weight, last[0].weight)
    val = _noisy_blobs(300, seed=2)
    assert evaluate(best, val)["loss"] == pytest.approx(history.val_loss[e], rel=1e-6)
    assert evaluate(last, val)["loss"] == pytest.approx(history.val_loss[-1], rel=1e-6)


def test_keep_best_leaves_the_best_weights_when_the_loss_diverges():
    calls = []

    def blows_up_in_epoch_10(output, target):  # 16 samples, batches of 4: 4 steps an epoch
        calls.append(torch.is_grad_enabled())  # training steps, not validation
        loss = F.cross_entropy(output, target)
        return loss * float("nan") if sum(calls) > 36 else loss

    model = _batchnorm_model()
    with pytest.raises(FloatingPointError, match="epoch 10"):
        fit(
            model,
            _noisy_blobs(16, seed=1),
            _noisy_blobs(300, seed=2),
            epochs=12,
            lr=1e-2,
            batch_size=4,
            device="cpu",
            keep_best=True,
            loss_fn=blows_up_in_epoch_10,
        )
    e = _overfit(9)[1].best_epoch
    assert e < 8  # so the last finished epoch's weights are not the best ones
    _assert_same_state(model, _overfit(e + 1)[0])


def test_keep_best_on_the_last_epoch_changes_nothing():
    x, y = _blobs()
    data, val = (x[:300], y[:300]), (x[300:], y[300:])
    best, last = _model(), _model()
    history = fit(best, data, val, epochs=4, lr=1e-2, device="cpu", keep_best=True)
    fit(last, data, val, epochs=4, lr=1e-2, device="cpu")
    assert history.best_epoch == 3  # separable blobs: every epoch is better
    _assert_same_state(best, last)


@pytest.mark.parametrize(
    ("val_loss", "best"),
    [
        ([], None),
        ([0.5], 0),
        ([0.9, 0.4, 0.7, 0.4], 1),  # a tie: the earliest
        ([0.9, 0.3, 0.3, 0.3], 1),
        ([float("nan"), 0.8, 0.6, float("nan")], 2),  # NaN is never the best
        ([float("nan"), float("nan")], 0),
        ([2.0, float("inf"), 1.0], 2),
    ],
)
def test_best_epoch_is_the_earliest_lowest_validation_loss(val_loss, best):
    assert History(val_loss=val_loss).best_epoch == best


def test_keep_best_needs_validation_data():
    x, y = _blobs(n=8)
    with pytest.raises(ValueError, match="keep_best=True needs val_data.*got val_data=None"):
        fit(nn.Linear(2, 3), (x, y), epochs=1, keep_best=True, device="cpu")
    with pytest.raises(TypeError, match="keep_best must be a bool.*int 1"):
        fit(nn.Linear(2, 3), (x, y), (x, y), epochs=1, keep_best=1, device="cpu")


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ([1, 2, 3], TypeError, r"train_data.*DataLoader or a tuple.*got list \[1, 2, 3\]"),
        ((torch.zeros(3, 2),), TypeError, r"train_data.*DataLoader or a tuple.*got tuple"),
        ((torch.zeros(3, 2), torch.zeros(4)), ValueError, r"train_data.*sizes \[3, 4\]"),
        (
            ({"a": torch.zeros(3, 2)}, torch.zeros(4)),
            ValueError,
            r"train_data.*sizes \[3, 4\]",
        ),
    ],
)
def test_bad_data_is_rejected(data, error, message):
    with pytest.raises(error, match=message):
        fit(nn.Linear(2, 3), data, epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(epochs=0), ValueError, "epochs.*>= 1.*got 0"),
        (dict(epochs=2.0), TypeError, "epochs.*int.*float 2.0"),
        (dict(batch_size=0), ValueError, "batch_size.*>= 1.*got 0"),
    ],
)
def test_bad_settings_are_rejected(kwargs, error, message):
    x, y = _blobs(n=8)
    with pytest.raises(error, match=message):
        fit(nn.Linear(2, 3), (x, y), **kwargs)


def test_history_plot_and_parameter_count():
    import matplotlib

    matplotlib.use("Agg")
    x, y = _blobs(n=64)
    history = fit(_model(), (x, y), (x, y), epochs=2, device="cpu")
    fig = history.plot(title="blobs")
    assert len(fig.axes) == 2
    assert count_parameters(_model()) == 2 * 16 + 16 + 16 * 3 + 3


# ---------------------------------------------------------------------------------------------
# fit_ensemble: K models trained as one batched ensemble


def _ensemble(k=3):
    return [_model(seed) for seed in range(k)]


def test_fit_ensemble_equals_separate_fits():
    data = [_blobs(n=200, seed=s) for s in range(3)]  # different data for every model
    separate = _ensemble()
    separate_histories = [
        fit(m, d, epochs=4, lr=1e-2, batch_size=32, seed=5, device="cpu")
        for m, d in zip(separate, data, strict=True)
    ]
    batched = _ensemble()
    histories = fit_ensemble(batched, data, epochs=4, lr=1e-2, batch_size=32, seed=5, device="cpu")
    assert len(histories) == 3 and all(h.epochs == 4 for h in histories)
    for a, b in zip(separate, batched, strict=True):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)
    for h, ref in zip(histories, separate_histories, strict=True):
        assert h.train_loss == pytest.approx(ref.train_loss, rel=1e-4)
        assert h.train_accuracy == pytest.approx(ref.train_accuracy)
    assert histories[0].train_loss[-1] < 0.5 * histories[0].train_loss[0]
    # The models really differ: each learned from its own start and data.
    assert not torch.equal(batched[0][0].weight, batched[1][0].weight)


def test_fit_ensemble_batches_dicts_and_tuples_like_fit():
    x, y = _blobs()
    inputs = {"first": x[:, :1], "second": (x[:, 1:], torch.ones(len(x)))}
    data = (inputs, torch.ones(len(x), 1), y)
    set_seed(0)
    separate = _DictModel()
    set_seed(0)
    batched = _DictModel()
    fit(separate, data, epochs=3, lr=5e-2, device="cpu")
    fit_ensemble([batched, copy.deepcopy(batched)], [data, data], epochs=3, lr=5e-2, device="cpu")
    for p, q in zip(separate.parameters(), batched.parameters(), strict=True):
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("models", "data", "kwargs", "error", "message"),
    [
        (nn.Linear(2, 3), [_blobs(8)], {}, TypeError, "models.*list of nn.Modules.*Linear"),
        ([nn.Linear(2, 3), "x"], [_blobs(8)] * 2, {}, TypeError, r"models\[1\].*nn.Module.*str"),
        (
            [nn.Linear(2, 3), nn.Linear(2, 4)],
            [_blobs(8)] * 2,
            {},
            ValueError,
            r"one architecture.*models\[1\].*\(4, 2\).*\(3, 2\)",
        ),
        ([nn.Linear(2, 3)] * 2, [_blobs(8)], {}, ValueError, r"one data tuple per model \(2\).*1"),
        ([nn.Linear(2, 3)], _blobs(8)[0], {}, TypeError, "train_data.*list of K data tuples"),
        (
            [nn.Linear(2, 3)],
            [DataLoader(TensorDataset(*_blobs(8)))],
            {},
            TypeError,
            r"train_data\[0\].*tuple of tensors.*DataLoader",
        ),
        (
            [nn.Linear(2, 3)] * 2,
            [_blobs(8), _blobs(9)],
            {},
            ValueError,
            r"same shapes.*train_data\[1\].*\(9, 2\).*\(8, 2\)",
        ),
        ([nn.Linear(2, 3)], [_blobs(8)], dict(epochs=0), ValueError, "epochs.*>= 1.*got 0"),
    ],
)
def test_fit_ensemble_rejects_bad_input(models, data, kwargs, error, message):
    with pytest.raises(error, match=message):
        fit_ensemble(models, data, device="cpu", **kwargs)
