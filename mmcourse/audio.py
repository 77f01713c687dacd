"""Audio from first principles: sampling, spectrograms, mel features and the keypad tones.

A sound recording is a sequence of samples ``x[n] = x(n / sample_rate)``. Everything here works
on the last axis of a waveform tensor, ``(L,)``, ``(N, L)`` or ``(N, C, L)``:

* ``alias_frequency``: where a sampled tone shows up, ``|f - f_s * round(f / f_s)|``;
* ``dft``: the discrete Fourier transform as a matrix, ``X[k] = sum_n x[n] e^{-2 pi i k n / N}``;
* ``hann_window``, ``frame``, ``stft``, ``spectrogram``: the short-time Fourier transform exactly as
  ``torch.stft`` / ``torchaudio.transforms.Spectrogram`` compute it (centered frames, reflect
  padding, a periodic Hann window);
* ``hz_to_mel``, ``mel_to_hz``, ``mel_filterbank``, ``mel_spectrogram``, ``amplitude_to_db``,
  ``dct_matrix``, ``mfcc``: mel features, equal to their ``torchaudio`` counterparts;
* ``dtmf``, ``dtmf_batch``, ``add_noise``: telephone keypad tones (DTMF, ITU-T Rec. Q.23) with
  white Gaussian noise at an exact signal-to-noise ratio. They live here, not in
  ``mmcourse.data``, because they are the signal the chapter analyses: their two frequencies are
  what the spectra show and what a decoder listens for.

The network that turns waveforms into features, ``AudioEncoder``, is in ``mmcourse.encoders``.
torchaudio is never imported here: it is the reference the tests and the chapter compare with.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import Tensor

from mmcourse.validate import check_choice, check_int, check_number, check_tensor, describe

__all__ = [
    "COLUMN_HZ",
    "KEYPAD",
    "ROW_HZ",
    "add_noise",
    "alias_frequency",
    "amplitude_to_db",
    "dct_matrix",
    "dft",
    "dtmf",
    "dtmf_batch",
    "dtmf_frequencies",
    "frame",
    "hann_window",
    "hz_to_mel",
    "mel_filterbank",
    "mel_spectrogram",
    "mel_to_hz",
    "mfcc",
    "pad_or_crop",
    "spectrogram",
    "stft",
]

# ---------------------------------------------------------------------------------------------
# Telephone keypad tones (ITU-T Rec. Q.23): a key sounds its row's and its column's frequency.

ROW_HZ: tuple[float, ...] = (697.0, 770.0, 852.0, 941.0)
"""The low-group (row) frequencies of the keypad, top row first."""
COLUMN_HZ: tuple[float, ...] = (1209.0, 1336.0, 1477.0)
"""The high-group (column) frequencies of the keypad, left column first."""
KEYPAD: tuple[str, ...] = ("123", "456", "789", "*0#")
"""The keypad layout, one string per row: ``KEYPAD[row][column]`` is the key."""

# Row and column index of every digit 0..9 on the keypad.
_DIGIT_ROW = [next(r for r, keys in enumerate(KEYPAD) if str(d) in keys) for d in range(10)]
_DIGIT_COLUMN = [KEYPAD[_DIGIT_ROW[d]].index(str(d)) for d in range(10)]


def dtmf_frequencies(digit: int) -> tuple[float, float]:
    """The two frequencies in Hz, ``(row, column)``, that the keypad key ``digit`` sounds.

    The keypad is ``1 2 3 / 4 5 6 / 7 8 9 / * 0 #``; rows sound 697, 770, 852, 941 Hz and columns
    1209, 1336, 1477 Hz. For example ``dtmf_frequencies(0) == (941.0, 1336.0)``.
    """
    digit = check_int(digit, "digit", 0, 9)
    return ROW_HZ[_DIGIT_ROW[digit]], COLUMN_HZ[_DIGIT_COLUMN[digit]]


def _check_waveform(waveform: Any, name: str = "waveform") -> Tensor:
    """A floating-point waveform with time last: ``(L,)``, ``(N, L)`` or ``(N, C, L)``."""
    return check_tensor(waveform, name, (1, 2, 3), floating=True)


def add_noise(
    waveform: Tensor, snr_db: float | Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """``waveform`` plus white Gaussian noise at exactly ``snr_db`` decibels.

    ``snr_db = 10 log10(P_signal / P_noise)`` where ``P = mean(x**2)`` over the last (time) axis.
    Standard normal noise is drawn from ``generator`` (the global generator if ``None``) and
    rescaled, per signal, so that its *measured* power is exactly ``P_signal / 10**(snr_db/10)``.
    ``snr_db`` is a number or a tensor that broadcasts to ``waveform.shape[:-1]`` (one SNR per
    signal). A silent signal gets no noise: the ratio is relative to the signal's power.
    """
    waveform = _check_waveform(waveform)
    snr = torch.as_tensor(snr_db, dtype=waveform.dtype, device=waveform.device)
    if snr.dim() > waveform.dim() - 1:
        raise ValueError(
            f"snr_db must be a number or broadcast to {tuple(waveform.shape[:-1])} "
            f"(one per signal), got shape {tuple(snr.shape)}"
        )
    if torch.isnan(snr).any():
        raise ValueError(f"snr_db must be numbers, not NaN, got {describe(snr_db)}")
    source = generator.device if generator is not None else waveform.device
    noise = torch.randn(waveform.shape, generator=generator, dtype=waveform.dtype, device=source)
    noise = noise.to(waveform.device)
    signal_power = waveform.pow(2).mean(-1, keepdim=True)
    noise_power = noise.pow(2).mean(-1, keepdim=True)
    target_power = signal_power / 10.0 ** (snr.unsqueeze(-1) / 10.0)
    return waveform + noise * torch.sqrt(target_power / noise_power)


def dtmf(
    digit: int,
    sample_rate: int = 8000,
    duration: float = 0.1,
    amplitude: float = 1.0,
    snr_db: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The keypad tone of ``digit``: a 1-D float32 tensor of ``round(duration * sample_rate)``.

    ``x[n] = amplitude/2 * (sin(2 pi f_row n / sample_rate) + sin(2 pi f_col n / sample_rate))``
    with ``(f_row, f_col) = dtmf_frequencies(digit)``, so ``|x| <= amplitude``. Nothing about
    the tone is random; with ``snr_db`` white Gaussian noise from ``generator`` is added at
    exactly that signal-to-noise ratio (``add_noise``). ``dtmf_batch`` draws random tones.
    """
    f_row, f_col = dtmf_frequencies(digit)
    rate = check_number(sample_rate, "sample_rate", positive=True)
    duration = check_number(duration, "duration", positive=True)
    if max(f_row, f_col) >= rate / 2:
        raise ValueError(
            f"sample_rate {sample_rate} Hz cannot represent the {f_col:g} Hz tone of digit "
            f"{digit}: its Nyquist frequency {rate / 2:g} Hz must be above {f_col:g} Hz"
        )
    n = torch.arange(max(1, round(duration * rate)), dtype=torch.float64)
    tone = torch.sin(2 * math.pi * f_row * n / rate) + torch.sin(2 * math.pi * f_col * n / rate)
    tone = (amplitude / 2 * tone).float()
    return tone if snr_db is None else add_noise(tone, snr_db, generator)


