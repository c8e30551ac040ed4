"""ASPRS LAS/LAZ reader (laspy): points in metres in a local frame, the ASPRS classes, and the CRS units.

Airborne tiles come in projected coordinates (UTM, state plane) of 10^5-10^6 units, which float32 holds
only to a few cm. The reader therefore subtracts a local origin in float64 before the cast: the centre
of the points' x/y bounding box and their minimum z. It then converts to metres with the CRS's linear
unit, read from (in this order, LAS 1.4 files with the WKT bit set try WKT first):

1. the GeoKeyDirectory VLR: ``ProjLinearUnitsGeoKey`` (3076; ``VerticalUnitsGeoKey`` 4099 for z),
2. the OGC WKT VLR: the ``UNIT`` of the projected CRS (and of a ``VERT_CS``, for z),
3. a projected EPSG code of a UTM family (metres),
4. no CRS at all: the coordinates are **assumed to be metres** (``LasTile.units`` says so).

Geographic (degrees) and geocentric CRSs are refused, as is a projected CRS whose unit cannot be
found without a CRS database (pyproj is not a dependency). Bad input raises ``InputError``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from domains.lidar.io import MAX_BYTES, _check_budget, check_points
from jepa_core.errors import InputError

# GeoTIFF / EPSG unit codes -> (name, metres per unit)
LINEAR_UNITS = {9001: ("metre", 1.0), 9002: ("foot", 0.3048), 9003: ("US survey foot", 1200 / 3937),
                9005: ("Clarke's foot", 0.3047972654), 9036: ("kilometre", 1000.0)}  # fmt: skip
GT_MODEL_TYPE, PROJ_LINEAR_UNITS, PROJ_LINEAR_UNIT_SIZE, VERTICAL_UNITS, PROJECTED_CRS = 1024, 3076, 3077, 4099, 3072
USER_DEFINED = 32767
UTM_EPSG = (range(32601, 32661), range(32701, 32761), range(26901, 26924), range(25828, 25839))  # all metres
INTENSITY_MAX = 65535.0  # LAS intensity is uint16


@dataclass(frozen=True)
class LasTile:
    """One LAS file: ``points`` (N, 4) float32 x, y, z (m, local frame), intensity in [0, 1]; ``classification``
    (N,) uint8 ASPRS classes. File coordinate = ``origin + local / unit_m`` (per axis: x, y use
    ``unit_m[0]``, z ``unit_m[1]``)."""

    points: np.ndarray
    classification: np.ndarray
    origin: tuple[float, float, float]  # file coordinates (file units) of the local (0, 0, 0)
    unit_m: tuple[float, float]  # metres per file unit: horizontal, vertical
    units: str  # where the unit came from


def _laspy(path: Path):
    try:
        import laspy
    except ImportError:
        raise InputError(path, "reading LAS/LAZ needs laspy: pip install 'jepa-suite[lidar]'") from None
    return laspy


def read_las(path: str | Path, *, max_bytes: int = MAX_BYTES) -> LasTile:
    """Read a LAS (or, with a LAZ backend, LAZ) file. The raw header is checked first (sizes against the file,
    the point count against ``max_bytes``: about 1.9M points of format 3 at the default 128 MB), so that a
    hostile header cannot make laspy allocate or loop over what the file does not hold."""
    path = Path(path)
    laspy = _laspy(path)
    n, record, compressed = _check_header(path, max_bytes)
    if compressed and not laspy.LazBackend.detect_available():
        raise InputError(path, "LAZ (compressed) points need a LAZ backend: pip install lazrs (or laszip)")
    try:
        with laspy.open(path, encoding_errors="replace") as reader:
            header = reader.header
            units = crs_units(header, path)
            data = reader.read_points(n)
    except InputError:
        raise
    except Exception as err:  # laspy raises LaspyException, ValueError, struct.error, ... on broken files
        raise InputError(path, f"not a readable LAS file ({type(err).__name__}: {_first_line(err)})") from None
    if len(data) != n:
        raise InputError(path, f"the header declares {n} points but {len(data)} were read")
    return _local_tile(data, header, units, path)


_HEADER = struct.Struct("<4s20sBB64sHHHIIBHI")  # LAS 1.0-1.4 public header up to the legacy point count
_HEADER_14 = struct.Struct("<QQIQ")  # at byte 227: waveform start, first EVLR, EVLR count, 64-bit point count
RECORD_SIZES = (20, 28, 26, 34, 57, 63, 30, 36, 38, 59, 67)  # bytes per point of formats 0-10


def _check_header(path: Path, max_bytes: int) -> tuple[int, int, bool]:
    """(points, bytes per point, compressed) from the raw public header, after checking it against the file:
    signature, version, header/VLR/EVLR sizes, point format, the memory budget and (uncompressed) truncation."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(375)
    if len(head) < 227 or head[:4] != b"LASF":
        what = "no LASF signature" if len(head) >= 4 and head[:4] != b"LASF" else f"{size} bytes: too short"
        raise InputError(path, f"not a readable LAS file ({what})")
    _, _, major, minor, _, _, _, header_size, offset, n_vlrs, fmt, record, n = _HEADER.unpack_from(head)
    if major != 1 or minor > 4:
        raise InputError(path, f"not a readable LAS file (version {major}.{minor}; 1.0 to 1.4 are read)")
    if minor >= 4 and header_size >= 375:
        _, first_evlr, n_evlrs, n = _HEADER_14.unpack_from(head, 227)
        if n_evlrs and first_evlr + 60 * n_evlrs > size:
            raise InputError(path, f"truncated: the header declares {n_evlrs} extended VLRs past the end of the file")
    problem = None
    if not 227 <= header_size <= offset:
        problem = f"header size {header_size} and point data offset {offset} do not fit"
    elif 54 * n_vlrs > offset - header_size:
        problem = f"{n_vlrs} VLRs declared, more than fit before the point data"
    elif (fmt & 0x3F) >= len(RECORD_SIZES) or record < RECORD_SIZES[fmt & 0x3F]:
        problem = f"point format {fmt & 0x3F} with {record}-byte records"
    if problem:
        raise InputError(path, f"not a readable LAS file ({problem})")
    if n == 0:
        raise InputError(path, "the point cloud is empty (0 points)")
    _check_budget(path, n * (record + 32), max_bytes, f"{n} points declared in the header")
    compressed = bool(fmt & 0x80)
    if not compressed and (size - offset) // record < n:
        raise InputError(
            path, f"truncated: the header declares {n} points but the file holds {max(size - offset, 0) // record}"
        )
    return n, record, compressed


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [""])[0]


