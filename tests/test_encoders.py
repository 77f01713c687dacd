"""mmcourse.encoders: one contract for every encoder, each encoder's computation, the classifier."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mmcourse.audio import dtmf_batch
from mmcourse.data import digit_phrases
from mmcourse.encoders import (
    AudioEncoder,
    BagOfEmbeddings,
    Classifier,
    ImageEncoder,
    Precomputed,
    SequenceEncoder,
    TextEncoder,
)
from mmcourse.rnn import GRU, LSTM, RNN
from mmcourse.text import Vocabulary, pad_sequences
from mmcourse.train import count_parameters, fit

# ---------------------------------------------------------------------------------------------
# The contract: out_dim as a keyword, encoder.out_dim, (N, out_dim) features


def _tokens(n):
    g = torch.Generator().manual_seed(0)
    return pad_sequences([torch.randint(1, 20, (int(k),), generator=g) for k in range(1, n + 1)])


ENCODERS = {  # name -> (class, positional arguments, inputs for a batch of n)
    "image": (ImageEncoder, (), lambda n: (torch.rand(n, 1, 8, 8),)),
    "sequence": (SequenceEncoder, (3,), lambda n: (torch.randn(n, 5, 3),)),
    "text": (TextEncoder, (20,), _tokens),
    "bag": (BagOfEmbeddings, (20,), _tokens),
    "audio": (AudioEncoder, (), lambda n: (torch.randn(n, 800),)),
    "precomputed": (Precomputed, (), lambda n: (torch.randn(n, 6),)),
}


def _build(name, out_dim):
    cls, args, _ = ENCODERS[name]
    return cls(*args, out_dim=out_dim)


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("n", [1, 4])
def test_every_encoder_keeps_the_contract(name, n):
    torch.manual_seed(0)
    encoder = _build(name, 6).eval()
    assert encoder.out_dim == 6
    assert encoder(*ENCODERS[name][2](n)).shape == (n, 6)


@pytest.mark.parametrize("name", ENCODERS)
def test_out_dim_is_keyword_only_and_checked(name):
    with pytest.raises(ValueError, match=r"out_dim.*>= 1.*got 0"):
        _build(name, 0)
    with pytest.raises(TypeError, match=r"out_dim.*int.*float 2.5"):
        _build(name, 2.5)
    cls, args, _ = ENCODERS[name]
    with pytest.raises(TypeError, match="positional"):  # out_dim is never positional
        cls(*args, 8)


# ---------------------------------------------------------------------------------------------
# The classifier head


@pytest.mark.parametrize("name", ENCODERS)
def test_classifier_is_the_encoder_then_a_linear_head(name):
    torch.manual_seed(0)
    model = Classifier(_build(name, 6), num_classes=3).eval()
    x = ENCODERS[name][2](4)
    logits = model(*x)
    assert logits.shape == (4, 3)
    features = model.encoder(*x)
    torch.testing.assert_close(logits, features @ model.head.weight.T + model.head.bias)
    assert count_parameters(model) == count_parameters(model.encoder) + 6 * 3 + 3


def test_classifier_builds_encoder_then_head_like_a_sequential():
    # Same seed, same numbers as the nn.Sequential the chapters used before.
    torch.manual_seed(0)
    sequential = nn.Sequential(ImageEncoder(out_dim=16), nn.Linear(16, 10))
    torch.manual_seed(0)
    classifier = Classifier(ImageEncoder(out_dim=16), 10)
    for a, b in zip(sequential.parameters(), classifier.parameters(), strict=True):
        assert torch.equal(a, b)


def test_classifier_rejects_what_is_not_an_encoder():
    with pytest.raises(TypeError, match=r"encoder\.out_dim.*int.*NoneType"):
        Classifier(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"encoder.*nn\.Module.*function"):
        Classifier(lambda x: x)
    with pytest.raises(ValueError, match=r"num_classes.*>= 1.*got 0"):
        Classifier(Precomputed(out_dim=3), 0)


# ---------------------------------------------------------------------------------------------
# ImageEncoder


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
def test_image_encoder_gradients_reach_every_parameter(kwargs):
    torch.manual_seed(0)
    model = Classifier(ImageEncoder(out_dim=16, **kwargs), 10)
    images = torch.rand(6, 1, 8, 8)
    loss = nn.functional.cross_entropy(model(images), torch.arange(6))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} gets no gradient"
        assert parameter.grad.abs().sum() > 0, f"{name} gets a zero gradient"


def test_image_encoder_parameter_counts_follow_the_architecture():
    # conv 1->32 (+ BN), conv 32->64 (+ BN), then 64 maps of 2x2 -> 64 features.
    conv = (32 * 9 + 32) + 2 * 32 + (64 * 32 * 9 + 64) + 2 * 64
    assert count_parameters(ImageEncoder(out_dim=64)) == conv + 64 * 4 * 64 + 64
    assert count_parameters(ImageEncoder(global_pool=True)) == conv + 64 * 64 + 64
    assert count_parameters(ImageEncoder(pooling="none")) == conv + 64 * 64 * 64 + 64


def test_image_features_are_non_negative_and_first_block_keeps_a_map_per_channel():
    encoder = ImageEncoder(out_dim=32).eval()
    images = torch.rand(3, 1, 8, 8)
    assert (encoder(images) >= 0).all()  # the projection ends in a ReLU
    assert encoder.blocks[0](images).shape == (3, 32, 4, 4)
    assert ImageEncoder(pooling="none").blocks[0](images).shape == (3, 32, 8, 8)


def test_global_pooling_ignores_where_a_pattern_is():
    torch.manual_seed(0)
    encoder = ImageEncoder(out_dim=8, channels=(4,), pooling="none", global_pool=True).eval()
    blob = torch.zeros(1, 1, 8, 8)
    blob[..., 2:4, 2:4] = 1.0
    moved = torch.roll(blob, shifts=(2, 3), dims=(2, 3))  # still away from the borders
    torch.testing.assert_close(encoder(blob), encoder(moved))


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (torch.zeros(1, 8, 8), ValueError, r"images.*\(N, 1, 8, 8\).*\(1, 8, 8\).*images\[None\]"),
        (torch.zeros(2, 3, 8, 8), ValueError, r"images.*\(N, 1, 8, 8\).*\(2, 3, 8, 8\)"),
        (torch.zeros(2, 1, 28, 28), ValueError, r"images.*\(N, 1, 8, 8\).*\(2, 1, 28, 28\)"),
        (torch.zeros(2, 64), ValueError, r"images.*\(N, 1, 8, 8\).*\(2, 64\)"),
        (torch.zeros(2, 1, 8, 8, dtype=torch.long), TypeError, r"images.*floating.*int64"),
        ([[0.0]], TypeError, r"images.*torch\.Tensor.*list"),
    ],
)
def test_image_encoder_bad_input(images, error, message):
    with pytest.raises(error, match=message):
        ImageEncoder()(images)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(channels=()), ValueError, r"channels.*at least one.*got tuple \(\)"),
        (dict(channels=8), TypeError, r"channels.*list of ints.*got int 8"),
        (dict(channels=(8, 0)), ValueError, r"channels\[1\].*>= 1.*got 0"),
        (dict(channels=(1, 2, 3, 4)), ValueError, r"channels.*at most 3.*got 4"),
        (dict(pooling="min"), ValueError, r"pooling.*'max', 'avg', 'none'.*'min'"),
        (dict(dropout=1.0), ValueError, r"dropout.*\[0, 1\).*got 1.0"),
        (dict(dropout=-0.1), ValueError, r"dropout.*>= 0.0.*got -0.1"),
    ],
)
def test_image_encoder_bad_configuration(kwargs, error, message):
    with pytest.raises(error, match=message):
        ImageEncoder(**kwargs)


# ---------------------------------------------------------------------------------------------
# SequenceEncoder


@pytest.mark.parametrize("layer", [nn.RNN, nn.LSTM, nn.GRU, RNN, LSTM, GRU])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_sequence_encoder_is_the_layer_output_at_the_last_step(layer, num_layers):
    torch.manual_seed(0)
    encoder = SequenceEncoder(3, out_dim=4, layer=layer, num_layers=num_layers)
    assert isinstance(encoder.recurrent, layer) and encoder.recurrent.batch_first
    x = torch.randn(2, 7, 3)
    output, state = encoder.recurrent(x)
    torch.testing.assert_close(encoder(x), output[:, -1])
    h_n = state[0] if isinstance(state, tuple) else state
    torch.testing.assert_close(encoder(x), h_n[-1])  # the last layer's final hidden state


def test_ours_and_torch_layers_give_the_same_sequence_features():
    torch.manual_seed(0)
    theirs = SequenceEncoder(3, out_dim=5, layer=nn.LSTM, num_layers=2)
    ours = SequenceEncoder(3, out_dim=5, layer=LSTM, num_layers=2)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(4, 6, 3)
    torch.testing.assert_close(ours(x), theirs(x))


def test_sequence_encoder_bad_input():
    encoder = SequenceEncoder(3, out_dim=4)
    with pytest.raises(ValueError, match=r"sequences.*\(\*, \*, 3\).*\(2, 7, 2\)"):
        encoder(torch.zeros(2, 7, 2))
    with pytest.raises(ValueError, match=r"sequences.*3-D.*2-D"):
        encoder(torch.zeros(7, 3))
    with pytest.raises(TypeError, match=r"sequences.*floating.*int64"):
        encoder(torch.zeros(2, 7, 3, dtype=torch.long))
    with pytest.raises(TypeError, match=r"layer.*class.*LSTM\("):
        SequenceEncoder(3, out_dim=4, layer=nn.LSTM(3, 4))
    with pytest.raises(ValueError, match=r"input_size.*>= 1.*got 0"):
        SequenceEncoder(0)


# ---------------------------------------------------------------------------------------------
# TextEncoder and BagOfEmbeddings


def _batch(seed: int, n: int = 5, vocab_size: int = 20, max_len: int = 7):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (n,), generator=g)
    seqs = [torch.randint(1, vocab_size, (int(k),), generator=g) for k in lengths]
    return seqs, *pad_sequences(seqs)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    extra=st.integers(0, 4),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
)
def test_text_encoder_ignores_padding_and_batch_company(seed, extra, layers, bidirectional):
    torch.manual_seed(seed)
    encoder = TextEncoder(
        20, out_dim=6, embedding_dim=5, num_layers=layers, bidirectional=bidirectional
    ).double()
    assert encoder.lstm.hidden_size == (3 if bidirectional else 6)
    seqs, tokens, lengths = _batch(seed)
    features = encoder(tokens, lengths)
    assert features.shape == (len(seqs), 6)
    more = torch.cat([tokens, torch.zeros(len(seqs), extra, dtype=torch.long)], dim=1)
    torch.testing.assert_close(encoder(more, lengths), features)
    alone = torch.cat([encoder(s[None], torch.tensor([len(s)])) for s in seqs])
    torch.testing.assert_close(alone, features)


def test_text_encoder_is_the_lstm_state_after_the_last_token():
    torch.manual_seed(0)
    encoder = TextEncoder(20, out_dim=5, embedding_dim=6)
    seqs, tokens, lengths = _batch(1)
    for k, seq in enumerate(seqs):
        _, (h_n, _) = encoder.lstm(encoder.embedding(seq)[None])
        torch.testing.assert_close(encoder(tokens, lengths)[k], h_n[-1, 0])


def test_bidirectional_text_encoder_concatenates_both_directions():
    torch.manual_seed(0)
    encoder = TextEncoder(20, out_dim=8, embedding_dim=6, bidirectional=True)
    seqs, tokens, lengths = _batch(2)
    features = encoder(tokens, lengths)
    for k, seq in enumerate(seqs):
        _, (h_n, _) = encoder.lstm(encoder.embedding(seq)[None])
        torch.testing.assert_close(features[k], torch.cat([h_n[0, 0], h_n[1, 0]]))
    with pytest.raises(ValueError, match=r"out_dim.*even.*got 5"):
        TextEncoder(20, out_dim=5, bidirectional=True)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_bag_of_embeddings_ignores_order_and_padding(seed):
    torch.manual_seed(seed)
    bag = BagOfEmbeddings(20, out_dim=5, embedding_dim=6).double()
    seqs, tokens, lengths = _batch(seed)
    features = bag(tokens, lengths)
    shuffled = [s[torch.randperm(len(s))] for s in seqs]
    torch.testing.assert_close(bag(*pad_sequences(shuffled)), features)
    more = torch.cat([tokens, torch.full((len(seqs), 3), 7)], dim=1)  # garbage, not even pad ids
    torch.testing.assert_close(bag(more, lengths), features)
    # The mean is nn.EmbeddingBag's mode="mean" on the concatenated sequences.
    reference = nn.EmbeddingBag(20, 6, mode="mean").double()
    reference.weight.data.copy_(bag.embedding.weight.data)
    offsets = torch.cumsum(torch.tensor([0] + [len(s) for s in seqs[:-1]]), 0)
    mean = reference(torch.cat(seqs), offsets)
    torch.testing.assert_close(features, torch.relu(bag.hidden(mean)))


@pytest.mark.parametrize("model", [TextEncoder(10), BagOfEmbeddings(10)])
@pytest.mark.parametrize(
    ("tokens", "lengths", "error", "message"),
    [
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([1, 2, 3]),
            ValueError,
            r"lengths.*\(2,\).*\(3,\)",
        ),
        (torch.zeros(3, dtype=torch.long), torch.tensor([1]), ValueError, r"tokens.*2-D.*1-D"),
        (torch.zeros(2, 3), torch.tensor([1, 2]), TypeError, r"tokens.*integer.*float32"),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([0, 2]),
            ValueError,
            r"lengths.*from 1 to .* T = 3.*from 0 to 2",
        ),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([4, 2]),
            ValueError,
            r"lengths.*from 1 to .* T = 3.*from 2 to 4",
        ),
        (
            torch.full((2, 3), 10),
            torch.tensor([3, 2]),
            ValueError,
            r"tokens.*0 to 9.*from 10 to 10",
        ),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([1.0, 2.0]),
            TypeError,
            r"lengths.*integer.*float32",
        ),
        ([[1, 2]], torch.tensor([2]), TypeError, r"tokens.*torch\.Tensor.*list"),
    ],
)
def test_text_encoders_reject_bad_batches(model, tokens, lengths, error, message):
    with pytest.raises(error, match=message):
        model(tokens, lengths)


def test_text_classifier_trains_through_fit():
    # The interface the chapters rely on: model(tokens, lengths) inside fit, on the device.
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 10, (64,), generator=generator)
    vocab = Vocabulary.build(digit_phrases(labels, generator, kind="name"))
    tokens, lengths = vocab.encode_batch(digit_phrases(labels, generator, kind="name"))
    torch.manual_seed(0)
    model = Classifier(TextEncoder(len(vocab), out_dim=16, embedding_dim=8))
    history = fit(model, (tokens, lengths, labels), epochs=2, batch_size=16, lr=0.01)
    assert history.epochs == 2 and history.train_loss[-1] < history.train_loss[0]


# ---------------------------------------------------------------------------------------------
# AudioEncoder


def test_audio_encoder_shapes_parameters_and_batch_independence():
    torch.manual_seed(0)
    encoder = AudioEncoder(out_dim=24)
    x = dtmf_batch(torch.arange(6), snr_db=5.0, generator=torch.Generator().manual_seed(0))
    out = encoder(x)
    assert out.shape == (6, 24) and encoder.out_dim == 24
    assert encoder.features(x).shape == (6, 40, 800 // 64 + 1)
    torch.testing.assert_close(encoder.body(encoder.features(x)), out)
    names = {name for name, _ in encoder.named_parameters()}
    assert len(names) == 6  # two convolutions and one linear layer, weight and bias each
    assert "filterbank" not in names and "filterbank" not in encoder.state_dict()
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters())
    # Each clip is encoded on its own, whatever else is in the batch.
    torch.testing.assert_close(encoder(x[2:3]), out[2:3].detach(), rtol=1e-4, atol=1e-5)
    # Standardized log-mel features: the loudness of a (noisy) clip does not matter.
    torch.testing.assert_close(encoder(0.1 * x), out.detach(), rtol=1e-3, atol=1e-4)


def test_audio_encoder_learns_clean_tones():
    torch.manual_seed(0)
    model = Classifier(AudioEncoder(out_dim=32), 10)
    labels = torch.arange(10).repeat(10)
    x = dtmf_batch(labels, num_samples=400, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(50):
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    test = dtmf_batch(labels, num_samples=400, generator=torch.Generator().manual_seed(1))
    assert (model(test).argmax(1) == labels).float().mean() >= 0.9


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: AudioEncoder()(torch.zeros(800)), ValueError, r"waveform.*2-D.*\(800,\)"),
        (lambda: AudioEncoder()(torch.zeros(2, 1, 800)), ValueError, r"waveform.*\(2, 1, 800\)"),
        (lambda: AudioEncoder(sample_rate=0), ValueError, r"sample_rate.*> 0.*got 0"),
        (lambda: AudioEncoder(n_mels=0), ValueError, r"n_mels.*>= 1.*got 0"),
        (lambda: AudioEncoder(channels=1.5), TypeError, r"channels.*int.*float 1.5"),
    ],
)
def test_audio_encoder_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# Precomputed


def test_precomputed_passes_checked_features_through():
    features = torch.randn(6, 3)
    assert Precomputed(out_dim=3)(features) is features
    assert count_parameters(Precomputed(out_dim=3)) == 0
    with pytest.raises(ValueError, match=r"features.*\(\*, 3\).*\(6, 4\)"):
        Precomputed(out_dim=3)(torch.randn(6, 4))
    with pytest.raises(TypeError, match=r"features.*torch\.Tensor.*list"):
        Precomputed(out_dim=3)([[0.0, 0.0, 0.0]])
