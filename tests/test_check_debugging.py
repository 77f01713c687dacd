"""The find-the-bug checkers of chapter 10: each accepts the fixes, and rejects the broken original
and the other wrong fixes with the hint that names the symptom left. (The LSTM checker is also a
declaration, tested from its table in tests/test_checkers.py.)"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmcourse import check
from mmcourse.check import CheckFailed
from mmcourse.check.debugging import STEP_MISTAKES, _lstm, _step

# --- train_step: softmax before the loss (E6) and no zero_grad in the original ----------------


def step_between(model, optimizer, images, labels):  # zero_grad between backward and step
    loss = F.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def step_log_softmax(model, optimizer, images, labels):  # log-probabilities are fine
    optimizer.zero_grad()
    loss = F.nll_loss(torch.log_softmax(model(images), dim=1), labels)
    loss.backward()
    optimizer.step()
    return loss  # a one-element tensor is a number too


def step_no_return(model, optimizer, images, labels):
    _step(model, optimizer, images, labels)


# --- inputs_and_target: the word among the inputs (E7) ------------------------------------------


def leak(audio, words, embed):  # the original
    return torch.cat([audio, embed(words)], dim=1), words


# --- image_text_model: two classifiers' logits stacked (E13) -------------------------------------


def mlp(*sizes):
    """Linear layers of these sizes with a ReLU between each two."""
    layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:], strict=False)]
    return nn.Sequential(*[m for linear in layers for m in (linear, nn.ReLU())][:-1])


class TwoEncoders(nn.Module):
    """An image encoder and a text encoder, their outputs combined, then a head."""

    def __init__(self, image_out, text_out, combine, head=None):
        super().__init__()
        self.vision = nn.Sequential(nn.Flatten(), mlp(64, 32, image_out))
        self.text = mlp(2, 8, text_out)
        self.combine, self.head = combine, head or nn.Identity()

    def forward(self, images, text):
        return self.head(self.combine(self.vision(images), self.text(text)))


def cat(a, b):
    return torch.cat([a, b], dim=1)


MODELS = {
    "right": lambda: TwoEncoders(32, 8, cat, mlp(40, 32, 10)),
    "stacked": lambda: TwoEncoders(10, 2, cat),  # the original
    "late": lambda: TwoEncoders(10, 10, torch.add),
    "linear head": lambda: TwoEncoders(32, 8, cat, nn.Linear(40, 10)),
    "image only": lambda: TwoEncoders(10, 10, lambda image, text: image),
    "text only": lambda: TwoEncoders(10, 10, lambda image, text: text),
    "five classes": lambda: TwoEncoders(5, 5, cat, mlp(10, 16, 5)),
    "bottleneck": lambda: TwoEncoders(32, 8, cat, mlp(40, 1, 10)),
    "softmax": lambda: TwoEncoders(32, 8, cat, nn.Sequential(mlp(40, 32, 10), nn.Softmax(1))),
}


# --- low_rank_fusion: a Python list of factors, never registered --------------------------------


def fusion(store="parameter list", name="factors"):
    """A low-rank fusion class whose factors are stored as ``store`` under ``name``."""

    class LowRankFusion(nn.Module):
        def __init__(self, in_dims, out_dim, rank=4):
            super().__init__()
            ws = [0.3 * torch.randn(rank, d + 1, out_dim) for d in in_dims]
            if store == "buffers":
                for m, w in enumerate(ws):
                    self.register_buffer(f"factor{m}", w)
                ws = [getattr(self, f"factor{m}") for m in range(len(ws))]
            elif store == "zeros":
                ws = nn.ParameterList(nn.Parameter(torch.zeros_like(w)) for w in ws)
            elif store == "frozen":
                ws = nn.ParameterList(nn.Parameter(w, requires_grad=False) for w in ws)
            elif store == "module list":
                ws = nn.ModuleList(nn.Parameter(w) for w in ws)
            elif store == "each registered":
                ws = [nn.Parameter(w) for w in ws]
                for m, w in enumerate(ws):
                    self.register_parameter(f"factor{m}", w)
            else:
                ws = [nn.Parameter(w) for w in ws]
                ws = {"parameter list": nn.ParameterList, "tuple": tuple, "list": list}[store](ws)
            setattr(self, name, ws)
            self.bias = nn.Parameter(torch.zeros(out_dim))

        def forward(self, features):
            product = 1
            for x, w in zip(features, getattr(self, name), strict=True):
                x1 = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
                product = product * torch.einsum("nd,rdo->nro", x1, w)
            return product.sum(dim=1) + self.bias

    return LowRankFusion


class Doubled(fusion()):  # registered, but no longer low-rank fusion
    def forward(self, features):
        return 2 * super().forward(features)


RIGHT = [
    (check.train_step, _step),
    (check.train_step, step_log_softmax),
    (check.inputs_and_target, lambda audio, words, embed: (audio, words)),
    (check.inputs_and_target, lambda audio, words, embed: (2 * audio + 1, words.clone())),
    (check.lstm_classify, _lstm),
    (check.image_text_model, MODELS["right"]),
    (check.low_rank_fusion, fusion()),
    (check.low_rank_fusion, fusion("each registered")),
]

WRONG = [
    # train_step
    *[(check.train_step, step, re.escape(hint)) for hint, step in STEP_MISTAKES],
    (check.train_step, step_between, "Step 1 did not change the parameters"),
    (check.train_step, step_no_return, "returned None .*expected a number"),
    # inputs_and_target
    (check.inputs_and_target, leak, r"still \d+% right when every recording is noise.*E7"),
    (
        check.inputs_and_target,
        lambda a, w, e: (torch.cat([a, e(w).detach()], 1), w),
        "label leakage",
    ),
    (check.inputs_and_target, lambda a, w, e: (F.one_hot(w, 10).float(), w), "label leakage"),
    (check.inputs_and_target, lambda a, w, e: (a[:, :1], w), "lost what the audio says"),
    (check.inputs_and_target, lambda a, w, e: (a, e(w)), "your target is not the word ids"),
    (check.inputs_and_target, lambda a, w, e: a, "expected two values"),
    # image_text_model
    (check.image_text_model, MODELS["stacked"], r"shape \(16, 12\): it stacks.*E13"),
    (check.image_text_model, MODELS["late"], "adds an image part and a text part"),
    (check.image_text_model, MODELS["linear head"], "adds an image part and a text part"),
    (check.image_text_model, MODELS["image only"], "it ignores the text"),
    (check.image_text_model, MODELS["text only"], "it ignores the images"),
    (check.image_text_model, MODELS["five classes"], r"shape \(16, 5\), expected \(16, 10\)"),
    (check.image_text_model, MODELS["bottleneck"], "right on held-out pairs; 90% is needed"),
    (check.image_text_model, MODELS["softmax"], "remove the final softmax"),
    (check.image_text_model, MODELS["right"](), "you passed a model"),
    # low_rank_fusion
    (check.low_rank_fusion, fusion("list"), "does not contain the low-rank factors"),
    (check.low_rank_fusion, fusion("tuple"), "use nn.ParameterList"),
    (check.low_rank_fusion, fusion("buffers"), "the factors are buffers"),
    (check.low_rank_fusion, fusion("frozen"), "requires_grad=False"),
    (check.low_rank_fusion, fusion("zeros"), "its gradient is zero"),
    (check.low_rank_fusion, fusion("module list"), "raised TypeError"),
    (check.low_rank_fusion, fusion(name="weights"), "keep the attributes of the original"),
    (check.low_rank_fusion, Doubled, "no longer computes sum_r prod_m"),
    (check.low_rank_fusion, fusion()([3, 5], 4), "you passed a model"),
]


def _id(item):
    return getattr(item, "__name__", None)


@pytest.mark.parametrize(("checker", "answer"), RIGHT, ids=_id)
def test_right_answers_pass(checker, answer, capsys):
    checker(answer)
    assert capsys.readouterr().out.startswith(f"✓ {checker.__name__}")


@pytest.mark.parametrize(("checker", "wrong", "hint"), WRONG, ids=_id)
def test_wrong_answers_fail_with_their_hint(checker, wrong, hint):
    with pytest.raises(CheckFailed, match=hint):
        checker(wrong)


def test_the_checkers_leave_the_global_random_state_and_threads_alone():
    torch.manual_seed(0)
    expected, threads = torch.rand(3), torch.get_num_threads()
    torch.manual_seed(0)
    for checker, answer in dict(RIGHT).items():  # one right answer per checker
        checker(answer)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
