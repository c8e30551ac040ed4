"""LAS reader: units from GeoKeys or WKT, the local float64 origin, ASPRS classes, hostile files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from jepa_core.errors import InputError
from tests.domains.lidar.las_data import FOOT, STATE_PLANE_FT, WKT_FT, WKT_GEOGRAPHIC, building_tile, write_las

laspy = pytest.importorskip("laspy")

from domains.lidar.io import find_clouds, read_points  # noqa: E402
from domains.lidar.las import read_las  # noqa: E402

AUTZEN = Path(__file__).resolve().parents[4] / "shared" / "data" / "lidar" / "als_autzen" / "autzen_trim.las"
US_FOOT = 1200 / 3937


def _feet_tile(tmp_path: Path, name: str = "ft.las", **kw) -> tuple[Path, np.ndarray, np.ndarray]:
    xyz, classes = building_tile()
    native = xyz / FOOT + np.asarray(STATE_PLANE_FT)
    return write_las(tmp_path / name, native, classes=classes, **kw), native, classes


def test_feet_become_metres_about_a_local_origin(tmp_path):
    """State-plane feet -> metres with float64 arithmetic before the cast: every point within 1 mm of the
    exact value (float32 of the raw coordinates would be off by up to 3 cm), classes passed through."""
    rng = np.random.default_rng(1)
    path, native, classes = _feet_tile(tmp_path, keys={1024: 1, 3076: 9002}, intensity=rng.integers(0, 65536, 4096))
    tile = read_las(path)
    stored = np.round((native - np.floor(native.min(0))) / 0.01) * 0.01 + np.floor(native.min(0))  # LAS ints
    lo, hi = stored.min(0), stored.max(0)
    origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    np.testing.assert_allclose(tile.origin, origin, atol=1e-6)
    assert tile.unit_m == (FOOT, FOOT) and "9002" in tile.units
    assert tile.points.dtype == np.float32 and tile.points.shape == (4096, 4)
    np.testing.assert_allclose(tile.points[:, :3], (stored - origin) * FOOT, atol=1e-3)
    assert tile.points[:, 2].min() == 0.0  # z from the lowest point
    np.testing.assert_allclose(tile.points[:, 0].min(), -tile.points[:, 0].max(), atol=1e-3)  # x/y box centred
    assert np.array_equal(tile.classification, classes)
    raw = laspy.read(path).intensity
    np.testing.assert_allclose(tile.points[:, 3], np.asarray(raw) / 65535.0, rtol=1e-6)
    assert np.abs(np.float32(native[:, 0]) - native[:, 0]).max() > 0.01  # why the origin is needed


@pytest.mark.parametrize(
    "kw, unit_xy, unit_z, says",
    [
        ({"keys": {1024: 1, 3076: 9003}}, US_FOOT, US_FOOT, "US survey foot"),
        ({"keys": {1024: 1, 3076: 9002, 4099: 9001}}, FOOT, 1.0, "vertical 9001"),
        ({"keys": {1024: 1, 3076: 9001}}, 1.0, 1.0, "9001 (metre)"),
        ({"wkt": WKT_FT}, FOOT, FOOT, "WKT UNIT 0.3048"),
        ({"wkt": f'COMPD_CS["x",{WKT_FT},VERT_CS["h",VERT_DATUM["d",2005],UNIT["metre",1]]]'}, FOOT, 1.0, "WKT"),
        ({"keys": {1024: 1, 3072: 32610}}, 1.0, 1.0, "UTM"),
        ({}, 1.0, 1.0, "assumed metres"),
    ],
)
def test_units_from_geokeys_wkt_or_assumed(tmp_path, kw, unit_xy, unit_z, says):
    path, native, _ = _feet_tile(tmp_path, **kw)
    tile = read_las(path)
    assert tile.unit_m == pytest.approx((unit_xy, unit_z)) and says in tile.units
    extent = tile.points[:, :3].max(0) - tile.points[:, :3].min(0)
    np.testing.assert_allclose(extent, (native.max(0) - native.min(0)) * [unit_xy, unit_xy, unit_z], atol=0.01)


def test_read_points_and_find_clouds_take_las(tmp_path):
    path, _, _ = _feet_tile(tmp_path, keys={1024: 1, 3076: 9002})
    points = read_points(path)
    assert points.shape == (4096, 4) and points.dtype == np.float32
    assert find_clouds(tmp_path) == [path]
    extent = points[:, 0].max() - points[:, 0].min()
    assert 63 < extent < 64.1  # the 64 m tile, in metres


def _patched(path: Path, offset: int, fmt: str, value) -> Path:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    return _write(path, "patched.las", bytes(data))


def _write(path: Path, name: str, content: bytes) -> Path:
    (path.parent / name).write_bytes(content)
    return path.parent / name


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: _write(p, "cut.las", p.read_bytes()[:30000]), "truncated: the header declares 4096 points"),
        (lambda p: _write(p, "sig.las", b"LASX" + p.read_bytes()[4:]), "not a readable LAS file.*signature"),
        (lambda p: _patched(p, 107, "<I", 4_000_000_000), "exceeds the memory budget"),  # legacy point count
        (lambda p: _patched(p, 107, "<I", 0), r"empty \(0 points\)"),
        (lambda p: _patched(p, 131, "<d", float("nan")), "points hold NaN"),  # x scale
        (lambda p: _write(p, "empty.las", b""), "not a readable LAS file"),
    ],
    ids=["truncated", "bad-signature", "huge-count", "zero-points", "nan-scale", "empty-file"],
)
def test_hostile_files_raise_input_error_naming_the_file(tmp_path, make, message):
    good, _, _ = _feet_tile(tmp_path, keys={1024: 1, 3076: 9002})
    bad = make(good)
    with pytest.raises(InputError, match=message) as err:
        read_points(bad)
    assert bad.name in str(err.value)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"keys": {1024: 2}}, "geographic"),
        ({"wkt": WKT_GEOGRAPHIC}, "geographic"),
        ({"keys": {1024: 1, 3076: 9999}}, "unit code 9999"),
        ({"keys": {1024: 1, 3072: 2992}}, "EPSG:2992 with no linear unit"),
        ({"wkt": 'PROJCS["broken",UNIT["foot",0.3048]'}, "unreadable OGC WKT"),
    ],
)
def test_crs_that_cannot_give_metres_is_refused(tmp_path, kw, message):
    path, _, _ = _feet_tile(tmp_path, **kw)
    with pytest.raises(InputError, match=message):
        read_las(path)


def test_laz_without_a_backend_says_so(tmp_path):
    if laspy.LazBackend.detect_available():
        pytest.skip("a LAZ backend is installed")
    good, _, _ = _feet_tile(tmp_path)
    data = bytearray(good.read_bytes())
    data[104] |= 0x80  # the point format's compression bit
    bad = tmp_path / "scan.laz"
    bad.write_bytes(bytes(data))
    with pytest.raises(InputError, match="LAZ backend") as err:
        read_points(bad)
    assert "scan.laz" in str(err.value)


@pytest.mark.skipif(not AUTZEN.is_file(), reason="needs ../shared/data/lidar/als_autzen")
def test_autzen_tile_in_metres():
    tile = read_las(AUTZEN)
    assert tile.points.shape == (110000, 4) and "9002" in tile.units
    extent = tile.points[:, :3].max(0) - tile.points[:, :3].min(0)
    np.testing.assert_allclose(extent, np.array([1178.0, 562.0, 114.0]) * FOOT, rtol=0.01)
    assert np.bincount(tile.classification).tolist() == [0, 83893, 26107]
