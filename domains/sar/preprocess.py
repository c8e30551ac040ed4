"""From a :class:`SarImage` to a model chip: one band, dB with a floor, gain-normalised, model-sized.

The model input is ``x = (dB - median dB) / db_scale``. Subtracting the chip's median removes any
global calibration gain, and the fixed ``db_scale`` keeps ``exp(x * db_scale * ln(10) / 10)``
equal to the intensity relative to the median, which the gradient targets are computed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from domains.sar.io import SarImage
from jepa_core.errors import InputError


@dataclass
class Chip:
    """A model-ready chip. Shape: ``x`` (1, size, size) float32; ``db`` (size, size) float32."""

    x: np.ndarray
    db: np.ndarray  # relative dB (0 = chip median), for display
    band: str
    notes: list[str] = field(default_factory=list)


def select_band(image: SarImage, band: str | int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """One band by name (case-insensitive) or 1-based index; default the first. Shape: (H, W) each."""
    if band in (None, "", 0):
        i = 0
    elif isinstance(band, int) or str(band).isdigit():
        i = int(band) - 1
    else:
        lowered = [b.lower() for b in image.bands]
        if str(band).lower() not in lowered:
            raise InputError(image.path, f"no band named {band!r}; bands are {image.bands}")
        i = lowered.index(str(band).lower())
    if not 0 <= i < len(image.bands):
        raise InputError(image.path, f"band {band} out of range: the raster has {len(image.bands)} bands")
    return image.intensity[i], image.valid[i], image.bands[i]


def relative_db(intensity: np.ndarray, valid: np.ndarray, floor_db: float) -> np.ndarray:
    """dB relative to the median valid intensity, floored at ``-floor_db``; invalid pixels are 0 dB.

    In float64: a valid but very faint image (intensities near 1e-45, float32's smallest) has a floor that
    float32 rounds to 0, and log10(0) would put -inf into the chip.
    """
    intensity = np.asarray(intensity, dtype=np.float64)
    ref = float(np.median(intensity[valid]))
    if ref <= 0:  # mostly zeros (e.g. a chip with a dark background): use the mean of the non-zero pixels
        positive = intensity[valid & (intensity > 0)]
        if positive.size == 0:
            return np.zeros_like(intensity, dtype=np.float32)
        ref = float(positive.mean())
    floor = ref * 10.0 ** (-floor_db / 10.0)
    db = 10.0 * np.log10(np.maximum(intensity, floor) / ref)
    return np.where(valid, db, 0.0).astype(np.float32)


def fit_size(a: np.ndarray, size: int) -> tuple[np.ndarray, list[str]]:
    """Centre-crop and/or pad (with 0, the median level) to ``size`` x ``size``. Shape: (H, W) -> (size, size)."""
    notes: list[str] = []
    h, w = a.shape
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    a = a[top : top + size, left : left + size]
    if (h, w) != a.shape:
        notes.append(f"centre-cropped {h}x{w} -> {a.shape[0]}x{a.shape[1]}")
    ph, pw = size - a.shape[0], size - a.shape[1]
    if ph or pw:
        a = np.pad(a, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
        notes.append(f"padded to {size}x{size} with the median level")
    return a, notes


def prepare_chip(
    image: SarImage,
    *,
    size: int,
    band: str | int | None = None,
    floor_db: float = 30.0,
    db_scale: float = 10.0,
    min_size: int = 16,
) -> Chip:
    """Model chip from a read image; every step taken is listed in ``notes``."""
    intensity, valid, name = select_band(image, band)
    h, w = intensity.shape
    if min(h, w) < min_size:
        raise InputError(image.path, f"too small: {h}x{w} px, need at least {min_size} px on each side")
    if not valid.any():
        raise InputError(image.path, f"band {name!r}: every pixel is nodata")
    notes = list(image.notes)
    if not valid.all():
        notes.append(f"{int((~valid).sum())} nodata pixels set to the median level")
    db = relative_db(intensity, valid, floor_db)
    notes.append(f"band {name}: {image.scale} -> dB relative to the chip median, floor -{floor_db:g} dB")
    db, fit_notes = fit_size(db, size)
    return Chip(x=(db / db_scale)[None].astype(np.float32), db=db, band=name, notes=notes + fit_notes)
