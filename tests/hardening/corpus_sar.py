"""SAR corpus: GeoTIFFs written with rasterio from the OpenSARShip chip's pixels, and cut or patched MSTAR JPEGs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from tests.hardening.corpus import SAMPLES, Case, garbage, png_bytes

TIF = SAMPLES / "sar" / "opensarship" / "Cargo_x10661_y11170.tif"
JPEG = SAMPLES / "sar" / "mstar" / "test" / "T72" / "hb03334.jpeg"
TOO_SMALL = "too small"


def _pixels() -> np.ndarray:
    """The real chip's first band. Shape: (H, W) float32 (linear amplitude)."""
    import rasterio

    with rasterio.open(TIF) as src:
        return src.read(1)


def _tif(path: Path, data: np.ndarray, **profile) -> Path:
    """Write ``data`` (C, H, W) as a GeoTIFF; ``profile`` adds creation options (nodata, tiled, ...)."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    c, h, w = data.shape
    profile.setdefault("dtype", data.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", count=c, height=h, width=w, **profile) as dst:
            dst.write(data)
    return path


def _huge(path: Path) -> Path:
    """100000 x 100000 px declared, no block written (sparse): a few hundred bytes on disk."""
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", count=1, height=100_000, width=100_000, dtype="float32",
                       tiled=True, blockxsize=512, blockysize=512, sparse_ok=True, compress="deflate"):  # fmt: skip
        pass
    return path


def _patch_tiff_width(path: Path, src: Path, width: int) -> Path:
    """Copy ``src`` with its ImageWidth tag (256) set to ``width``: the header disagrees with the strips."""
    buf = bytearray(src.read_bytes())
    assert buf[:4] == b"II*\x00", "little-endian classic TIFF expected"
    ifd = int.from_bytes(buf[4:8], "little")
    for k in range(int.from_bytes(buf[ifd : ifd + 2], "little")):
        entry = ifd + 2 + 12 * k
        if int.from_bytes(buf[entry : entry + 2], "little") == 256:
            kind = int.from_bytes(buf[entry + 2 : entry + 4], "little")
            buf[entry + 8 : entry + 8 + (2 if kind == 3 else 4)] = width.to_bytes(2 if kind == 3 else 4, "little")
    path.write_bytes(bytes(buf))
    return path


def _write(root: Path, name: str, content: bytes) -> Path:
    (root / name).write_bytes(content)
    return root / name


def build(root: Path) -> list[Case]:
    r = root
    px = _pixels()[None]  # (1, H, W)
    nan, inf = px.copy(), px.copy()
    nan[0, 10:20, 10:20] = np.nan
    inf[0, 5, 5] = np.inf
    cint = np.stack([np.round(px[0] * 100), np.round(-px[0] * 50)]).clip(-32768, 32767)
    cint16 = (cint[0] + 1j * cint[1]).astype(np.complex64)[None]  # stored as CInt16
    plain = _tif(r / "plain.tif", px)
    jpeg = JPEG.read_bytes()
    (r / "dir_chip.tif").mkdir()
    cases = [
        Case("empty-tif", _write(r, "empty.tif", b""), "empty", "unreadable raster"),
        Case("empty-jpeg", _write(r, "empty.jpeg", b""), "empty", "unreadable raster"),
        Case(
            "tif-truncated",
            _write(r, "tif_truncated.tif", plain.read_bytes()[:3000]),
            "truncated",
            r"cannot read pixel data|unreadable raster",
        ),
        Case(
            "jpeg-truncated",
            _write(r, "jpeg_truncated.jpeg", jpeg[: len(jpeg) // 2]),
            "truncated",
            r"cannot read pixel data|unreadable raster",
        ),
        Case(
            "tif-width-patched",
            _patch_tiff_width(r / "width_patched.tif", plain, 4000),
            "header",
            r"cannot read pixel data|unreadable raster",
        ),
        Case("garbage-tif", _write(r, "garbage.tif", garbage(5000, seed=3)), "garbage", "unreadable raster"),
        Case("png-as-tif", _write(r, "png_named.tif", png_bytes()), "wrong-ext", None, checks=("finite",)),
        Case(
            "edf-as-tif",
            _write(r, "edf_named.tif", (SAMPLES / "eeg" / "S001R03.edf").read_bytes()[:20000]),
            "wrong-ext",
            "unreadable raster",
        ),
        Case(
            "npy-unsupported",
            _write(r, "array.npy", b"\x93NUMPY" + garbage(200, seed=4)),
            "unsupported",
            "unreadable raster",
        ),
        Case(
            "all-nodata",
            _tif(r / "all_nodata.tif", np.full_like(px, -9999.0), nodata=-9999.0),
            "nodata",
            "every pixel is nodata",
        ),
        Case("one-pixel", _tif(r / "one_pixel.tif", px[:, :1, :1]), "tiny", None, export=TOO_SMALL),
        Case("8x8-px", _tif(r / "small.tif", px[:, :8, :8]), "tiny", None, export=TOO_SMALL),
        Case(
            "10000-bands",
            _tif(r / "bands_10000.tif", np.repeat(px[:, :4, :4], 10_000, axis=0)),
            "huge",
            r"10000 bands: at most 512",
        ),
        Case("cint16", _tif(r / "cint16.tif", cint16, dtype="complex_int16"), "dtype", None, checks=("finite",)),
        Case("nan-pixels", _tif(r / "nan_pixels.tif", nan), "nonfinite", "100 pixels are NaN or infinite"),
        Case("inf-pixel", _tif(r / "inf_pixel.tif", inf), "nonfinite", "1 pixels are NaN or infinite"),
        Case(
            "float64-overflow",
            _tif(r / "overflow.tif", px.astype(np.float64) * 1e300),
            "nonfinite",
            "values out of range",
        ),
        Case("all-zero", _tif(r / "all_zero.tif", np.zeros_like(px)), "zero", None, checks=("finite",)),
        Case(
            "huge-declared",
            _huge(r / "huge.tif"),
            "huge",
            r"declared size 100000x100000 px .* exceeds the memory budget",
        ),
        Case("text-as-jpeg", _write(r, "text.jpeg", b"not an image\n" * 100), "wrong-ext", "unreadable raster"),
        Case(
            "dir-named-tif", r / "dir_chip.tif", "directory", "no such file", export="no SAR image", app="no such file"
        ),
        Case("unicode-valid", _write(r, "Schiff ü 1 ✓.tif", plain.read_bytes()), "unicode", None, checks=("finite",)),
    ]
    plain.unlink()  # a valid helper file, not a case
    return cases