def dtmf_batch(
    digits: Tensor,
    sample_rate: int = 8000,
    num_samples: int = 800,
    snr_db: float | Tensor | None = None,
    generator: torch.Generator | None = None,
    min_samples: int | None = None,
) -> Tensor:
    """Random keypad tones for a batch of digits: ``(N,)`` ints in 0..9 -> ``(N, num_samples)``.

    Each clip holds one tone ``a/2 * (sin(2 pi f_row t/sr + phi_row) + sin(2 pi f_col t/sr +
    phi_col))``, ``t`` counted from the tone's onset, with silence before and after. What is
    random, drawn from ``generator`` (the global generator if ``None``) in one call, so a seeded
    generator gives the same batch on every machine:

    * the tone's length, uniform in ``min_samples..num_samples`` samples (default
      ``num_samples // 2``), and its onset, uniform among the positions where it fits;
    * its amplitude ``a``, uniform in ``[0.2, 1]``;
    * the two phases, uniform in ``[0, 2 pi)``;
    * with ``snr_db`` (a number, or a tensor of one SNR per clip), white Gaussian noise at exactly
      that ratio to the clip's power (``add_noise``); ``None`` gives clean tones.

    float32; vectorized, so thousands of tones take milliseconds.
    """
    if not isinstance(digits, Tensor):
        digits = torch.as_tensor(digits)
    check_tensor(digits, "digits", 1, floating=False)
    if digits.numel() and (digits.min() < 0 or digits.max() > 9):
        bad = digits[(digits < 0) | (digits > 9)][0].item()
        raise ValueError(f"digits must be ints from 0 to 9, got {bad}")
    rate = check_number(sample_rate, "sample_rate", positive=True)
    if rate / 2 <= max(COLUMN_HZ):
        raise ValueError(
            f"sample_rate {sample_rate} Hz is too low for keypad tones: its Nyquist frequency "
            f"{rate / 2:g} Hz must be above the highest tone, {max(COLUMN_HZ):g} Hz"
        )
    num_samples = check_int(num_samples, "num_samples", 1)
    min_samples = num_samples // 2 if min_samples is None else min_samples
    min_samples = check_int(min_samples, "min_samples", 1)
    if min_samples > num_samples:
        raise ValueError(f"min_samples ({min_samples}) exceeds num_samples ({num_samples})")

    n = digits.shape[0]
    device = digits.device
    source = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(n, 5, generator=generator, dtype=torch.float64, device=source).to(device)
    length = min_samples + torch.floor(u[:, 0] * (num_samples - min_samples + 1))
    start = torch.floor(u[:, 1] * (num_samples - length + 1))
    amplitude = 0.2 + 0.8 * u[:, 2]
    phases = 2 * math.pi * u[:, 3:5]
    rows = torch.tensor(ROW_HZ, device=device)
    columns = torch.tensor(COLUMN_HZ, device=device)
    row_of = torch.tensor(_DIGIT_ROW, device=device)[digits.long()]
    column_of = torch.tensor(_DIGIT_COLUMN, device=device)[digits.long()]
    # Radians per sample of each tone; float32 keeps this fast (angles stay below ~1e4 rad for
    # clips of a few seconds, where float32 rounding costs well under a milliradian).
    w_row = (2 * math.pi / rate * rows[row_of])[:, None]
    w_col = (2 * math.pi / rate * columns[column_of])[:, None]
    t = torch.arange(num_samples, device=device)[None, :] - start.float()[:, None]  # (N, L)
    inside = (t >= 0) & (t < length.float()[:, None])
    tone = torch.sin(w_row * t + phases[:, :1].float()) + torch.sin(
        w_col * t + phases[:, 1:].float()
    )
    clips = torch.where(inside, tone * (amplitude.float()[:, None] / 2), 0.0)
    if snr_db is None:
        return clips
    snr = torch.as_tensor(snr_db, dtype=torch.float32)
    if snr.dim() > 1 or (snr.dim() == 1 and snr.shape[0] != n):
        raise ValueError(
            f"snr_db must be a number or a tensor of shape ({n},), one per clip, "
            f"got shape {tuple(snr.shape)}"
        )
    return add_noise(clips, snr.to(device), generator)


