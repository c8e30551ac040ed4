"""Small LAS files written with laspy: a GeoKey or WKT CRS in any unit, and a structured airborne tile
(a gently sloping ground plane, class 2, with box buildings, class 1) in feet or metres."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

FOOT = 0.3048
# Oregon State Plane-like coordinates (feet), as in the Autzen tile: float32 would lose cm here
STATE_PLANE_FT = (636000.0, 848900.0, 400.0)
WKT_FT = ('PROJCS["NAD83 / Oregon Lambert (ft)",GEOGCS["NAD83",DATUM["NAD83",SPHEROID["GRS 1980",6378137,'
          '298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic_2SP"],'
          'PARAMETER["false_easting",1312335.958],UNIT["foot",0.3048,AUTHORITY["EPSG","9002"]]]')  # fmt: skip
WKT_GEOGRAPHIC = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],UNIT["degree",0.0174532925199433]]'
)


def geokeys(keys: dict[int, int]) -> bytes:
    """A GeoKeyDirectory VLR payload: header (1, 1, 0, n) then (id, location 0, count 1, value) per key."""
    out = struct.pack("<4H", 1, 1, 0, len(keys))
    for key, value in sorted(keys.items()):
        out += struct.pack("<4H", key, 0, 1, value)
    return out


def write_las(
    path: Path,
    xyz: np.ndarray,
    *,
    classes: np.ndarray | None = None,
    intensity: np.ndarray | None = None,
    keys: dict[int, int] | None = None,
    wkt: str | None = None,
    scale: float = 0.01,
) -> Path:
    """Write file-unit coordinates ``xyz`` (N, 3) as LAS 1.2 point format 3, with optional CRS VLRs."""
    import laspy

    header = laspy.LasHeader(point_format=3, version="1.2")
    header.scales = np.full(3, scale)
    header.offsets = np.floor(xyz.min(axis=0)) if len(xyz) else np.zeros(3)
    if keys is not None:
        header.vlrs.append(laspy.VLR("LASF_Projection", 34735, record_data=geokeys(keys)))
    if wkt is not None:
        header.vlrs.append(laspy.VLR("LASF_Projection", 2112, record_data=wkt.encode() + b"\0"))
    las = laspy.LasData(header)
    las.x, las.y, las.z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    n = len(xyz)
    las.intensity = np.zeros(n, np.uint16) if intensity is None else intensity.astype(np.uint16)
    las.classification = np.ones(n, np.uint8) if classes is None else classes.astype(np.uint8)
    las.write(path)
    return path


def building_tile(size=(64.0, 16.0), spacing: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tile in metres from (0, 0): ground (class 2) on a 2 % slope in x, and box buildings 3-6 m tall
    (class 1: roof points, no ground beneath them). Returns xyz (N, 3) and classes (N,)."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(0, size[0], spacing), np.arange(0, size[1], spacing), indexing="ij")
    xy = np.stack([gx.ravel(), gy.ravel()], axis=1) + rng.uniform(0, spacing, (gx.size, 2))
    z = 0.02 * xy[:, 0] + rng.normal(0, 0.03, len(xy))
    roof = np.zeros(len(xy), dtype=bool)
    for cx in np.arange(4.0, size[0] - 4, 9.0):  # one building every 9 m along x, alternating sides in y
        cy = size[1] * (0.3 if int(cx) % 2 else 0.7)
        w, h = rng.uniform(3.5, 5.0, 2), rng.uniform(3.0, 6.0)
        inside = (np.abs(xy[:, 0] - cx) < w[0]) & (np.abs(xy[:, 1] - cy) < w[1])
        z[inside] += h + rng.normal(0, 0.05, inside.sum())
        roof |= inside
    return np.concatenate([xy, z[:, None]], axis=1), np.where(roof, 1, 2)
