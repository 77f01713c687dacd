"""mmcourse.audio against torch and torchaudio: values, gradients, keypad tones and errors."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
import torch
import torchaudio
from hypothesis import given, settings
from hypothesis import strategies as st

from mmcourse.audio import (
    COLUMN_HZ,
    KEYPAD,
    ROW_HZ,
    add_noise,
    alias_frequency,
    amplitude_to_db,
    dct_matrix,
    dft,
    dtmf,
    dtmf_batch,
    dtmf_frequencies,
    frame,
    hann_window,
    hz_to_mel,
    mel_filterbank,
    mel_spectrogram,
    mel_to_hz,
    mfcc,
    pad_or_crop,
    spectrogram,
    stft,
)

FLOAT64 = {"dtype": torch.float64}


def _randn(shape, seed, dtype=torch.float64, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=dtype).requires_grad_(requires_grad)


def _close(ours, ref, rtol=1e-5, scale=1e-6):
    """Equal up to ``rtol`` relative and ``scale`` times the largest reference value."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    torch.testing.assert_close(
        ours, ref, rtol=rtol, atol=scale * max(ref.abs().max().item(), 1e-30), check_dtype=False
    )


@st.composite
def stft_settings(draw):
    """A waveform shape ((L,), (N, L) or (N, C, L)), n_fft, hop_length and win_length."""
    n_fft = draw(st.integers(2, 300))
    win_length = draw(st.integers(1, n_fft))
    hop_length = draw(st.integers(1, max(1, n_fft)))
    length = draw(st.integers(n_fft // 2 + 1, 2 * n_fft + 200))
    leading = draw(st.sampled_from([(), (1,), (3,), (2, 2)]))
    seed = draw(st.integers(0, 2**31 - 1))
    return (*leading, length), n_fft, hop_length, win_length, seed


def _torch_stft(x, n_fft, hop_length, win_length):
    flat = x.reshape(-1, x.shape[-1]) if x.dim() > 2 else x
    window = torch.hann_window(win_length, dtype=x.dtype)
    out = torch.stft(
        flat,
        n_fft,
        hop_length,
        win_length,
        window=window,
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return out.reshape(*x.shape[:-1], *out.shape[-2:])


# ---------------------------------------------------------------------------------------------
# Sampling, the DFT and the STFT


@settings(max_examples=60, deadline=None)
@given(
    f=st.floats(1.0, 50_000.0),
    rate=st.sampled_from([8000, 11025, 16000]),
)
def test_alias_frequency_is_where_the_spectrum_peaks(f, rate):
    n = torch.arange(4 * rate // 10, dtype=torch.float64)  # 0.4 s: bins 2.5 Hz apart
    predicted = alias_frequency(f, rate)
    assert 0 <= predicted <= rate / 2
    bin_hz = rate / len(n)
    # Away from 0 and Nyquist, where a tone and its mirror image overlap in one bin.
    if predicted < 3 * bin_hz or predicted > rate / 2 - 3 * bin_hz:
        return
    x = torch.cos(2 * math.pi * f * n / rate + 0.4) * torch.hann_window(len(n), dtype=n.dtype)
    peak = torch.fft.rfft(x).abs().argmax().item() * bin_hz
    assert abs(peak - predicted) <= bin_hz


def test_alias_frequency_known_values():
    assert alias_frequency(5000, 8000) == 3000
    assert alias_frequency(7000, 8000) == 1000
    assert alias_frequency(9500, 8000) == 1500
    assert alias_frequency(3000, 8000) == 3000
    assert alias_frequency(8000, 8000) == 0
    assert alias_frequency(4000, 8000) == 4000
    assert alias_frequency(-1000, 8000) == 1000


@pytest.mark.parametrize("length", [1, 2, 7, 64, 255, 1000])
def test_dft_matches_fft(length):
    x = _randn((3, length), length)
    torch.testing.assert_close(dft(x), torch.fft.fft(x))
    z = torch.complex(_randn((length,), 1), _randn((length,), 2))
    torch.testing.assert_close(dft(z), torch.fft.fft(z))
    x32 = x.float()
    torch.testing.assert_close(dft(x32), torch.fft.fft(x32), rtol=1e-4, atol=1e-4)


def test_dft_gradient_matches_fft():
    x = _randn((2, 33), 0, requires_grad=True)
    (ours,) = torch.autograd.grad(dft(x).abs().sum(), x)
    (ref,) = torch.autograd.grad(torch.fft.fft(x).abs().sum(), x)
    torch.testing.assert_close(ours, ref)


@pytest.mark.parametrize("length", [1, 2, 3, 16, 255, 400])
@pytest.mark.parametrize("periodic", [True, False])
def test_hann_window_matches_torch(length, periodic):
    ref = torch.hann_window(length, periodic=periodic, dtype=torch.float64)
    torch.testing.assert_close(hann_window(length, periodic, dtype=torch.float64), ref)
    assert hann_window(length).dtype == torch.float32


def test_frame_reflects_and_cuts():
    x = torch.arange(6.0)
    frames = frame(x, n_fft=4, hop_length=2)
    # reflect-padded by 2: [2 1 0 1 2 3 4 5 4 3]
    expected = torch.tensor([[2.0, 1, 0, 1], [0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 4, 3]])
    assert torch.equal(frames, expected)
    assert torch.equal(frame(x, 4, 2, center=False), torch.tensor([[0.0, 1, 2, 3], [2, 3, 4, 5]]))
    padded = torch.nn.functional.pad(x[None, None], (2, 2), mode="reflect")[0, 0]
    assert torch.equal(frames[0], padded[:4])


@settings(max_examples=60, deadline=None)
@given(stft_settings())
def test_stft_matches_torch(setting):
    shape, n_fft, hop, win, seed = setting
    x = _randn(shape, seed, requires_grad=True)
    ours, ref = stft(x, n_fft, hop, win), _torch_stft(x, n_fft, hop, win)
    assert ours.shape == ref.shape
    assert ours.shape[-1] == 1 + (shape[-1] + 2 * (n_fft // 2) - n_fft) // hop
    torch.testing.assert_close(ours, ref)
    upstream = torch.linspace(-1, 1, ours.numel(), dtype=torch.float64).reshape(ours.shape)
    (grad_ours,) = torch.autograd.grad((ours.abs() * upstream).sum(), x)
    (grad_ref,) = torch.autograd.grad((ref.abs() * upstream).sum(), x)
    torch.testing.assert_close(grad_ours, grad_ref)


def test_stft_default_hop_is_half_the_window_like_torchaudio():
    x = _randn((2, 1000), 0)
    torch.testing.assert_close(stft(x, 256), _torch_stft(x, 256, 128, 256))
    torch.testing.assert_close(stft(x, 256, win_length=100), _torch_stft(x, 256, 50, 100))


@settings(max_examples=40, deadline=None)
@given(stft_settings(), st.sampled_from([1.0, 2.0, 0.5]))
def test_spectrogram_matches_torchaudio(setting, power):
    shape, n_fft, hop, win, seed = setting
    x = _randn(shape, seed, requires_grad=True)
    ours = spectrogram(x, n_fft, hop, win, power=power)
    # A float64 window for torchaudio too, so that the two agree to float64 precision.
    transform = torchaudio.transforms.Spectrogram(n_fft, win, hop, power=power, wkwargs=FLOAT64)
    ref = transform(x)
    _close(ours, ref, rtol=1e-9, scale=1e-10)
    (grad_ours,) = torch.autograd.grad(ours.sum(), x)
    (grad_ref,) = torch.autograd.grad(ref.sum(), x)
    _close(grad_ours, grad_ref, rtol=1e-7, scale=1e-9)


def test_spectrogram_float32_batch_of_one_and_unbatched():
    x = _randn((1, 999), 3, dtype=torch.float32)
    ref = torchaudio.transforms.Spectrogram(255, hop_length=37)(x)
    _close(spectrogram(x, 255, 37), ref, rtol=1e-4, scale=1e-5)
    _close(spectrogram(x[0], 255, 37), ref[0], rtol=1e-4, scale=1e-5)
    assert spectrogram(x[0], 255, 37).dim() == 2


# ---------------------------------------------------------------------------------------------
# Mel scale, filterbank, mel spectrogram, decibels, MFCC


def test_mel_scale_known_values_and_inverse():
    assert hz_to_mel(0.0) == 0.0
    assert math.isclose(hz_to_mel(1000.0), 999.9855, abs_tol=1e-3)
    assert math.isclose(hz_to_mel(700.0), 2595 * math.log10(2))
    assert isinstance(hz_to_mel(440), float) and isinstance(mel_to_hz(500.0), float)
    for f in (0.0, 1.0, 440.0, 4000.0, 22050.0):
        assert math.isclose(mel_to_hz(hz_to_mel(f)), f, rel_tol=1e-12, abs_tol=1e-9)
    f = torch.linspace(0, 24000, 97, dtype=torch.float64)
    torch.testing.assert_close(mel_to_hz(hz_to_mel(f)), f)
    m = torch.linspace(0, 4000, 41, dtype=torch.float64)
    torch.testing.assert_close(hz_to_mel(mel_to_hz(m)), m)
    assert torch.all(hz_to_mel(f)[1:] > hz_to_mel(f)[:-1])  # strictly increasing


@settings(max_examples=100, deadline=None)
@given(
    n_freqs=st.integers(2, 300),
    n_mels=st.integers(1, 64),
    rate=st.sampled_from([8000, 11025, 16000, 22050, 44100]),
    lo=st.floats(0, 0.45),
    hi=st.floats(0.05, 1.0),
)
def test_mel_filterbank_matches_torchaudio(n_freqs, n_mels, rate, lo, hi):
    f_min, f_max = sorted((lo * rate / 2, hi * rate / 2))
    if f_max - f_min < 1.0:
        return
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = mel_filterbank(n_freqs, f_min, f_max, n_mels, rate)
    with warnings.catch_warnings(record=True) as ref_warned:
        warnings.simplefilter("always")
        ref = torchaudio.functional.melscale_fbanks(
            n_freqs, f_min, f_max, n_mels, rate, norm=None, mel_scale="htk"
        )
    assert ours.shape == (n_freqs, n_mels)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    assert bool(ours_warned) == bool(ref_warned)  # both warn about filters that see no bin


def test_mel_filterbank_triangles():
    bank = mel_filterbank(257, 0.0, 8000.0, 20, 16000, dtype=torch.float64)
    assert bank.min() >= 0 and bank.max() <= 1
    peaks = bank.argmax(0)
    assert torch.all(peaks[1:] > peaks[:-1])  # centers increase
    # Each filter's support is its neighbors' centers: adjacent filters overlap, others do not.
    overlap = (bank[:, :, None] > 0) & (bank[:, None, :] > 0)
    touching = overlap.any(0)
    assert not touching[0, 2:].any() and touching[0, 1]


@st.composite
def mel_settings(draw):
    rate = draw(st.sampled_from([8000, 11025, 16000]))
    n_fft = draw(st.integers(16, 400))
    n_mels = draw(st.integers(1, max(1, n_fft // 8)))
    hop = draw(st.integers(1, n_fft))
    win = draw(st.one_of(st.none(), st.integers(1, n_fft)))
    f_min = draw(st.floats(0, rate / 8))
    f_max = draw(st.one_of(st.none(), st.floats(rate / 4, rate / 2)))
    length = draw(st.integers(n_fft // 2 + 1, 3 * n_fft))
    leading = draw(st.sampled_from([(), (1,), (2,), (2, 3)]))
    kwargs = dict(n_fft=n_fft, hop_length=hop, win_length=win, n_mels=n_mels, f_min=f_min)
    kwargs["f_max"] = f_max
    return (*leading, length), rate, kwargs, draw(st.integers(0, 2**31 - 1))


@pytest.mark.filterwarnings("ignore:.*(mel filter|all zero values)")
@settings(max_examples=40, deadline=None)
@given(mel_settings())
def test_mel_spectrogram_matches_torchaudio(setting):
    shape, rate, kwargs, seed = setting
    x = _randn(shape, seed, requires_grad=True)
    ours = mel_spectrogram(x, rate, **kwargs)
    # torchaudio's filterbank is float32 (as is ours, cast to the input's dtype); the window is
    # made float64 for both.
    ref = torchaudio.transforms.MelSpectrogram(rate, **kwargs, wkwargs=FLOAT64).double()(x)
    _close(ours, ref, rtol=1e-9, scale=1e-10)
    (grad_ours,) = torch.autograd.grad((ours + 1).log().sum(), x)
    (grad_ref,) = torch.autograd.grad((ref + 1).log().sum(), x)
    _close(grad_ours, grad_ref, rtol=1e-7, scale=1e-9)


@pytest.mark.filterwarnings("ignore:.*(mel filter|all zero values)")  # 128 mels > 201 bins
def test_mel_spectrogram_defaults_float32():
    x = _randn((2, 4000), 1, dtype=torch.float32)
    ref = torchaudio.transforms.MelSpectrogram(16000)(x)
    ours = mel_spectrogram(x, 16000)
    assert ours.dtype == torch.float32 and ours.shape == (2, 128, 21)
    _close(ours, ref, rtol=1e-4, scale=1e-5)


def _spectrograms(shape, seed):
    """Positive values spanning 15 orders of magnitude, different per leading index."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    scale = torch.logspace(-13, 2, shape[0], dtype=torch.float64).reshape(
        -1, *[1] * (len(shape) - 1)
    )
    return x * scale


@pytest.mark.parametrize(
    "shape", [(9, 40, 7), (40, 7), (3, 1, 40, 7), (2, 3, 40, 7), (2, 2, 2, 9, 5)]
)
@pytest.mark.parametrize("top_db", [None, 80.0, 20.0, 0.0])
@pytest.mark.parametrize("stype", ["power", "magnitude"])
def test_amplitude_to_db_matches_torchaudio(shape, top_db, stype):
    x = _spectrograms(shape, 0).requires_grad_()
    ours = amplitude_to_db(x, stype, top_db)
    ref = torchaudio.transforms.AmplitudeToDB(stype, top_db)(x)
    torch.testing.assert_close(ours, ref)
    upstream = torch.linspace(-1, 1, x.numel(), dtype=x.dtype).reshape(x.shape)
    (grad_ours,) = torch.autograd.grad((ours * upstream).sum(), x)
    (grad_ref,) = torch.autograd.grad((ref * upstream).sum(), x)
    torch.testing.assert_close(grad_ours, grad_ref)


def test_top_db_is_one_cutoff_per_tensor_up_to_3d_and_per_example_from_4d():
    batch = _spectrograms((4, 20, 6), 1)  # (N, F, T): one cutoff for the whole batch
    alone = [amplitude_to_db(s, top_db=30.0) for s in batch]
    batched = amplitude_to_db(batch, top_db=30.0)
    per_example = amplitude_to_db(batch[:, None], top_db=30.0)[:, 0]
    for i in range(4):
        torch.testing.assert_close(per_example[i], alone[i])
    assert torch.equal(batched[-1], alone[-1])  # the loudest example sets the cutoff
    assert not torch.allclose(batched[0], alone[0])  # the quietest is clipped by it
    assert batched.min() == batched.max() - 30.0


@pytest.mark.parametrize(("n_mfcc", "n_mels"), [(1, 1), (13, 40), (40, 40), (20, 128)])
def test_dct_matrix_matches_torchaudio(n_mfcc, n_mels):
    ref = torchaudio.functional.create_dct(n_mfcc, n_mels, "ortho")
    torch.testing.assert_close(dct_matrix(n_mfcc, n_mels), ref)
    full = dct_matrix(n_mels, n_mels).double()
    torch.testing.assert_close(full.T @ full, torch.eye(n_mels, dtype=torch.float64))


@pytest.mark.filterwarnings("ignore:.*(mel filter|all zero values)")
@pytest.mark.parametrize(
    ("shape", "rate", "n_mfcc", "melkwargs"),
    [
        ((3, 1600), 8000, 13, dict(n_fft=256, hop_length=64, n_mels=40)),
        ((1, 4000), 16000, 40, {}),
        ((2000,), 16000, 20, dict(n_fft=301, hop_length=77, n_mels=50, f_max=6000.0)),
        ((2, 2, 900), 11025, 12, dict(n_fft=128, win_length=100, n_mels=24, f_min=100.0)),
    ],
)
def test_mfcc_matches_torchaudio(shape, rate, n_mfcc, melkwargs):
    x = _randn(shape, 5, dtype=torch.float32)
    ours = mfcc(x, rate, n_mfcc, **melkwargs)
    ref = torchaudio.transforms.MFCC(rate, n_mfcc, melkwargs=melkwargs)(x)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=2e-3)


# ---------------------------------------------------------------------------------------------
# Keypad tones and noise


def test_keypad_table():
    assert KEYPAD == ("123", "456", "789", "*0#")
    assert dtmf_frequencies(0) == (941.0, 1336.0)
    assert dtmf_frequencies(1) == (697.0, 1209.0)
    assert dtmf_frequencies(5) == (770.0, 1336.0)
    assert dtmf_frequencies(9) == (852.0, 1477.0)
    pairs = {dtmf_frequencies(d) for d in range(10)}
    assert len(pairs) == 10
    for d in range(10):
        row, col = dtmf_frequencies(d)
        assert KEYPAD[ROW_HZ.index(row)][COLUMN_HZ.index(col)] == str(d)


@pytest.mark.parametrize("digit", range(10))
def test_dtmf_tone_has_its_two_frequencies(digit):
    tone = dtmf(digit, sample_rate=8000, duration=0.1, amplitude=0.8)
    assert tone.shape == (800,) and tone.dtype == torch.float32
    assert tone.abs().max() <= 0.8 + 1e-6
    magnitude = torch.fft.rfft(tone.double()).abs()
    top = sorted((magnitude.topk(2).indices * 10.0).tolist())  # bins 10 Hz apart
    expected = dtmf_frequencies(digit)
    assert all(abs(a - b) <= 5 for a, b in zip(top, expected, strict=True))


def test_dtmf_noise_is_seeded_and_at_the_exact_snr():
    a = dtmf(3, snr_db=6.0, generator=torch.Generator().manual_seed(1))
    b = dtmf(3, snr_db=6.0, generator=torch.Generator().manual_seed(1))
    c = dtmf(3, snr_db=6.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    clean = dtmf(3)
    snr = 10 * torch.log10(clean.pow(2).sum() / (a - clean).pow(2).sum())
    assert abs(snr.item() - 6.0) < 1e-4


def test_add_noise_exact_snr_per_signal_and_broadcasting():
    x = _randn((4, 3, 500), 0, dtype=torch.float32)
    snr = torch.tensor([-20.0, 0.0, 35.0])
    noisy = add_noise(x, snr, torch.Generator().manual_seed(0))
    measured = 10 * torch.log10(x.pow(2).sum(-1) / (noisy - x).pow(2).sum(-1))
    torch.testing.assert_close(measured, snr.expand(4, 3), atol=1e-3, rtol=0)
    silent = torch.zeros(2, 100)
    # The ratio is relative to the signal: no signal, no noise.
    assert torch.equal(add_noise(silent, 0.0), silent)


def test_dtmf_batch_is_seeded_shaped_and_random_as_documented():
    digits = torch.arange(10).repeat(50)
    a = dtmf_batch(digits, num_samples=800, generator=torch.Generator().manual_seed(0))
    b = dtmf_batch(digits, num_samples=800, generator=torch.Generator().manual_seed(0))
    c = dtmf_batch(digits, num_samples=800, generator=torch.Generator().manual_seed(1))
    assert a.shape == (500, 800) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    # Tone length between num_samples // 2 and num_samples, silence elsewhere.
    lengths = (a != 0).sum(1)
    assert lengths.min() >= 400 - 2 and lengths.max() <= 800
    assert lengths.float().std() > 50  # lengths really vary
    # Amplitude a in [0.2, 1]: the peak of a/2 * (sin + sin) is at most a.
    peaks = a.abs().amax(1)
    assert peaks.max() <= 1.0 + 1e-5 and peaks.min() > 0.1
    # Every clip holds its digit's two frequencies.
    spectrum = torch.fft.rfft(a.double(), n=8000).abs()  # zero-padded: 1 Hz bins
    for clip, digit in zip(spectrum[:20], digits[:20], strict=True):
        row, col = dtmf_frequencies(int(digit))
        low, high = clip[600:1100].argmax() + 600, clip[1150:1550].argmax() + 1150
        assert abs(low - row) <= 3 and abs(high - col) <= 3


def test_dtmf_batch_snr_per_clip_and_min_samples():
    digits = torch.tensor([0, 1, 2, 3])
    snr = torch.tensor([20.0, 0.0, -10.0, -30.0])
    g = torch.Generator().manual_seed(4)
    clean = dtmf_batch(digits, snr_db=None, generator=torch.Generator().manual_seed(4))
    noisy = dtmf_batch(digits, snr_db=snr, generator=g)
    measured = 10 * torch.log10(clean.pow(2).sum(1) / (noisy - clean).pow(2).sum(1))
    torch.testing.assert_close(measured, snr, atol=1e-3, rtol=0)
    full = dtmf_batch(digits, num_samples=300, min_samples=300)
    assert (full != 0).float().mean() > 0.99  # the tone fills the clip
    assert dtmf_batch(torch.tensor([], dtype=torch.long)).shape == (0, 800)
    assert dtmf_batch([7, 7]).shape == (2, 800)


def test_pad_or_crop():
    x = torch.arange(1.0, 6.0)
    assert torch.equal(pad_or_crop(x, 3), torch.tensor([1.0, 2, 3]))
    assert torch.equal(pad_or_crop(x, 7), torch.tensor([1.0, 2, 3, 4, 5, 0, 0]))
    assert pad_or_crop(torch.zeros(2, 10), 4).shape == (2, 4)


# ---------------------------------------------------------------------------------------------
# torchaudio is a reference, never a dependency of the import


def test_import_does_not_load_torchaudio():
    code = (
        "import sys, mmcourse, mmcourse.audio, mmcourse.check; print('torchaudio' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------
# Clear errors


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: dtmf(10), ValueError, "digit.*int.*9.*got 10"),
        (lambda: dtmf(-1), ValueError, "digit.*int.*>= 0.*got -1"),
        (lambda: dtmf(3.0), TypeError, "digit.*int.*got float 3.0"),
        (lambda: dtmf("5"), TypeError, "digit.*int.*got str '5'"),
        (lambda: dtmf(True), TypeError, "digit.*int.*got bool True"),
        (lambda: dtmf(1, sample_rate=0), ValueError, "sample_rate.*> 0.*got 0"),
        (lambda: dtmf(1, sample_rate=-8000), ValueError, "sample_rate.*> 0.*got -8000"),
        (lambda: dtmf(1, sample_rate=2000), ValueError, "sample_rate 2000.*Nyquist.*1000 Hz"),
        (lambda: dtmf(1, duration=0), ValueError, "duration.*> 0.*got 0"),
        (lambda: dtmf_batch(torch.tensor([1, 12])), ValueError, "digits.*0 to 9.*got 12"),
        (lambda: dtmf_batch(torch.tensor([1.0, 2.0])), TypeError, "digits.*integer.*float32"),
        (
            lambda: dtmf_batch(torch.zeros(2, 2, dtype=torch.long)),
            ValueError,
            r"digits.*1-D.*\(2, 2\)",
        ),
        (
            lambda: dtmf_batch(torch.tensor([1]), sample_rate=0),
            ValueError,
            "sample_rate.*> 0.*got 0",
        ),
        (
            lambda: dtmf_batch(torch.tensor([1]), sample_rate=2500),
            ValueError,
            "sample_rate 2500.*too low.*1477",
        ),
        (
            lambda: dtmf_batch(torch.tensor([1]), num_samples=0),
            ValueError,
            "num_samples.*>= 1.*got 0",
        ),
        (
            lambda: dtmf_batch(torch.tensor([1]), num_samples=10, min_samples=20),
            ValueError,
            r"min_samples \(20\) exceeds num_samples \(10\)",
        ),
        (
            lambda: dtmf_batch(torch.tensor([1, 2]), snr_db=torch.zeros(3)),
            ValueError,
            r"snr_db.*\(2,\).*\(3,\)",
        ),
        (
            lambda: add_noise(torch.zeros(2, 5), torch.zeros(2, 2)),
            ValueError,
            r"snr_db.*broadcast.*\(2,\).*\(2, 2\)",
        ),
        (lambda: add_noise([0.0], 3.0), TypeError, r"waveform.*torch\.Tensor.*list"),
        (lambda: alias_frequency(100.0, 0), ValueError, "sample_rate.*> 0.*got 0"),
        (lambda: alias_frequency("100", 8000), TypeError, "frequency.*number.*str '100'"),
        (
            lambda: stft(torch.zeros(2, 2, 2, 100), 16),
            ValueError,
            r"waveform.*1-D or 2-D or 3-D.*4-D",
        ),
        (lambda: stft(torch.tensor(1.0), 16), ValueError, "waveform.*0-D"),
        (
            lambda: stft(torch.zeros(100, dtype=torch.long), 16),
            TypeError,
            "waveform.*floating.*int64",
        ),
        (lambda: stft(torch.zeros(100), 1), ValueError, "n_fft.*>= 2.*got 1"),
        (lambda: stft(torch.zeros(100), 16.0), TypeError, "n_fft.*int.*float 16.0"),
        (lambda: stft(torch.zeros(100), 16, hop_length=0), ValueError, "hop_length.*>= 1.*got 0"),
        (
            lambda: stft(torch.zeros(100), 16, win_length=20),
            ValueError,
            r"win_length \(20\) must be <= n_fft \(16\)",
        ),
        (lambda: stft(torch.zeros(100), 256), ValueError, "n_fft // 2 = 128.*got 100"),
        (lambda: frame(torch.zeros(10), 16, 4, center=False), ValueError, "10 samples.*n_fft = 16"),
        (
            lambda: spectrogram(torch.zeros(100), 16, power=0),
            ValueError,
            "power.*> 0.*got 0",
        ),
        (lambda: dft([1.0]), TypeError, r"x.*torch\.Tensor.*list"),
        (lambda: dft(torch.tensor(1.0)), ValueError, "x.*0-D"),
        (
            lambda: mel_filterbank(129, 0.0, 5000.0, 40, 8000),
            ValueError,
            "f_max = 5000.0 Hz.*sample_rate / 2 = 4000 Hz",
        ),
        (
            lambda: mel_filterbank(129, 0.0, 4000.0, 0, 8000),
            ValueError,
            "n_mels.*>= 1.*got 0",
        ),
        (
            lambda: mel_filterbank(129, 0.0, 4000.0, 40, 0),
            ValueError,
            "sample_rate.*> 0.*got 0",
        ),
        (
            lambda: mel_filterbank(129, 0.0, 4000.0, 40, -8000),
            ValueError,
            "sample_rate.*> 0.*got -8000",
        ),
        (lambda: mel_filterbank(1, 0.0, 4000.0, 40, 8000), ValueError, "n_freqs.*>= 2.*got 1"),
        (
            lambda: mel_filterbank(129, 3000.0, 2000.0, 4, 8000),
            ValueError,
            r"f_min \(3000.0 Hz\).*below f_max \(2000.0 Hz\)",
        ),
        (lambda: mel_filterbank(129, -1.0, 2000.0, 4, 8000), ValueError, "f_min.*>= 0.*got -1.0"),
        (lambda: mel_filterbank(129, "0", 2000.0, 4, 8000), TypeError, "f_min.*number.*str '0'"),
        (
            lambda: mel_filterbank(129, 0.0, 4000.0, 4, "8000"),
            TypeError,
            "sample_rate.*number.*str '8000'",
        ),
        (
            lambda: mel_spectrogram(torch.zeros(1000), 8000, n_fft=256, f_max=4001.0),
            ValueError,
            "f_max = 4001.0 Hz.*Nyquist.*4000 Hz",
        ),
        (lambda: mel_spectrogram(torch.zeros(1000), 0), ValueError, "sample_rate.*> 0.*got 0"),
        (
            lambda: mel_spectrogram(torch.zeros(1000), 8000, n_fft=0),
            ValueError,
            "n_fft.*>= 2.*got 0",
        ),
        (
            lambda: mel_spectrogram(torch.zeros(1000), 8000, n_mels=0),
            ValueError,
            "n_mels.*>= 1.*got 0",
        ),
        (lambda: mel_spectrogram(torch.zeros(1, 1, 1, 1000), 8000), ValueError, "waveform.*4-D"),
        (
            lambda: amplitude_to_db(torch.ones(3), "energy"),
            ValueError,
            "stype.*'power', 'magnitude'.*'energy'",
        ),
        (lambda: amplitude_to_db(torch.ones(3), top_db=-1.0), ValueError, "top_db.*>= 0.*got -1.0"),
        (lambda: amplitude_to_db([1.0]), TypeError, r"x.*torch\.Tensor.*list"),
        (lambda: dct_matrix(41, 40), ValueError, r"n_mfcc \(41\).*n_mels \(40\)"),
        (lambda: hz_to_mel("440"), TypeError, "frequency.*number.*str '440'"),
        (lambda: mel_to_hz(None), TypeError, "mel.*number.*NoneType None"),
        (lambda: hann_window(0), ValueError, "window_length.*>= 1.*got 0"),
        (lambda: pad_or_crop(torch.zeros(5), 0), ValueError, "num_samples.*>= 1.*got 0"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()