def pad_or_crop(waveform: Tensor, num_samples: int) -> Tensor:
    """``waveform`` cut or zero-padded at the end of its last axis to exactly ``num_samples``."""
    waveform = _check_waveform(waveform)
    num_samples = check_int(num_samples, "num_samples", 1)
    length = waveform.shape[-1]
    if length >= num_samples:
        return waveform[..., :num_samples]
    return torch.nn.functional.pad(waveform, (0, num_samples - length))


# ---------------------------------------------------------------------------------------------
# Sampling and the Fourier transform


def alias_frequency(frequency: float, sample_rate: float) -> float:
    """The frequency in ``[0, sample_rate/2]`` at which a sampled tone of ``frequency`` appears.

    Sampling cannot tell ``f`` from ``f + k * sample_rate`` (any integer ``k``) nor from ``-f``,
    so the spectrum shows ``|f - sample_rate * round(f / sample_rate)|``: wrap to the nearest
    multiple of the sample rate, then fold negative frequencies back.
    """
    rate = check_number(sample_rate, "sample_rate", positive=True)
    frequency = check_number(frequency, "frequency")
    return abs(frequency - rate * math.floor(frequency / rate + 0.5))


def dft(x: Tensor) -> Tensor:
    """The discrete Fourier transform of the last axis, as one matrix product (``torch.fft.fft``).

    ``X[k] = sum_{n=0}^{N-1} x[n] exp(-2 pi i k n / N)`` for ``k = 0..N-1``. Bin ``k`` is the
    frequency ``k * sample_rate / N``; for a real ``x``, ``X[N - k]`` is the conjugate of ``X[k]``.
    ``O(N^2)``: for teaching; the FFT computes the same in ``O(N log N)``.
    """
    check_tensor(x, "x")
    if x.dim() == 0:
        raise ValueError("x must have a last (time) axis, got a 0-D tensor")
    length = x.shape[-1]
    complex_dtype = torch.complex128 if x.dtype in (torch.float64, torch.complex128) else None
    complex_dtype = complex_dtype or torch.complex64
    k = torch.arange(length, dtype=torch.float64, device=x.device)
    # (k * n) mod N keeps the angles small, so float64 rounding stays tiny for long signals.
    angles = -2 * math.pi * torch.remainder(torch.outer(k, k), length) / length
    matrix = torch.polar(torch.ones_like(angles), angles).to(complex_dtype)  # (N, N)
    return x.to(complex_dtype) @ matrix.T


