"""The FFT-domain resample + zero-phase filter, against its definition and scipy's time-domain pipeline."""

from fractions import Fraction

import numpy as np
import pytest
from scipy import signal as sps

from domains.eeg.io import preprocess

BAND, NOTCH = (0.5, 45.0), (50.0, 60.0)


def _band_limited_noise(c, seconds, fs, lo=0.1, hi=40.0, seed=0):
    """Noise with content only in [lo, hi] Hz (no energy where anti-alias filters differ), plus a DC offset."""
    t = int(round(seconds * fs))
    rng = np.random.default_rng(seed)
    spec = rng.normal(size=(c, t // 2 + 1)) + 1j * rng.normal(size=(c, t // 2 + 1))
    f = np.fft.rfftfreq(t, 1 / fs)
    spec[:, (f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, t, axis=1)
    return (x / x.std() * 30.0 + 40.0).astype(np.float32)  # ~30 uV with a 40 uV offset


def _reference(x, fs_in, fs, band):
    """resample_poly + sosfiltfilt in float64, padded generously: the time-domain pipeline."""
    r = Fraction(fs / fs_in).limit_denominator(1000)
    y = sps.resample_poly(x.astype(np.float64), r.numerator, r.denominator, axis=1)
    sos = sps.butter(4, band, btype="bandpass", fs=fs, output="sos")
    return sps.sosfiltfilt(sos, y, axis=1, padlen=min(y.shape[1] - 1, int(10 * fs)))


@pytest.mark.parametrize("fs_in", [500.0, 160.0, 256.0, 100.0, 173.61])
def test_matches_the_time_domain_pipeline_away_from_the_edges(fs_in):
    x = _band_limited_noise(3, 40, fs_in, seed=int(fs_in))
    y, ref = preprocess(x, fs_in, 128.0, BAND, NOTCH), _reference(x, fs_in, 128.0, BAND)
    assert y.dtype == np.float32 and y.shape == ref.shape
    inner = slice(4 * 128, -4 * 128)
    err = np.sqrt(np.mean((y[:, inner] - ref[:, inner]) ** 2) / np.mean(ref[:, inner] ** 2))
    assert err < 0.01, err


@pytest.mark.parametrize("freq", [0.3, 0.5, 1.0, 10.0, 40.0])
def test_gain_is_the_filtfilt_magnitude_and_phase_is_zero(freq):
    fs_in, fs = 500.0, 128.0
    t = np.arange(int(40 * fs_in)) / fs_in
    y = preprocess(np.sin(2 * np.pi * freq * t + 0.3)[None].astype(np.float32), fs_in, fs, BAND, ())[0]
    tt = np.arange(len(y)) / fs  # sample k is at k / fs
    mid = slice(int(10 * fs), int(30 * fs))
    basis = np.stack([np.sin(2 * np.pi * freq * tt[mid] + 0.3), np.cos(2 * np.pi * freq * tt[mid] + 0.3)], 1)
    (in_phase, quadrature), *_ = np.linalg.lstsq(basis, y[mid], rcond=None)
    sos = sps.butter(4, BAND, btype="bandpass", fs=fs, output="sos")
    want = float(np.abs(sps.sosfreqz(sos, worN=[freq], fs=fs)[1][0]) ** 2)
    assert abs(in_phase - want) < 1e-3 and abs(quadrature) < 1e-3


def test_stop_band_above_nyquist_and_notch_inside_the_band():
    fs_in, t = 500.0, np.arange(int(20 * 500)) / 500.0
    x = np.stack([np.sin(2 * np.pi * f * t) for f in (70.0, 200.0)]).astype(np.float32)
    y = preprocess(x, fs_in, 128.0, BAND, NOTCH)  # 70 Hz beyond the band, 200 Hz beyond the new Nyquist
    assert np.abs(y[:, 512:-512]).max() < 0.01
    line = np.sin(2 * np.pi * 50.0 * t).astype(np.float32)[None]
    kept = preprocess(line, fs_in, 250.0, (0.5, 100.0), ())
    notched = preprocess(line, fs_in, 250.0, (0.5, 100.0), NOTCH)  # 50 Hz inside the band: the notch takes it
    assert np.abs(kept[:, 1000:-1000]).min() > -1.01 and np.abs(kept).max() > 0.95
    assert np.abs(notched[:, 1000:-1000]).max() < 0.01


def test_edges_of_an_offset_and_a_drift_are_closer_to_the_truth_than_filtfilt():
    """The truth is the middle of a signal three times as long; a 0.5 Hz high-pass rings at the edges."""
    fs_in, fs = 500.0, 128.0
    t = np.arange(int(90 * fs_in)) / fs_in
    long = (_band_limited_noise(2, 90, fs_in) + 500.0 + 40.0 * t).astype(np.float32)  # offset + drift
    truth = _reference(long, fs_in, fs, BAND)[:, int(30 * fs) : int(60 * fs)]
    x = long[:, int(30 * fs_in) : int(60 * fs_in)]
    y, filtfilt = preprocess(x, fs_in, fs, BAND, ()), _reference(x, fs_in, fs, BAND)
    scale = np.sqrt(np.mean(truth**2))

    def err(z, cut):
        return np.sqrt(np.mean((z[:, cut] - truth[:, cut]) ** 2)) / scale

    for first_second in (slice(0, 128), slice(-128, None)):
        assert err(y, first_second) < 0.7 and err(y, first_second) < 0.5 * err(filtfilt, first_second)
    assert err(y, slice(3 * 128, -3 * 128)) < 0.01


def test_no_filter_keeps_offset_and_same_rate_is_identity():
    x = _band_limited_noise(2, 20, 200.0)
    assert np.array_equal(preprocess(x, 200.0, 200.0, None, ()), x)
    y = preprocess(x, 200.0, 100.0, None, ())
    assert y.shape == (2, 2000) and abs(float(y.mean() - x.mean())) < 0.5


@pytest.mark.parametrize("n", [129, 500, 1001])
def test_output_length_matches_resample_poly(n):
    x = _band_limited_noise(1, n / 250.0, 250.0, seed=n)
    assert preprocess(x, 250.0, 128.0, BAND, NOTCH).shape == (1, -(-n * 64 // 125))


@pytest.mark.parametrize(
    ("n", "fs", "band", "notch"),
    [(8640, 128.0, (0.5, 45.0), (50.0, 60.0)), (5001, 250.0, (0.5, 100.0), (50.0, 60.0)), (4000, 128.0, None, (50.0,))],
)
def test_gain_in_real_arithmetic_equals_scipy_frequency_responses(n, fs, band, notch):
    from domains.eeg.io import _zero_phase_gain

    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    want = np.ones(len(freqs))
    if band is not None:
        want *= (
            np.abs(sps.sosfreqz(sps.butter(4, band, btype="bandpass", fs=fs, output="sos"), worN=freqs, fs=fs)[1]) ** 2
        )
    else:
        want *= 0.5 + 0.5 * np.cos(np.pi * np.clip((freqs / (fs / 2) - 0.9) / 0.1, 0.0, 1.0))
    for f0 in notch:
        if f0 < fs / 2 and (band is None or f0 < band[1] + 5):  # notches inside (or just above) the band only
            b, a = sps.iirnotch(f0, Q=30.0, fs=fs)
            want *= np.abs(sps.freqz(b, a, worN=freqs, fs=fs)[1]) ** 2
    if n % 2 == 0:
        want[-1] = 0.0
    got = _zero_phase_gain(n, fs, band, notch)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert np.abs(got - want).max() < 1e-6
    if band == (0.5, 100.0):  # the 50 and 60 Hz notches lie inside this band and take their bins to ~0
        assert got[np.argmin(np.abs(freqs - 50.0))] < 1e-3 and got[np.argmin(np.abs(freqs - 60.0))] < 1e-3


@pytest.mark.parametrize(
    ("t", "fs_in", "fs"),
    [(31000, 500.0, 128.0), (91000, 500.0, 128.0), (20000, 160.0, 128.0), (7777, 256.0, 128.0),
     (4096, 128.0, 128.0), (12345, 173.61, 128.0), (59820, 997.0, 128.0), (5000, 100.0, 128.0)],
)  # fmt: skip
def test_fft_lengths_are_the_smallest_fast_ones_that_hold_signal_and_padding(t, fs_in, fs):
    from domains.eeg.io import _fft_plan, _seven_smooth

    plan = _fft_plan(t, fs_in, fs)
    m = plan.nfft // plan.down

    def fast(k):
        return _seven_smooth(k) and (plan.down * k) % 8 == 0 and (plan.up * k) % 8 == 0

    assert plan.nfft % plan.down == 0 and plan.nfft >= t + 2 * plan.pad
    assert plan.nfft % 8 == 0 and plan.n_out % 8 == 0 and plan.n_out == m * plan.up
    assert fast(m) and not any(fast(k) for k in range(-(-(t + 2 * plan.pad) // plan.down), m))
    assert plan.nfft <= 1.25 * (t + 2 * plan.pad)  # the search adds a few per cent, not a power of two
    assert not _seven_smooth(11 * 8) and _seven_smooth(2**5 * 3 * 5**3 * 7)


@pytest.mark.parametrize(
    ("fs_in", "seconds", "band"),
    [(512.0, 300.0, BAND), (500.0, 310.0, BAND), (160.0, 700.0, BAND), (250.0, 120.0, BAND), (500.0, 200.0, None)],
)
def test_long_recordings_in_overlapping_segments_equal_one_whole_fft(fs_in, seconds, band, monkeypatch):
    import domains.eeg.io as io

    x = _band_limited_noise(3, seconds, fs_in, lo=0.1, hi=80.0, seed=int(fs_in))
    x += np.linspace(0.0, 50.0, x.shape[1], dtype=np.float32)  # a drift, removed by the detrend
    whole = preprocess(x.copy(), fs_in, 128.0, band, NOTCH).copy()  # band None: resampling, notch, line kept
    assert io._fft_plan(x.shape[1], fs_in, 128.0).segments == 1
    monkeypatch.setattr(io, "WHOLE_FFT_MAX", 1 << 12)  # everything here is "long" now
    monkeypatch.setattr(io, "SEGMENT_FFT", 1 << 14)  # and cut into many short segments
    plan = io._fft_plan(x.shape[1], fs_in, 128.0)
    assert plan.segments >= 3 and plan.overlap >= round(io.SEGMENT_OVERLAP_S * fs_in)
    seg = preprocess(x.copy(), fs_in, 128.0, band, NOTCH)
    assert seg.shape == whole.shape and seg.dtype == np.float32
    diff = np.abs(seg - whole) / whole.std()
    edge = int(2 * 128)  # the whole FFT's zeros wrap round to the left reflection; segments' do not
    assert diff[:, edge:-edge].max() < 1e-4 and diff.max() < 2e-3
    joins = [k * plan.core * plan.up // plan.down for k in range(1, plan.segments)]
    assert all(diff[:, j - 2 : j + 2].max() < 1e-4 for j in joins if edge < j < whole.shape[1] - edge)


def test_segment_plans_cover_the_signal_with_fast_lengths(monkeypatch):
    import domains.eeg.io as io

    for t, fs_in in [(14_745_600, 512.0), (2_000_000, 500.0), (300_000, 173.61), (262_000, 256.0)]:
        plan = io._fft_plan(t, fs_in, 128.0)
        if t + 2 * plan.pad <= io.WHOLE_FFT_MAX:
            assert plan.segments == 1 and plan.overlap == plan.pad
            continue
        assert plan.nfft % plan.down == 0 and plan.nfft % 8 == 0 and plan.n_out % 8 == 0
        assert plan.overlap % plan.down == 0 and plan.overlap >= plan.pad and plan.core > plan.nfft // 2
        assert plan.segments * plan.core >= t and (plan.segments - 1) * plan.core < t
        assert plan.segments * plan.core * plan.up // plan.down >= plan.t_out
        assert io.SEGMENT_FFT <= plan.nfft <= 1.25 * max(io.SEGMENT_FFT, 8 * plan.overlap)