def _local_tile(data, header, units: tuple[float, float, str], path: Path) -> LasTile:
    """Scale the integer coordinates in float64, move them to the local origin, then metres and float32.
    One axis at a time, so that the peak memory is the raw records plus about 32 bytes a point."""
    unit_xy, unit_z, source = units
    out = np.empty((len(data), 4), dtype=np.float32)
    origin = np.zeros(3)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd scale factors: check_points names the result
        for axis, key in enumerate("XYZ"):
            v = np.asarray(data[key], np.float64) * float(header.scales[axis]) + float(header.offsets[axis])
            origin[axis] = (v.min() + v.max()) / 2 if axis < 2 else v.min()  # x/y box centre, lowest z
            out[:, axis] = (v - origin[axis]) * (unit_xy if axis < 2 else unit_z)
        out[:, 3] = np.asarray(data["intensity"], np.float64) / INTENSITY_MAX
        points = check_points(out, path)
    classes = np.asarray(data["classification"], dtype=np.uint8)
    return LasTile(points, classes, tuple(float(v) for v in origin), (unit_xy, unit_z), source)


# ----------------------------------------------------------------------------- CRS units


def crs_units(header, path: str | Path = "<las>") -> tuple[float, float, str]:
    """(metres per unit horizontally, vertically, description) from the header's (E)VLRs."""
    vlrs = [*header.vlrs, *(header.evlrs or [])]
    keys = _geo_keys(vlrs)
    wkt = next((v.string for v in vlrs if type(v).__name__ == "WktCoordinateSystemVlr" and v.string.strip()), None)
    model = keys.get(GT_MODEL_TYPE)
    if model in (2, 3):
        raise InputError(path, f"{'geographic (degrees)' if model == 2 else 'geocentric'} CRS: reproject the "
                               "file to a projected CRS in metres or feet")  # fmt: skip
    found = [_geokey_units(keys, path), _wkt_units(wkt, path)]
    if header.version.minor >= 4 and header.global_encoding.wkt:
        found.reverse()
    for units in found:
        if units is not None:
            return units
    code = keys.get(PROJECTED_CRS)
    if code is not None and code != USER_DEFINED:
        if any(code in r for r in UTM_EPSG):
            return 1.0, 1.0, f"EPSG:{code} (UTM, metres)"
        raise InputError(path, f"projected CRS EPSG:{code} with no linear unit in the file (GeoKey 3076 or WKT "
                               "UNIT); its unit cannot be looked up without a CRS database")  # fmt: skip
    return 1.0, 1.0, "no CRS in the file: assumed metres"


