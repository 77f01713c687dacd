"""mmcourse.data.MultimodalDigits: aligned, deterministic, split by image, corrupted as asked."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from mmcourse.audio import dtmf_frequencies
from mmcourse.data import (
    CLEAN,
    MODALITIES,
    Corruption,
    MultimodalDigits,
    digits_splits,
    load_digits,
    phrase_distribution,
    take,
)


def _flat(batch):
    """Every tensor of a batch (inputs, mask, labels), in order."""
    inputs, mask, labels = batch
    tokens, lengths = inputs["text"]
    return [inputs["image"], tokens, lengths, inputs["audio"], mask, labels]


def test_splits_never_share_an_image_and_cover_the_digits():
    train, val, test = digits_splits(0, return_indices=True)
    assert not set(train.tolist()) & set(val.tolist())
    assert not set(train.tolist()) & set(test.tolist())
    assert not set(val.tolist()) & set(test.tolist())
    images, _ = load_digits()
    sizes = {s: len(MultimodalDigits(s, corruption=CLEAN)) for s in ("train", "val", "test")}
    assert sizes == {"train": len(train), "val": len(val), "test": len(test)}
    assert sum(sizes.values()) == images.shape[0]


def test_clean_samples_are_the_real_digit_its_tone_and_a_phrase_naming_it():
    data = MultimodalDigits("val", seed=3, corruption=CLEAN)
    images, labels = load_digits()
    index = digits_splits(0, return_indices=True)[1]
    assert torch.equal(data.images, images[index]) and torch.equal(data.labels, labels[index])
    assert torch.equal(data.mask, torch.ones(len(data), 3))
    for k in range(0, len(data), 37):
        phrase = data.vocabulary.decode(data.tokens[k])
        names = {
            " ".join(p.replace(",", " ,").split()) for p in phrase_distribution(int(data.labels[k]))
        }
        assert phrase in names, (phrase, int(data.labels[k]))
    # The tones are the label's keypad tones: the two spectral peaks sit at its two frequencies.
    spectrum = torch.fft.rfft(data.audio).abs()
    frequencies = torch.fft.rfftfreq(data.audio.shape[1], 1 / 8000)  # 10 Hz apart
    for k in range(0, len(data), 11):
        peaks = frequencies[spectrum[k].topk(2).indices].sort().values
        expected = torch.tensor(dtmf_frequencies(int(data.labels[k])))
        assert torch.all((peaks - expected).abs() <= 10), (peaks, expected)


def test_same_seed_same_tensors_other_seed_other_tensors():
    a, b = MultimodalDigits("test", seed=1).tensors(), MultimodalDigits("test", seed=1).tensors()
    c = MultimodalDigits("test", seed=2).tensors()
    assert all(torch.equal(x, y) for x, y in zip(_flat(a), _flat(b), strict=True))
    assert not torch.equal(a[0]["image"], c[0]["image"])
    assert not torch.equal(a[0]["audio"], c[0]["audio"])
    assert torch.equal(a[-1], c[-1])  # same split, same labels


def test_corruption_knobs():
    clean = MultimodalDigits("test", corruption=CLEAN)
    occluded = MultimodalDigits("test", corruption=Corruption(0.0, 3, None, 0.0, 0.0))
    changed = (occluded.images != clean.images)[:, 0]
    assert changed.any()
    # Each occluder is a 3×3 square: every changed pixel lies in a 3×3 box per image.
    for k in range(0, len(clean), 25):
        rows, cols = torch.nonzero(changed[k], as_tuple=True)
        if len(rows):
            assert rows.max() - rows.min() <= 2 and cols.max() - cols.min() <= 2
            assert torch.all(occluded.images[k, 0, rows, cols] == 0)
    noisy = MultimodalDigits("test", corruption=Corruption(0.5, 0, None, 0.0, 0.0))
    assert 0 <= noisy.images.min() and noisy.images.max() <= 1
    assert (noisy.images - clean.images).abs().mean() > 0.1
    quiet = MultimodalDigits("test", corruption=Corruption(0.0, 0, 20.0, 0.0, 0.0))
    loud = MultimodalDigits("test", corruption=Corruption(0.0, 0, -20.0, 0.0, 0.0))
    assert (quiet.audio - clean.audio).pow(2).mean() < (loud.audio - clean.audio).pow(
        2
    ).mean() / 1000
    dropped = MultimodalDigits("test", corruption=Corruption(0.0, 0, None, 0.8, 0.0))
    lengths = [data.tensors()[0]["text"][1].float().mean() for data in (dropped, clean)]
    assert lengths[0] < lengths[1] / 2


@pytest.mark.parametrize("k", range(3))
def test_a_missing_modality_is_zeroed_and_masked(k):
    missing = [0.0, 0.0, 0.0]
    missing[k] = 1.0
    data = MultimodalDigits("val", corruption=Corruption(missing=tuple(missing)))
    assert torch.all(data.mask[:, k] == 0) and torch.all(
        data.mask[:, [j for j in range(3) if j != k]] == 1
    )
    if MODALITIES[k] == "image":
        assert torch.all(data.images == 0)
    if MODALITIES[k] == "text":
        assert all(t.tolist() == [data.vocabulary.pad_id] for t in data.tokens)
    if MODALITIES[k] == "audio":
        assert torch.all(data.audio == 0)


def test_partly_missing_is_random_per_sample():
    data = MultimodalDigits("train", corruption=Corruption(missing=(0.3, 0.3, 0.3)))
    rate = 1 - data.mask.mean(0)
    assert torch.all((rate > 0.2) & (rate < 0.4))


def test_a_batch_is_inputs_by_modality_mask_and_labels():
    data = MultimodalDigits("val", seed=0)
    inputs, mask, labels = data.tensors()
    assert list(inputs) == list(MODALITIES)
    tokens, lengths = inputs["text"]
    assert torch.equal(inputs["image"], data.images) and torch.equal(inputs["audio"], data.audio)
    assert torch.equal(mask, data.mask) and torch.equal(labels, data.labels)
    assert inputs["image"].shape == (len(data), 1, 8, 8)
    assert inputs["audio"].shape == (len(data), 800)
    assert tokens.shape == (len(data), int(lengths.max())) and mask.shape == (len(data), 3)
    for k in range(len(data)):
        assert torch.equal(tokens[k, : lengths[k]], data.tokens[k])
        assert torch.all(tokens[k, lengths[k] :] == 0) and torch.all(tokens[k, : lengths[k]] != 0)
    sample, sample_mask, label = data[5]
    assert torch.equal(sample["text"], data.tokens[5]) and torch.equal(sample_mask, mask[5])
    assert torch.equal(sample["image"], inputs["image"][5]) and label == labels[5]


def test_dataloader_collate_matches_tensors():
    data = MultimodalDigits("val", seed=0)
    loader = DataLoader(data, batch_size=len(data), collate_fn=MultimodalDigits.collate)
    batch = next(iter(loader))
    whole = data.tensors()
    assert all(torch.equal(x, y) for x, y in zip(_flat(batch), _flat(whole), strict=True))


def test_repeats_pair_each_image_with_several_tones_and_phrases():
    data = MultimodalDigits("val", repeats=2, corruption=CLEAN)
    n = len(data) // 2
    assert torch.equal(data.images[:n], data.images[n:])
    assert not torch.equal(data.audio[:n], data.audio[n:])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(split="dev"), ValueError, "split.*'train', 'val', 'test'.*'dev'"),
        (dict(repeats=0), ValueError, "repeats.*>= 1.*got 0"),
        (dict(repeats=1.5), TypeError, "repeats.*int.*float 1.5"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        MultimodalDigits(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(image_noise=-1.0), "image_noise.*>= 0.*got -1.0"),
        (dict(image_occlusion=9), "image_occlusion.*int.*8.*got 9"),
        (dict(text_drop=1.0), r"text_drop.*\[0, 1\).*got 1.0"),
        (dict(text_replace=-0.1), r"text_replace.*>= 0.*got -0.1"),
        (dict(missing=(0.5, 0.5)), r"missing.*3 probabilities.*\(0.5, 0.5\)"),
        (dict(missing=(0.5, 0.5, 1.5)), r"missing\[2\].*\[0, 1\].*got 1.5"),
    ],
)
def test_bad_corruption(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Corruption(**kwargs)


def test_fit_trains_a_multimodal_classifier_on_the_batches():
    # The interface the fusion chapter relies on: fit calls model(inputs, mask) on each batch.
    from mmcourse.encoders import AudioEncoder, ImageEncoder, TextEncoder
    from mmcourse.fusion import ConcatFusion, MultimodalClassifier
    from mmcourse.train import evaluate, fit, predict

    data = MultimodalDigits("val", seed=0)
    torch.manual_seed(0)
    encoders = {
        "image": ImageEncoder(out_dim=4, channels=(4,)),
        "text": TextEncoder(len(data.vocabulary), out_dim=4, embedding_dim=4),
        "audio": AudioEncoder(out_dim=4, channels=4),
    }
    model = MultimodalClassifier(encoders, ConcatFusion([4, 4, 4], 8))
    loader = DataLoader(data, batch_size=64, collate_fn=MultimodalDigits.collate)
    history = fit(model, data.tensors(), loader, epochs=2, lr=1e-2, device="cpu")
    assert history.train_loss[-1] < history.train_loss[0]
    inputs, mask, labels = data.tensors()
    assert evaluate(model, loader)["loss"] == pytest.approx(history.val_loss[-1])
    assert predict(model, (inputs, mask)).shape == (len(data), 10)


def test_image_ids_name_the_image_each_sample_shows():
    data = MultimodalDigits("val", seed=0, repeats=2)
    n = len(data) // 2
    assert torch.equal(data.image_ids, torch.arange(n).repeat(2))
    assert torch.equal(data.labels[:n], data.labels[n:])


def test_take_selects_the_same_samples_of_every_tensor():
    batch = MultimodalDigits("val", seed=0).tensors()
    keep = torch.zeros(len(batch[2]), dtype=torch.bool)
    keep[[0, 3, 5]] = True
    inputs, mask, labels = take(batch, keep)
    (tokens, lengths), everything = inputs["text"], batch[0]
    assert torch.equal(labels, batch[2][keep]) and torch.equal(mask, batch[1][keep])
    assert torch.equal(inputs["image"], everything["image"][[0, 3, 5]])
    assert torch.equal(inputs["audio"], everything["audio"][[0, 3, 5]])
    assert torch.equal(tokens, everything["text"][0][[0, 3, 5]])
    assert torch.equal(lengths, everything["text"][1][[0, 3, 5]])
    with pytest.raises(TypeError, match="keep"):
        take(batch, [0, 3])