def hann_window(
    window_length: int,
    periodic: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """The Hann window, as ``torch.hann_window``: ``w[n] = 0.5 - 0.5 cos(2 pi n / M)``.

    ``M = window_length`` for the periodic window (the default, used for spectra: it is one
    period of a raised cosine) and ``window_length - 1`` for the symmetric one.
    """
    window_length = check_int(window_length, "window_length", 1)
    if window_length == 1:
        return torch.ones(1, dtype=dtype, device=device)
    m = window_length if periodic else window_length - 1
    n = torch.arange(window_length, dtype=torch.float64, device=device)
    window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / m)
    return window.to(dtype or torch.get_default_dtype())


def _reflect_pad(x: Tensor, pad: int) -> Tensor:
    """Mirror ``pad`` samples at each end of the last axis, without repeating the edge sample.

    ``[a b c d]`` padded by 2 is ``[c b a b c d c b]``, as ``F.pad(..., mode="reflect")``.
    """
    length = x.shape[-1]
    index = torch.cat(
        [
            torch.arange(pad, 0, -1),  # pad .. 1
            torch.arange(length),  # 0 .. L-1
            torch.arange(length - 2, length - 2 - pad, -1),  # L-2 .. L-1-pad
        ]
    ).to(x.device)
    return x[..., index]


def _stft_args(
    waveform: Any, n_fft: int, hop_length: int | None, win_length: int | None, center: bool
) -> tuple[Tensor, int, int]:
    waveform = _check_waveform(waveform)
    n_fft = check_int(n_fft, "n_fft", 2)
    win_length = n_fft if win_length is None else check_int(win_length, "win_length", 1)
    if win_length > n_fft:
        raise ValueError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
    hop_length = win_length // 2 if hop_length is None else hop_length
    hop_length = check_int(hop_length, "hop_length", 1)
    length = waveform.shape[-1]
    if center and n_fft // 2 >= length:
        raise ValueError(
            f"centered frames reflect-pad n_fft // 2 = {n_fft // 2} samples at each end, which "
            f"needs a waveform longer than {n_fft // 2} samples; got {length} "
            f"(shape {tuple(waveform.shape)})"
        )
    if not center and length < n_fft:
        raise ValueError(f"the waveform has {length} samples, fewer than n_fft = {n_fft}")
    return waveform, hop_length, win_length


