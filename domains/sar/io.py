"""SAR readers: any raster rasterio opens (GeoTIFF first) and JPEG/PNG chips, one interface.

Every reader returns a :class:`SarImage` holding **linear intensity** (power) per band, with the
band names, CRS/transform (when the file has them), the nodata mask and a list of notes saying
what was done (scale conversion, decimation). Chips for the model come from :func:`prepare_chip`:
one band in dB, floored, gain-normalised, centre-cropped or padded to the model size.
Every failure is a :class:`jepa_core.errors.InputError` naming the file and the problem.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepa_core.errors import InputError

IMAGE_SUFFIXES = (".tif", ".tiff", ".jpeg", ".jpg", ".png")
SCALES = ("auto", "amplitude", "intensity", "db")
MAX_READ_PIXELS = 4096 * 4096  # larger rasters are read decimated (rasterio out_shape), never in full
MAX_BYTES = 2 * 1024**3  # declared full-resolution size above which a raster is refused before any pixel is read
MAX_BANDS = 512  # the model uses one band; a raster with more is a stack or a broken header


@dataclass
class SarImage:
    """A SAR raster as linear intensity. Shape: ``intensity`` (C, H, W) float32, ``valid`` (C, H, W) bool."""

    path: Path
    intensity: np.ndarray
    valid: np.ndarray
    bands: list[str]
    scale: str  # the scale the file was stored in: amplitude | intensity | db
    crs: str | None = None
    transform: tuple[float, ...] | None = None
    source_shape: tuple[int, int] = (0, 0)  # (H, W) in the file, before any decimation
    notes: list[str] = field(default_factory=list)


def find_images(source: str | Path) -> list[Path]:
    """SAR image files under a folder (recursive, sorted), a single file, or a list file (one path a line)."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise InputError(path, f"no SAR image ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        return files
    if path.is_file() and path.suffix.lower() in (".txt", ".lst", ".list"):
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        return [Path(ln) if Path(ln).is_absolute() else path.parent / ln for ln in lines]
    if path.is_file():
        return [path]
    raise InputError(path, "no such file or folder")


def sample_id(path: Path) -> str:
    """``class/stem`` key: the parent folder names the class in MSTAR, and stems repeat across classes."""
    return f"{path.parent.name}/{path.stem}"


def _decimated_shape(height: int, width: int, max_pixels: int) -> tuple[int, int]:
    factor = math.sqrt(height * width / max_pixels)
    return max(1, int(height / factor)), max(1, int(width / factor))


def _band_names(src: Any) -> list[str]:
    """From band descriptions, else per-band tags (POLARIZATION, name), else band1, band2, ..."""
    names = []
    for i in range(1, src.count + 1):
        tags = src.tags(i)
        name = src.descriptions[i - 1] or tags.get("POLARIZATION") or tags.get("polarization") or tags.get("name")
        names.append(str(name) if name else f"band{i}")
    return names


