"""Airborne tiles: a spatial train/test split along x, square crops, and the crop frame the encoder sees.

A tile (``las.read_las``: x east, y north, z up, metres) is split in space, never at random: the west
part (fractions ``[0, train_frac)`` of its x extent) trains, the east part tests, and a gap of at least one
crop width lies between them, so that no crop and no BEV cell holds points of both sides.
A crop is a rectangle of the model's ``point_cloud_range`` x/y size. In the **crop frame** its centre sits at
the range's x/y centre (x = y = 0 for ``configs/als.yaml``), and z = ``ground_z`` (0 by default) at the
``ground_percentile`` percentile of the crop's z. That is a label-free ground level: on a sloping crop the
uphill ground lies above it, and a crop that is all roof puts the roof at 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from jepa_core.errors import InputError


def fraction_mask(x: np.ndarray, lo_frac: float, hi_frac: float) -> np.ndarray:
    """Points whose x lies in ``[lo_frac, hi_frac)`` of the x extent of ``x`` (a fraction of 1 includes the
    east edge). Shape: (N,) -> (N,) bool."""
    x0, width = float(x.min()), float(x.max() - x.min())
    keep = np.ones(len(x), dtype=bool)
    if lo_frac > 0:
        keep &= x >= x0 + lo_frac * width
    if hi_frac < 1:
        keep &= x < x0 + hi_frac * width
    return keep


@dataclass(frozen=True)
class TileSplit:
    train: np.ndarray  # (N,) bool
    test: np.ndarray  # (N,) bool
    train_x: tuple[float, float]  # x interval of each side (m, tile frame), for the report
    test_x: tuple[float, float]
    gap_m: float


def split_tile(
    points: np.ndarray, *, train_frac: float, test_frac: float | None, min_gap: float, source: str = "<tile>"
) -> TileSplit:
    """West ``train_frac`` of the x extent trains; the east ``test_frac`` tests (default: all of the rest
    beyond ``min_gap`` metres). Raises ``InputError`` when the sides would be closer than ``min_gap``."""
    x = points[:, 0]
    x0, x1 = float(x.min()), float(x.max())
    width = x1 - x0
    if test_frac is None:
        test_frac = 1.0 - train_frac - min_gap / max(width, 1e-9)
    gap = (1.0 - train_frac - test_frac) * width
    if not (0 < train_frac < 1 and 0 < test_frac < 1) or gap < min_gap - 1e-6:
        raise InputError(
            source,
            f"cannot split a tile {width:.1f} m wide into train {train_frac:g} and test {test_frac:.3g} of its x extent "
            f"with a gap of at least {min_gap:g} m (one crop); use a smaller --train-frac or --test-frac",
        )
    return TileSplit(
        train=fraction_mask(x, 0.0, train_frac),
        test=fraction_mask(x, 1.0 - test_frac, 1.0),
        train_x=(x0, x0 + train_frac * width),
        test_x=(x1 - test_frac * width, x1),
        gap_m=gap,
    )


def tile_crops(points: np.ndarray, mask: np.ndarray, size: Sequence[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Non-overlapping ``size`` (x, y) rectangles covering the masked points, anchored at their south-west
    corner. Every masked point lies in exactly one crop; empty rectangles are skipped.

    Returns [(point indices (M,), crop centre (2,) in the tile frame)], west to east, then south to north.
    """
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    xy = points[idx, :2].astype(np.float64)
    corner, size = xy.min(axis=0), np.asarray(size, dtype=np.float64)
    ij = np.floor((xy - corner) / size).astype(np.int64)  # (M, 2) crop column, row
    key = ij[:, 0] * (ij[:, 1].max() + 1) + ij[:, 1]
    order = np.argsort(key, kind="stable")
    _, starts = np.unique(key[order], return_index=True)
    return [(idx[members], corner + (ij[members[0]] + 0.5) * size) for members in np.split(order, starts[1:])]


def ground_level(z: np.ndarray, percentile: float) -> float:
    """A label-free ground height: the ``percentile`` percentile of the z of a crop's points (0 if none)."""
    return float(np.percentile(z, percentile)) if len(z) else 0.0


def crop_frame(
    points: np.ndarray,
    centre: Sequence[float],
    ground: float,
    point_cloud_range: Sequence[float],
    ground_z: float = 0.0,
) -> np.ndarray:
    """Tile-frame points to the crop frame: ``centre`` to the range's x/y centre, ``ground`` to ``ground_z``.
    Shape: (N, C) -> (N, C) float32."""
    r = point_cloud_range
    out = np.array(points, dtype=np.float32, copy=True)
    out[:, 0] += np.float32((r[0] + r[3]) / 2 - centre[0])
    out[:, 1] += np.float32((r[1] + r[4]) / 2 - centre[1])
    out[:, 2] += np.float32(ground_z - ground)
    return out


def random_crop(points: np.ndarray, size: Sequence[float], ground_percentile: float) -> np.ndarray:
    """A crop at a random place inside the x/y extent of ``points``, drawn from torch's RNG (so that a
    resumed run replays it), centred at x = y = 0 with z = 0 at its ground level.

    Every point within the crop's circumscribed circle is kept, so that a rotation about z still fills the
    rectangle; cut it to the range afterwards. Shape: (N, C) -> (M, C) float32.
    """
    size = np.asarray(size, dtype=np.float64)
    lo, hi = points[:, :2].min(axis=0).astype(np.float64), points[:, :2].max(axis=0).astype(np.float64)
    room = np.maximum(hi - lo - size, 0.0)
    centre = lo + np.minimum(size, hi - lo) / 2 + room * torch.rand(2, dtype=torch.float64).numpy()
    d = points[:, :2] - centre.astype(np.float32)
    inside = (np.abs(d) < size.astype(np.float32) / 2).all(axis=1)
    window = (d * d).sum(axis=1) <= np.float32(math.hypot(*size) / 2) ** 2
    ground = ground_level(points[inside, 2], ground_percentile)
    return crop_frame(points[window], centre, ground, (-1, -1, 0, 1, 1, 0))