def frame(waveform: Tensor, n_fft: int, hop_length: int, center: bool = True) -> Tensor:
    """Cut the last axis into frames of ``n_fft`` samples every ``hop_length`` samples.

    With ``center=True`` the waveform is first reflect-padded by ``n_fft // 2`` at both ends, so
    that frame ``t`` is centered on sample ``t * hop_length``. ``(..., L) -> (..., T, n_fft)``
    with ``T = 1 + (L + 2*(n_fft//2) - n_fft) // hop_length`` (``1 + (L - n_fft) // hop`` without
    centering).
    """
    waveform, hop_length, _ = _stft_args(waveform, n_fft, hop_length, None, center)
    if center:
        waveform = _reflect_pad(waveform, n_fft // 2)
    return waveform.unfold(-1, n_fft, hop_length)


def stft(
    waveform: Tensor,
    n_fft: int = 400,
    hop_length: int | None = None,
    win_length: int | None = None,
    center: bool = True,
) -> Tensor:
    """Short-time Fourier transform with a Hann window, as ``torch.stft(..., return_complex=True)``.

    ``S[f, t] = sum_{n=0}^{n_fft-1} w[n] x_pad[t*hop + n] exp(-2 pi i f n / n_fft)`` for
    ``f = 0..n_fft//2`` (a real signal's other bins are conjugates). ``w`` is the periodic Hann
    window of ``win_length`` samples (default ``n_fft``), zero-padded to ``n_fft`` in the middle;
    ``x_pad`` is the waveform reflect-padded by ``n_fft // 2`` when ``center``. The default hop is
    ``win_length // 2`` as in torchaudio (``torch.stft``'s own default is ``n_fft // 4``).
    ``(..., L) -> (..., n_fft//2 + 1, T)`` complex.
    """
    waveform, hop_length, win_length = _stft_args(waveform, n_fft, hop_length, win_length, center)
    window = hann_window(win_length, dtype=waveform.dtype, device=waveform.device)
    left = (n_fft - win_length) // 2
    window = torch.nn.functional.pad(window, (left, n_fft - win_length - left))
    frames = frame(waveform, n_fft, hop_length, center) * window  # (..., T, n_fft)
    return torch.fft.rfft(frames, dim=-1).transpose(-1, -2)


def spectrogram(
    waveform: Tensor,
    n_fft: int = 400,
    hop_length: int | None = None,
    win_length: int | None = None,
    power: float = 2.0,
) -> Tensor:
    """``|stft(waveform)| ** power``: ``(..., L) -> (..., n_fft//2 + 1, T)``.

    Equal to ``torchaudio.transforms.Spectrogram(n_fft, win_length, hop_length, power=power)``
    (centered frames, reflect padding, periodic Hann window). ``power=2`` gives energy.
    """
    power = check_number(power, "power", positive=True)
    spectrum = stft(waveform, n_fft, hop_length, win_length)
    if power == 2:  # |z|^2 = re^2 + im^2, cheaper than abs() then squaring
        return torch.view_as_real(spectrum).pow(2).sum(-1)
    return spectrum.abs().pow(power)


# ---------------------------------------------------------------------------------------------
# The mel scale and mel features


def hz_to_mel(frequency: float | Tensor) -> float | Tensor:
    """Hertz to mel on the HTK scale: ``mel = 2595 log10(1 + f / 700)``.

    A float gives a float, a tensor a tensor. 1000 Hz is about 1000 mel; above that, equal steps
    in mel are ever wider steps in Hz, as pitch perception is.
    """
    if isinstance(frequency, Tensor):
        return 2595.0 * torch.log10(1.0 + frequency / 700.0)
    frequency = check_number(frequency, "frequency")
    return 2595.0 * math.log10(1.0 + frequency / 700.0)


def mel_to_hz(mel: float | Tensor) -> float | Tensor:
    """Mel to hertz on the HTK scale, the inverse of ``hz_to_mel``: ``700 (10^(mel/2595) - 1)``."""
    if isinstance(mel, Tensor):
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    mel = check_number(mel, "mel")
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(
    n_freqs: int,
    f_min: float,
    f_max: float,
    n_mels: int,
    sample_rate: int,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Triangular mel filters, ``(n_freqs, n_mels)``: ``spectrum @ filterbank`` gives mel bands.

    ``n_mels + 2`` edges are equally spaced in mel from ``hz_to_mel(f_min)`` to
    ``hz_to_mel(f_max)``; filter ``m`` rises linearly from 0 at edge ``m`` to 1 at edge
    ``m + 1`` and falls back to 0 at edge ``m + 2`` (all in Hz). The ``n_freqs`` spectrum bins are
    taken at ``linspace(0, sample_rate // 2, n_freqs)``, torchaudio's convention (exact for an even
    ``n_fft``). Equal to ``torchaudio.functional.melscale_fbanks(n_freqs, f_min, f_max, n_mels,
    sample_rate, norm=None, mel_scale="htk")``.
    """
    rate = check_number(sample_rate, "sample_rate", positive=True)
    n_freqs = check_int(n_freqs, "n_freqs", 2)
    n_mels = check_int(n_mels, "n_mels", 1)
    f_min = check_number(f_min, "f_min", 0.0)
    f_max = check_number(f_max, "f_max")
    if f_max > rate / 2:
        raise ValueError(
            f"f_max = {f_max} Hz is above the Nyquist frequency sample_rate / 2 = {rate / 2:g} Hz: "
            "a sampled signal has no content there"
        )
    if f_min >= f_max:
        raise ValueError(f"f_min ({f_min} Hz) must be below f_max ({f_max} Hz)")
    bins = torch.linspace(0, sample_rate // 2, n_freqs, dtype=dtype)  # (n_freqs,)
    edges_mel = torch.linspace(
        hz_to_mel(float(f_min)), hz_to_mel(float(f_max)), n_mels + 2, dtype=dtype
    )
    edges = mel_to_hz(edges_mel)  # (n_mels + 2,) in Hz
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - lower) / (center - lower)  # (n_freqs, n_mels)
    falling = (upper - bins[:, None]) / (upper - center)
    filterbank = torch.minimum(rising, falling).clamp(min=0)
    if (filterbank.max(dim=0).values == 0).any():
        warnings.warn(
            f"some of the {n_mels} mel filters cover no spectrum bin (all zero): n_mels is too "
            f"large for n_freqs = {n_freqs}",
            stacklevel=2,
        )
    return filterbank


def mel_spectrogram(
    waveform: Tensor,
    sample_rate: int,
    n_fft: int = 400,
    hop_length: int | None = None,
    win_length: int | None = None,
    n_mels: int = 128,
    f_min: float = 0.0,
    f_max: float | None = None,
    power: float = 2.0,
) -> Tensor:
    """Mel spectrogram: ``(..., L) -> (..., n_mels, T)``, ``mel[m, t] = sum_f fb[f, m] P[f, t]``.

    ``P = spectrogram(waveform, n_fft, hop_length, win_length, power)`` and ``fb`` the triangular
    ``mel_filterbank`` from ``f_min`` to ``f_max`` (default ``sample_rate // 2``). Equal to
    ``torchaudio.transforms.MelSpectrogram`` with the same arguments. ``f_max`` above the Nyquist
    frequency is an error here (torchaudio silently builds filters that see nothing).
    """
    rate = check_number(sample_rate, "sample_rate", positive=True)
    f_max = float(sample_rate // 2) if f_max is None else check_number(f_max, "f_max")
    n_mels = check_int(n_mels, "n_mels", 1)
    if f_max > rate / 2:
        raise ValueError(
            f"f_max = {f_max} Hz is above the Nyquist frequency sample_rate / 2 = {rate / 2:g} Hz"
        )
    power_spectrum = spectrogram(waveform, n_fft, hop_length, win_length, power)
    filterbank = mel_filterbank(n_fft // 2 + 1, f_min, f_max, n_mels, sample_rate)
    filterbank = filterbank.to(dtype=power_spectrum.dtype, device=power_spectrum.device)
    return (power_spectrum.transpose(-1, -2) @ filterbank).transpose(-1, -2)


def amplitude_to_db(
    x: Tensor, stype: str = "power", top_db: float | None = None, amin: float = 1e-10
) -> Tensor:
    """Decibels, as ``torchaudio.transforms.AmplitudeToDB(stype, top_db)``.

    ``10 log10(max(x, amin))`` for a power spectrogram (``stype="power"``), ``20 log10(...)`` for
    a magnitude one (``stype="magnitude"``), relative to 1. With ``top_db``, values more than
    ``top_db`` below the maximum are raised to ``max - top_db``, and *which* maximum follows
    torchaudio: for a tensor of up to 3 dimensions (``(F, T)`` or ``(C, F, T)``) it is one
    maximum over the whole tensor (so for an ``(N, F, T)`` batch, every spectrogram is cut
    relative to the loudest one in the batch); for 4 or more dimensions ``(..., C, F, T)`` it is
    one maximum per leading index, over its last three axes.
    """
    check_tensor(x, "x")
    check_choice(stype, "stype", ("power", "magnitude"))
    if top_db is not None:
        top_db = check_number(top_db, "top_db", 0.0)
    multiplier = 10.0 if stype == "power" else 20.0
    db = multiplier * torch.log10(torch.clamp(x, min=amin))
    if top_db is None:
        return db
    if db.dim() <= 3:
        return torch.maximum(db, db.amax() - top_db)
    floor = db.amax(dim=(-3, -2, -1), keepdim=True) - top_db  # one per leading index
    return torch.maximum(db, floor)


def dct_matrix(n_mfcc: int, n_mels: int) -> Tensor:
    """Orthonormal DCT-II as an ``(n_mels, n_mfcc)`` matrix: ``coefficients = x @ dct_matrix``.

    ``D[m, k] = sqrt(2 / n_mels) cos(pi / n_mels * (m + 1/2) * k)``, with column ``k = 0``
    divided by ``sqrt(2)``. Equal to ``torchaudio.functional.create_dct(n_mfcc, n_mels, "ortho")``.
    """
    n_mfcc = check_int(n_mfcc, "n_mfcc", 1)
    n_mels = check_int(n_mels, "n_mels", 1)
    if n_mfcc > n_mels:
        raise ValueError(f"n_mfcc ({n_mfcc}) cannot exceed n_mels ({n_mels})")
    m = torch.arange(n_mels, dtype=torch.float64)[:, None]
    k = torch.arange(n_mfcc, dtype=torch.float64)[None, :]
    matrix = math.sqrt(2.0 / n_mels) * torch.cos(math.pi / n_mels * (m + 0.5) * k)
    matrix[:, 0] /= math.sqrt(2.0)
    return matrix.float()


def mfcc(
    waveform: Tensor,
    sample_rate: int,
    n_mfcc: int = 40,
    n_fft: int = 400,
    hop_length: int | None = None,
    win_length: int | None = None,
    n_mels: int = 128,
    f_min: float = 0.0,
    f_max: float | None = None,
    top_db: float | None = 80.0,
) -> Tensor:
    """Mel-frequency cepstral coefficients: ``(..., L) -> (..., n_mfcc, T)``.

    The DCT of the log-mel spectrum of each frame:
    ``mfcc[k, t] = sum_m dct_matrix[m, k] * amplitude_to_db(mel, top_db=top_db)[m, t]``. Equal to
    ``torchaudio.transforms.MFCC(sample_rate, n_mfcc, melkwargs=...)`` (which uses ``top_db=80``
    with the batch semantics of ``amplitude_to_db``).
    """
    mel = mel_spectrogram(
        waveform, sample_rate, n_fft, hop_length, win_length, n_mels, f_min, f_max
    )
    log_mel = amplitude_to_db(mel, "power", top_db)
    dct = dct_matrix(n_mfcc, n_mels).to(dtype=log_mel.dtype, device=log_mel.device)
    return (log_mel.transpose(-1, -2) @ dct).transpose(-1, -2)
