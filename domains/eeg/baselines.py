"""Hand-crafted EEG baseline: log band power per channel (delta, theta, alpha, beta, gamma)."""

from __future__ import annotations

import numpy as np
from mne.time_frequency import psd_array_welch

BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}


def band_power_features(windows_uv: np.ndarray, fs: float, *, present: np.ndarray | None = None) -> np.ndarray:
    """Welch PSD (1 s segments, half overlap) integrated over each band, log10 of uV^2.

    Missing channels (``present`` False, per channel (C,) or per window (W, C)) give NaN features,
    which the probe imputes.
    Shape: windows (W, C, T) -> (W, C * len(BANDS)), channel-major.
    """
    n_fft = min(int(fs), windows_uv.shape[-1])
    psd, freqs = psd_array_welch(
        windows_uv.astype(np.float64), sfreq=fs, fmin=BANDS["delta"][0], fmax=BANDS["gamma"][1],
        n_fft=n_fft, n_per_seg=n_fft, n_overlap=n_fft // 2, verbose="error",
    )  # (W, C, n_freqs)  # fmt: skip
    df = freqs[1] - freqs[0]
    powers = [psd[..., (freqs >= lo) & (freqs < hi)].sum(-1) * df for lo, hi in BANDS.values()]
    feats = np.log10(np.stack(powers, axis=-1) + 1e-12)  # (W, C, bands)
    if present is not None:
        feats[~np.broadcast_to(np.asarray(present, dtype=bool), feats.shape[:2])] = np.nan
    return feats.reshape(len(feats), -1)
