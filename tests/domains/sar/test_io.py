"""Readers on bundled real chips and on GeoTIFFs written here; broken inputs give InputError."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from domains.sar.io import find_images, read_sar, sample_id
from domains.sar.preprocess import fit_size, prepare_chip
from jepa_core.errors import InputError

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "sar"


def write_tif(path, data, *, nodata=None, crs=None, descriptions=None, dtype=None):
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    profile = {
        "driver": "GTiff",
        "height": data.shape[1],
        "width": data.shape[2],
        "count": data.shape[0],
        "dtype": dtype or data.dtype.name,
        "nodata": nodata,
    }
    if crs:
        profile.update(crs=crs, transform=from_origin(500000.0, 4000000.0, 10.0, 10.0))
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for i, d in enumerate(descriptions or []):
            dst.set_band_description(i + 1, d)
    return path


def amplitude(shape, seed=0):
    return np.sqrt(np.random.default_rng(seed).exponential(size=shape)).astype(np.float32) * 100


def test_bundled_mstar_jpeg_chip():
    path = next(p for p in find_images(SAMPLES / "mstar" / "train") if p.parent.name == "T72")
    img = read_sar(path)
    assert img.intensity.shape == (1, 128, 128) and img.scale == "amplitude"
    assert img.crs is None and img.transform is None and img.bands == ["band1"]
    assert sample_id(path) == f"T72/{path.stem}"
    chip = prepare_chip(img, size=64)
    assert chip.x.shape == (1, 64, 64) and np.isfinite(chip.x).all()
    assert any("centre-cropped 128x128 -> 64x64" in n for n in chip.notes)
    assert abs(float(np.median(chip.db))) < 1.0  # gain-normalised to the chip median


def test_bundled_opensarship_two_band_geotiff():
    path = sorted((SAMPLES / "opensarship").glob("*.tif"))[0]
    img = read_sar(path, band_names=["VV", "VH"], scale="amplitude")
    assert img.intensity.shape[0] == 2 and img.bands == ["VV", "VH"]
    vh = prepare_chip(img, size=64, band="vh")
    vv = prepare_chip(img, size=64, band=1)
    assert vh.band == "VH" and vv.band == "VV" and not np.allclose(vh.x, vv.x)
    assert any("padded" in n or "cropped" in n for n in vv.notes)
    with pytest.raises(InputError, match="no band named 'HH'"):
        prepare_chip(img, size=64, band="HH")


def test_one_band_float_with_crs(tmp_path):
    img = read_sar(write_tif(tmp_path / "a.tif", amplitude((70, 90)), crs="EPSG:32633"))
    assert img.crs == "EPSG:32633" and img.transform[0] == 10.0
    assert img.intensity.shape == (1, 70, 90) and img.scale == "amplitude"


def test_two_band_descriptions_name_the_bands(tmp_path):
    path = write_tif(
        tmp_path / "b.tif", np.stack([amplitude((40, 40)), amplitude((40, 40), 1)]), descriptions=["VV", "VH"]
    )
    img = read_sar(path)
    assert img.bands == ["VV", "VH"] and img.crs is None


def test_complex_samples_give_magnitude(tmp_path):
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(32, 32)) + 1j * rng.normal(size=(32, 32))).astype(np.complex64)
    img = read_sar(write_tif(tmp_path / "c.tif", z))
    np.testing.assert_allclose(img.intensity[0], np.abs(z) ** 2, rtol=1e-5)
    assert img.scale == "amplitude" and any("complex" in n for n in img.notes)


def test_db_and_intensity_scales_agree(tmp_path):
    amp = amplitude((32, 32))
    a = read_sar(write_tif(tmp_path / "amp.tif", amp), scale="amplitude").intensity
    i = read_sar(write_tif(tmp_path / "int.tif", amp**2), scale="intensity").intensity
    d = read_sar(write_tif(tmp_path / "db.tif", 20 * np.log10(amp)), scale="db")
    auto = read_sar(write_tif(tmp_path / "db2.tif", 20 * np.log10(amp / 1000)))  # negative values: read as dB
    np.testing.assert_allclose(a, i, rtol=1e-5)
    np.testing.assert_allclose(d.intensity, a, rtol=1e-3)
    np.testing.assert_allclose(auto.intensity, a / 1e6, rtol=1e-3)
    assert auto.scale == "db" and any("negative values" in n for n in auto.notes)


def test_nodata_pixels_are_masked_and_filled(tmp_path):
    amp = amplitude((40, 40))
    amp[:5] = -9999.0
    img = read_sar(write_tif(tmp_path / "n.tif", amp, nodata=-9999.0), scale="amplitude")
    assert not img.valid[0, :5].any() and img.valid[0, 5:].all()
    chip = prepare_chip(img, size=32)
    assert any("200 nodata pixels" in n for n in chip.notes)
    assert np.isfinite(chip.x).all()


def test_integer_raster(tmp_path):
    img = read_sar(write_tif(tmp_path / "u16.tif", (amplitude((32, 32)) * 10).astype(np.uint16)))
    assert img.intensity.dtype == np.float32 and img.scale == "amplitude"


def test_png_chip(tmp_path):
    from PIL import Image

    path = tmp_path / "chip.png"
    Image.fromarray(np.clip(amplitude((50, 50)), 0, 255).astype(np.uint8)).save(path)
    chip = prepare_chip(read_sar(path), size=64)
    assert chip.x.shape == (1, 64, 64) and any("padded to 64x64" in n for n in chip.notes)


def test_large_raster_is_read_decimated(tmp_path):
    img = read_sar(write_tif(tmp_path / "big.tif", amplitude((400, 300))), max_pixels=100 * 100)
    assert img.intensity.shape[1] * img.intensity.shape[2] <= 100 * 100
    assert img.source_shape == (400, 300) and any("decimated" in n for n in img.notes)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"not a raster at all"), "unreadable raster"),
        (lambda p: write_tif(p, np.full((20, 20), -1.0, np.float32), nodata=-1.0), "every pixel is nodata"),
        (lambda p: write_tif(p, np.where(np.eye(20) > 0, np.nan, 1.0).astype(np.float32)), "NaN or infinite"),
        (lambda p: write_tif(p, np.full((20, 20), np.inf, np.float32)), "NaN or infinite"),
    ],
)
def test_broken_inputs(tmp_path, make, message):
    path = tmp_path / "bad.tif"
    make(path)
    with pytest.raises(InputError, match=message) as err:
        read_sar(path)
    assert str(path) in str(err.value)


def test_too_small_and_missing(tmp_path):
    img = read_sar(write_tif(tmp_path / "s.tif", amplitude((10, 40))))
    with pytest.raises(InputError, match="too small: 10x40"):
        prepare_chip(img, size=64, min_size=16)
    with pytest.raises(InputError, match="no such file"):
        read_sar(tmp_path / "missing.tif")
    with pytest.raises(InputError, match="unknown scale"):
        read_sar(img.path, scale="decibel")


def test_fit_size_crops_and_pads_to_the_centre():
    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    out, notes = fit_size(a, 4)
    np.testing.assert_array_equal(out, a[3:7, 3:7])
    out, notes = fit_size(a[:3, :3], 5)
    assert out.shape == (5, 5) and out[1, 1] == 0 and out[0].sum() == 0 and "padded" in notes[-1]


def test_faint_images_give_finite_decibels():
    """Intensities near float32's smallest value: the -30 dB floor underflowed to 0 in float32 and log10 gave -inf."""
    from domains.sar.preprocess import relative_db

    rng = np.random.default_rng(0)
    intensity = rng.exponential(1.0, (64, 64)).astype(np.float32)
    valid = np.ones_like(intensity, dtype=bool)
    faint = (intensity.astype(np.float64) * 1e-43).astype(np.float32)  # subnormal: coarse, but valid samples
    faint[:, :20] = 0.0  # a dark border
    db = relative_db(faint, valid, 30.0)
    assert np.isfinite(db).all() and db.min() >= -30.0 - 1e-4
    np.testing.assert_allclose(
        relative_db(intensity * np.float32(1e-30), valid, 30.0), relative_db(intensity, valid, 30.0), atol=1e-3
    )  # fmt: skip  (a gain removed by the median reference)