def _geo_keys(vlrs) -> dict[int, float]:
    """GeoKey id -> value (short values, and doubles from the GeoDoubleParams VLR)."""
    directory = next((v for v in vlrs if type(v).__name__ == "GeoKeyDirectoryVlr"), None)
    if directory is None:
        return {}
    doubles = next((v.doubles for v in vlrs if type(v).__name__ == "GeoDoubleParamsVlr"), [])
    keys = {}
    for k in directory.geo_keys:
        if k.tiff_tag_location == 0:
            keys[int(k.id)] = int(k.value_offset)
        elif k.tiff_tag_location == 34736 and k.value_offset < len(doubles):
            d = doubles[k.value_offset]
            keys[int(k.id)] = float(getattr(d, "value", d))
    return keys


def _unit_code(code: int, keys: dict[int, float], what: str, path) -> tuple[float, str]:
    if code == USER_DEFINED and what == "ProjLinearUnits" and keys.get(PROJ_LINEAR_UNIT_SIZE, 0) > 0:
        return float(keys[PROJ_LINEAR_UNIT_SIZE]), f"user-defined {keys[PROJ_LINEAR_UNIT_SIZE]:g} m"
    if code not in LINEAR_UNITS:
        raise InputError(path, f"GeoKey {what} holds linear unit code {code}, not one of {sorted(LINEAR_UNITS)}")
    name, metres = LINEAR_UNITS[code]
    return metres, f"{code} ({name})"


def _geokey_units(keys: dict[int, float], path) -> tuple[float, float, str] | None:
    if PROJ_LINEAR_UNITS not in keys:
        return None
    xy, name = _unit_code(int(keys[PROJ_LINEAR_UNITS]), keys, "ProjLinearUnits", path)
    z, z_name = (xy, "as horizontal") if VERTICAL_UNITS not in keys else _unit_code(
        int(keys[VERTICAL_UNITS]), keys, "VerticalUnits", path)  # fmt: skip
    return xy, z, f"GeoKey ProjLinearUnits {name}, vertical {z_name}"


_WKT_TOKENS = re.compile(r'"(?:[^"]|"")*"|[\[\]()]|[^\[\](),"\s]+')
PROJECTED, GEOGRAPHIC = {"PROJCS", "PROJCRS", "PROJECTEDCRS"}, {"GEOGCS", "GEOGCRS", "GEOGRAPHICCRS", "GEOCCS"}
VERTICAL, UNITS = {"VERT_CS", "VERTCRS", "VERTICALCRS"}, {"UNIT", "LENGTHUNIT"}


def _wkt_tree(text: str) -> list:
    """WKT as nested lists ``[KEYWORD, arg, ...]`` (strings unquoted). Raises IndexError/ValueError if broken."""
    root: list = ["", []]
    stack = [root[1]]
    for tok in _WKT_TOKENS.findall(text):
        if tok in "[(":
            node = [stack[-1].pop()]
            stack[-1].append(node)
            stack.append(node)
        elif tok in "])":
            stack.pop()
        else:
            stack[-1].append(tok[1:-1] if tok.startswith('"') else tok)
    if len(stack) != 1 or not root[1] or not isinstance(root[1][0], list):
        raise ValueError("unbalanced brackets")
    return root[1][0]


def _wkt_unit(node: list) -> float | None:
    """The length unit of a CRS node: a direct UNIT child, else the first one in an AXIS (WKT2)."""
    for child in [c for c in node if isinstance(c, list) and c[0].upper() in UNITS]:
        return float(child[2])
    for axis in [c for c in node if isinstance(c, list) and c[0].upper() == "AXIS"]:
        for child in [c for c in axis if isinstance(c, list) and c[0].upper() in UNITS]:
            return float(child[2])
    return None


def _wkt_units(wkt: str | None, path) -> tuple[float, float, str] | None:
    if not wkt:
        return None
    try:
        tree = _wkt_tree(wkt)
        parts = [c for c in tree[1:] if isinstance(c, list)] if tree[0].upper().startswith("COMP") else [tree]
        kinds = {c[0].upper(): c for c in parts}
        horizontal = next((kinds[k] for k in kinds if k in PROJECTED | GEOGRAPHIC), None)
        if horizontal is not None and horizontal[0].upper() in GEOGRAPHIC:
            raise InputError(path, "geographic (degrees) CRS in the WKT: reproject the file to a projected CRS")
        xy = _wkt_unit(horizontal) if horizontal is not None else None
        vertical = next((kinds[k] for k in kinds if k in VERTICAL), None)
        z = _wkt_unit(vertical) if vertical is not None else None
    except InputError:
        raise
    except (IndexError, ValueError, TypeError, AttributeError) as err:
        raise InputError(path, f"unreadable OGC WKT CRS ({type(err).__name__}: {err})") from None
    if xy is None or xy <= 0 or (z is not None and z <= 0):
        return None
    return xy, z or xy, f"WKT UNIT {xy:g} m, vertical {'as horizontal' if z is None else f'{z:g} m'}"
