"""Write real EDF and BDF files in tests with MNE's own exporter (``mne.export.export_raw``, needs edfio)."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np

TEN_TWENTY_OLD = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4",
                  "T5", "T6", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz"]  # fmt: skip


def write_edf(
    path: Path,
    data_uv: np.ndarray,
    ch_names: list[str],
    sfreq: float,
    *,
    ch_types: list[str] | None = None,
    annotations: list[tuple[float, float, str]] = (),
) -> Path:
    """Shape: data_uv (C, T) in microvolts. Annotations are (onset_s, duration_s, label).

    The format follows the suffix: ``.bdf`` writes 24-bit BDF, anything else 16-bit EDF(+).
    """
    info = mne.create_info(ch_names, sfreq, ch_types or "eeg")
    raw = mne.io.RawArray(np.asarray(data_uv, dtype=np.float64) * 1e-6, info, verbose="error")
    if annotations:
        on, dur, lab = zip(*annotations, strict=True)
        raw.set_annotations(mne.Annotations(list(on), list(dur), list(lab)))
    fmt = "bdf" if Path(path).suffix.lower() == ".bdf" else "edf"
    mne.export.export_raw(path, raw, fmt=fmt, overwrite=True, verbose="error")
    return path


def oscillation(freq: float, seconds: float, sfreq: float, n_channels: int, *, amp: float = 20.0, seed: int = 0):
    """A sinusoid at ``freq`` on every channel plus white noise, in uV. Shape: (C, T)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sfreq)) / sfreq
    phases = rng.uniform(0, 2 * np.pi, (n_channels, 1))
    return amp * np.sin(2 * np.pi * freq * t + phases) + 5.0 * rng.standard_normal((n_channels, len(t)))
