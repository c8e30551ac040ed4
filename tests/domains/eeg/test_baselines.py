"""The hand-crafted EEG baseline: log band power per channel (Welch)."""

import numpy as np

from domains.eeg.baselines import BANDS, band_power_features

FS = 128.0


def _windows(freqs: list[float], amp: float = 20.0, n_channels: int = 3, seconds: float = 4.0) -> np.ndarray:
    """One window per frequency, a sinusoid on every channel plus weak noise, in uV. Shape: (W, C, T)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * FS)) / FS
    waves = [amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n_channels, 1))) for f in freqs]
    return np.stack(waves) + 0.5 * rng.standard_normal((len(freqs), n_channels, len(t)))


def test_each_oscillation_puts_its_power_in_its_own_band():
    centres = [2.5, 6.0, 10.5, 20.0, 38.0]  # one inside each of delta, theta, alpha, beta, gamma
    feats = band_power_features(_windows(centres), FS)
    assert feats.shape == (5, 3 * len(BANDS))
    per_band = feats.reshape(5, 3, len(BANDS))  # channel-major
    assert (per_band.argmax(-1) == np.arange(5)[:, None]).all()
    # a sinusoid of amplitude A carries A^2 / 2 uV^2; Welch with a Hann window integrates it to that
    assert np.allclose(per_band[2, :, 2], np.log10(20.0**2 / 2), atol=0.05)


def test_amplitude_moves_the_feature_by_its_log_and_missing_channels_are_nan():
    base = band_power_features(_windows([10.5]), FS)
    double = band_power_features(_windows([10.5], amp=40.0), FS)
    alpha = list(BANDS).index("alpha")
    assert np.allclose(double[0, alpha :: len(BANDS)] - base[0, alpha :: len(BANDS)], np.log10(4.0), atol=0.01)
    masked = band_power_features(_windows([10.5]), FS, present=np.array([True, False, True]))
    second = np.s_[len(BANDS) : 2 * len(BANDS)]  # the features of channel 1, which is missing
    assert np.isnan(masked[0, second]).all() and np.isfinite(np.delete(masked[0], second)).all()
