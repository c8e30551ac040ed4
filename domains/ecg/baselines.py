"""Hand-crafted ECG baselines (no deep learning) that JEPA embeddings must beat.

- ``beat_features``: RR intervals and coarse morphology per beat, after de Chazal et al.
  (IEEE TBME 2004) and Mar et al. (IEEE TBME 2011), for AAMI beat classification.
- ``rhythm_features``: heart-rate variability, RR irregularity and signal statistics per
  record, for CinC 2017 rhythm classification.
- both are scored with ``jepa_core.eval.probes.linear_probe``, the probe used for the encoders.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import welch
from scipy.stats import kurtosis, skew
from wfdb.processing import xqrs_detect

MORPH_WINDOW_S = (-0.25, 0.40)  # P wave to end of T wave around the R peak
MORPH_POINTS = 20
QRS_HALF_WIDTH_S = 0.10
LOCAL_RR_BEATS = 10
BEAT_FEATURE_NAMES = (
    "pre_rr", "post_rr", "local_rr", "record_rr",
    "pre_over_local", "pre_over_record", "post_over_pre",
    "qrs_width", "r_amp", "qrs_max", "qrs_min", "qrs_energy",
) + tuple(f"morph_{i}" for i in range(MORPH_POINTS))  # fmt: skip


def _lead0(signal: np.ndarray) -> np.ndarray:
    """The first lead as float64: (L, T) or (T,) -> (T,)."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim == 2:
        x = x[0]
    if x.ndim != 1:
        raise ValueError(f"signal must be (L, T) or (T,), got shape {np.shape(signal)}")
    return x