def _reason(err: BaseException) -> str:
    """The first line of GDAL's own message (rasterio often puts it in the exception's cause)."""
    cause = err.__cause__ or err.__context__
    text = str(cause if cause is not None and "previous exception" in str(err) else err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _check_size(path: Path, src: Any, max_bytes: int, max_pixels: int) -> None:
    """Refuse rasters whose declared size is over the budget, before any pixel is decoded."""
    if src.count > MAX_BANDS:
        raise InputError(path, f"{src.count} bands: at most {MAX_BANDS} are read (split the stack into files)")
    itemsize = np.dtype("complex64" if "complex" in src.dtypes[0] else src.dtypes[0]).itemsize
    declared = src.count * src.height * src.width * itemsize
    if declared > max_bytes:
        raise InputError(
            path,
            f"declared size {src.height}x{src.width} px x {src.count} bands ({declared / 1e9:.1f} GB) "
            f"exceeds the memory budget of {max_bytes / 1e9:.1f} GB",
        )
    oh, ow = _decimated_shape(src.height, src.width, max_pixels) if src.height * src.width > max_pixels else src.shape
    if src.count * oh * ow * (itemsize + 9) > max_bytes:  # the read, its mask and the float32 intensity
        raise InputError(
            path, f"{src.count} bands of {oh}x{ow} px exceed the memory budget of {max_bytes / 1e9:.1f} GB"
        )


def _open_raster(
    path: Path, max_pixels: int, max_bytes: int = MAX_BYTES
) -> tuple[np.ndarray, np.ndarray, dict, list[str], list[str]]:
    """Raw band values, a validity mask, metadata, band names and notes. Shape: (C, H, W) each."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.errors import NotGeoreferencedWarning

    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            src = rasterio.open(path)
    except Exception as err:  # RasterioIOError mostly; GDAL drivers raise other CPLE_* errors too
        raise InputError(path, f"unreadable raster ({_reason(err)})") from None
    with src:
        _check_size(path, src, max_bytes, max_pixels)
        h, w = src.height, src.width
        out_shape = None
        if h * w > max_pixels:
            oh, ow = _decimated_shape(h, w, max_pixels)
            out_shape = (src.count, oh, ow)
            notes.append(f"decimated {h}x{w} -> {oh}x{ow} on read (average), the raster is too large to load")
        try:
            kwargs = {"out_shape": out_shape, "resampling": Resampling.average} if out_shape else {}
            data = src.read(masked=True, **kwargs)
        except Exception as err:  # truncated or inconsistent files fail here with GDAL's CPLE_* errors
            raise InputError(path, f"cannot read pixel data ({_reason(err)})") from None
        meta = {
            "count": src.count,
            "dtype": src.dtypes[0],
            "crs": src.crs.to_string() if src.crs else None,
            "transform": tuple(src.transform)[:6] if not src.transform.is_identity else None,
            "shape": (h, w),
        }
        names = _band_names(src)
    valid = ~np.ma.getmaskarray(data)
    return np.ma.getdata(data), valid, meta, names, notes


def _resolve_scale(raw: np.ndarray, dtype: str, scale: str, path: Path, notes: list[str]) -> str:
    if scale not in SCALES:
        raise InputError(path, f"unknown scale {scale!r}; use one of {SCALES}")
    if np.iscomplexobj(raw):
        notes.append("complex samples: took the magnitude (amplitude)")
        return "amplitude"
    if scale != "auto":
        return scale
    if np.issubdtype(np.dtype(dtype), np.floating) and np.nanmin(raw) < 0:
        notes.append("auto scale: negative values, read as dB")
        return "db"
    notes.append("auto scale: read as linear amplitude")
    return "amplitude"


def to_intensity(raw: np.ndarray, scale: str) -> np.ndarray:
    """Linear intensity (power) from amplitude, intensity or dB values."""
    if np.iscomplexobj(raw):
        return (np.abs(raw) ** 2).astype(np.float32)
    raw = raw.astype(np.float32)
    if scale == "amplitude":
        return raw * raw
    if scale == "intensity":
        return raw
    return np.power(np.float32(10.0), raw / 10.0)


def read_sar(
    path: str | Path,
    *,
    scale: str = "auto",
    band_names: Sequence[str] | None = None,
    max_pixels: int = MAX_READ_PIXELS,
    max_bytes: int = MAX_BYTES,
) -> SarImage:
    """Read a raster or image chip as linear intensity. ``scale`` says how the file stores values.

    Rasters over ``max_pixels`` are read decimated; rasters whose declared size exceeds ``max_bytes``
    (or with more than ``MAX_BANDS`` bands) are refused before any pixel is read.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file")
    raw, valid, meta, names, notes = _open_raster(path, max_pixels, max_bytes)
    if band_names:
        if len(band_names) != meta["count"]:
            raise InputError(path, f"{len(band_names)} band names given for {meta['count']} bands")
        names = list(band_names)
    if np.iscomplexobj(raw):
        finite = np.isfinite(raw.real) & np.isfinite(raw.imag)
    else:
        finite = np.isfinite(raw)
    if not valid.any():
        raise InputError(path, "every pixel is nodata")
    if not finite[valid].all():
        bad = int((~finite & valid).sum())
        raise InputError(path, f"{bad} pixels are NaN or infinite (set a nodata value or clean the raster)")
    resolved = _resolve_scale(np.where(valid, raw, 0), meta["dtype"], scale, path, notes)
    if meta["dtype"].startswith(("uint8", "int8")) and resolved != "db":
        notes.append("8-bit values taken as amplitude on a 0-255 scale")
    with np.errstate(over="ignore", invalid="ignore"):
        intensity = to_intensity(np.where(valid, raw, 0), resolved)
    if not np.isfinite(intensity[valid]).all():
        raise InputError(path, f"values out of range: converting {resolved} to intensity overflows float32")
    if resolved in ("amplitude", "intensity") and (intensity[valid] < 0).any():
        raise InputError(path, f"negative values in a raster read as linear {resolved}; pass scale=db if it is dB")
    return SarImage(
        path=path,
        intensity=intensity,
        valid=valid,
        bands=names,
        scale=resolved,
        crs=meta["crs"],
        transform=meta["transform"],
        source_shape=meta["shape"],
        notes=notes,
    )