def _windows(x: np.ndarray, centres: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Slices ``x[c + start : c + stop]`` for every centre, zero padded past the ends.

    Shape: (T,), (n,) -> (n, stop - start)
    """
    pad = max(-start, stop, 0)
    padded = np.pad(x, pad)
    idx = centres[:, None] + pad + np.arange(start, stop)[None, :]  # (n, W)
    return padded[np.clip(idx, 0, len(padded) - 1)]


def rr_features(beats: np.ndarray, fs: float) -> np.ndarray:
    """The seven RR features of each beat, in seconds or as ratios. Shape: (n,) -> (n, 7)"""
    n = len(beats)
    if n < 2:
        # One beat has no interval; NaN lets the classifier's imputer fill it in.
        return np.full((n, 7), np.nan)
    rr = np.diff(beats).astype(np.float64) / fs  # (n - 1,)
    pre = np.concatenate([rr[:1], rr])  # the first beat borrows its post-RR
    post = np.concatenate([rr, rr[-1:]])
    # Mean pre-RR of the LOCAL_RR_BEATS beats around each beat, fewer at the record ends.
    half = LOCAL_RR_BEATS // 2
    lo, hi = np.maximum(np.arange(n) - half, 0), np.minimum(np.arange(n) + half + 1, n)
    csum = np.concatenate([[0.0], np.cumsum(pre)])
    local = (csum[hi] - csum[lo]) / (hi - lo)
    record = np.full(n, rr.mean())
    return np.stack([pre, post, local, record, pre / local, pre / record, post / pre], axis=1)


def beat_features(signal: np.ndarray, beats: np.ndarray, fs: float) -> np.ndarray:
    """RR, QRS and down-sampled morphology features of each beat, from lead 0 (MLII).

    ``signal`` should be band-passed and standardised (``io.read_record``); ``beats`` are R-peak
    sample indices at ``fs``, sorted. Columns follow ``BEAT_FEATURE_NAMES``; the morphology is
    the window -250..+400 ms averaged into ``MORPH_POINTS`` bins, zero padded at record edges.
    Shape: (L, T), (n,) -> (n, 32)
    """
    x = _lead0(signal)
    beats = np.asarray(beats, dtype=np.int64)
    if beats.ndim != 1:
        raise ValueError(f"beats must be 1-D, got shape {beats.shape}")
    if len(beats) == 0:
        return np.zeros((0, len(BEAT_FEATURE_NAMES)))
    start, stop = (round(t * fs) for t in MORPH_WINDOW_S)
    stop = start + MORPH_POINTS * max((stop - start) // MORPH_POINTS, 1)
    morph = _windows(x, beats, start, stop).reshape(len(beats), MORPH_POINTS, -1).mean(axis=2)

    half = max(round(QRS_HALF_WIDTH_S * fs), 1)
    qrs = _windows(x, beats, -half, half + 1)  # (n, 2 * half + 1)
    slope = np.abs(np.diff(qrs, axis=1))
    # Width proxy: time the slope stays above 30% of its maximum, i.e. the steep QRS part.
    width = (slope > 0.3 * slope.max(axis=1, keepdims=True)).sum(axis=1) / fs
    qrs_stats = np.stack([width, qrs[:, half], qrs.max(axis=1), qrs.min(axis=1), (qrs**2).mean(axis=1)], axis=1)
    return np.concatenate([rr_features(beats, fs), qrs_stats, morph], axis=1)


RHYTHM_BANDS_HZ = ((0.5, 4.0), (4.0, 9.0), (9.0, 15.0), (15.0, 40.0))
RHYTHM_FEATURE_NAMES = (
    "n_peaks_per_min", "hr_mean", "hr_std", "hr_max", "hr_min",
    "rr_mean", "rr_std", "rr_cv", "rr_robust_cv", "rr_p5", "rr_p95",
    "rmssd", "pnn50", "median_abs_drr", "norm_median_abs_drr", "frac_irregular",
    "sample_entropy", "frac_rr_outliers",
    "sig_std", "sig_kurtosis", "sig_skew",
) + tuple(f"power_{lo:g}_{hi:g}hz" for lo, hi in RHYTHM_BANDS_HZ) + (
    "template_corr", "p_over_qrs", "r_amp_cv",
)  # fmt: skip


def _sample_entropy(x: np.ndarray, m: int = 2, r_frac: float = 0.2) -> float:
    """Sample entropy of a short series (tolerance ``r_frac * std``); NaN when undefined.

    O(n^2) pairwise, fine for the tens of RR intervals in a 9-60 s record.
    """
    r = r_frac * np.std(x)  # r = 0 (a perfectly regular series) matches all: entropy 0
    if len(x) <= m + 1:
        return np.nan

    def pairs(k: int) -> int:
        # The first n - m templates for both lengths, as in Richman & Moorman (2000).
        emb = np.lib.stride_tricks.sliding_window_view(x, k)[: len(x) - m]
        dist = np.abs(emb[:, None, :] - emb[None, :, :]).max(axis=2)
        return int((dist <= r).sum() - len(emb)) // 2

    b, a = pairs(m), pairs(m + 1)
    return float(-np.log(a / b)) if a > 0 and b > 0 else np.nan


def _rr_stats(peaks: np.ndarray, fs: float, duration: float) -> list[float]:
    """Heart-rate variability and irregularity of a peak train (18 values, NaN if < 3 peaks)."""
    rate = 60.0 * len(peaks) / duration
    if len(peaks) < 3:
        return [rate] + [np.nan] * 17
    rr = np.diff(peaks) / fs
    drr = np.abs(np.diff(rr))
    hr, med = 60.0 / rr, np.median(rr)
    return [
        rate, hr.mean(), hr.std(), hr.max(), hr.min(),
        rr.mean(), rr.std(), rr.std() / rr.mean(),
        # MAD-based CV: a few false detections in an artefact barely move it, AF does.
        1.4826 * np.median(np.abs(rr - med)) / med, *np.percentile(rr, [5, 95]),
        np.sqrt(np.mean(drr**2)), np.mean(drr > 0.05), np.median(drr), np.median(drr) / med,
        np.mean(drr > 0.1 * med),  # successive changes over 10%: irregularly irregular AF
        _sample_entropy(rr), np.mean(np.abs(rr - med) > 0.2 * med),
    ]  # fmt: skip


def _beat_shape_stats(x: np.ndarray, peaks: np.ndarray, fs: float) -> list[float]:
    """Beat-to-beat consistency and P-wave presence, from windows around the peaks."""
    if len(peaks) < 3:
        return [np.nan] * 3
    start, stop = round(-0.25 * fs), round(0.40 * fs)
    beats = _windows(x, peaks, start, stop)  # (n, W)
    template = np.median(beats, axis=0)
    centred, tc = beats - beats.mean(axis=1, keepdims=True), template - template.mean()
    corr = centred @ tc / (np.linalg.norm(centred, axis=1) * np.linalg.norm(tc) + 1e-12)  # (n,)
    # P-wave region -250..-120 ms vs the QRS +-60 ms in the median beat; AF has no P wave.
    p_region = template[: round(0.13 * fs)]
    qrs = template[-start - round(0.06 * fs) : -start + round(0.06 * fs)]
    amps = x[peaks]
    return [
        float(np.median(corr)),
        float(np.ptp(p_region) / max(np.ptp(qrs), 1e-8)),
        float(amps.std() / max(np.abs(amps.mean()), 1e-8)),
    ]


def rhythm_features(signal: np.ndarray, fs: float) -> np.ndarray:
    """Rhythm, heart-rate variability and signal-quality features of one record, lead 0.

    R peaks come from ``wfdb.processing.xqrs_detect``. With fewer than 3 peaks every RR and
    beat-shape feature is NaN (left for the probe's imputer); a failed detector
    counts as no peaks. Columns follow ``RHYTHM_FEATURE_NAMES``.
    Shape: (L, T) or (T,) -> (28,)
    """
    x = _lead0(signal)
    if len(x) < fs:
        raise ValueError(f"need at least one second of signal, got {len(x)} samples")
    try:
        peaks = np.asarray(xqrs_detect(x, fs=fs, verbose=False), dtype=np.int64)
    except (ValueError, IndexError):  # xqrs fails on flat or very short signals
        peaks = np.zeros(0, dtype=np.int64)
    freqs, psd = welch(x, fs=fs, nperseg=min(len(x), round(4 * fs)))
    total = psd[(freqs >= 0.5)].sum() + 1e-12
    bands = [psd[(freqs >= lo) & (freqs < hi)].sum() / total for lo, hi in RHYTHM_BANDS_HZ]
    feats = [
        *_rr_stats(peaks, fs, len(x) / fs),
        x.std(), kurtosis(x), skew(x), *bands,
        *_beat_shape_stats(x, peaks, fs),
    ]  # fmt: skip
    return np.asarray(feats, dtype=np.float64)
