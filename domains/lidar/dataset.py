"""Unlabelled scans for pretraining: read (or cut random crops of airborne tiles), augment, crop to the range, pad."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from domains.lidar.io import CLOUD_EXTS, find_clouds, read_points
from domains.lidar.tile import fraction_mask, random_crop
from domains.lidar.voxel import crop_to_range, pad_points
from jepa_core.config import ConfigError
from jepa_core.data import filter_by_name
from jepa_core.errors import InputError


def list_sources(sources: str | Path | Sequence[str | Path]) -> list[Path]:
    """Cloud files from folders, files, or list files (``.txt``: one path a line, relative to the list)."""
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    out: list[Path] = []
    for item in map(Path, items):
        if item.is_file() and item.suffix.lower() == ".txt":
            lines = [ln.strip() for ln in item.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
            out += [p for ln in lines for p in find_clouds(item.parent / ln)]
        else:
            out += find_clouds(item)
    return out


def select_clouds(sources, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Path]:
    """Cloud files from ``sources`` filtered by fnmatch patterns on their full paths."""
    files = list_sources(sources)
    keep = filter_by_name(files, include, exclude, key=str)
    if not keep:
        raise InputError(", ".join(map(str, sources)), "no point cloud left after include/exclude filters")
    return keep


def augment(points: np.ndarray, *, flip: bool, rotation: Sequence[float], scaling: Sequence[float]) -> np.ndarray:
    """Global augmentations (OpenPCDet's), drawn from torch's RNG so that resume replays them."""
    pts = points.copy()
    if flip and torch.rand(()).item() < 0.5:
        pts[:, 1] = -pts[:, 1]
    angle = rotation[0] + (rotation[1] - rotation[0]) * torch.rand(()).item()
    c, s = math.cos(angle), math.sin(angle)
    pts[:, :2] = pts[:, :2] @ np.array([[c, s], [-s, c]], dtype=np.float32)  # rotate by +angle about z
    pts[:, :3] *= scaling[0] + (scaling[1] - scaling[0]) * torch.rand(()).item()
    return pts


class LidarScans(Dataset):
    """Pretraining samples ``{"x": (num_points, 5), "record_id": str}``: one per scan, or with ``crop_region``
    ``crops_per_scan`` random crops per scan (airborne tiles; see ``LidarDataConfig.crop_region``)."""

    CACHED_SCANS = 8  # cropping reads a scan once, then cuts many crops from it

    def __init__(
        self,
        files: Sequence[Path],
        *,
        point_cloud_range,
        num_points: int,
        aug: dict | None = None,
        crop_region: Sequence[float] = (),
        crops_per_scan: int = 64,
        ground_percentile: float = 1.0,
    ) -> None:
        if not files:
            raise InputError("<sources>", "no point clouds to pretrain on")
        if crop_region and not (len(crop_region) == 2 and 0 <= crop_region[0] < crop_region[1] <= 1):
            raise ConfigError(f"data.crop_region must be [f0, f1] with 0 <= f0 < f1 <= 1, got {list(crop_region)}")
        if crop_region and crops_per_scan < 1:
            raise ConfigError(f"data.crops_per_scan must be >= 1, got {crops_per_scan}")
        self.files, self.range, self.num_points, self.aug = list(files), list(point_cloud_range), num_points, aug
        self.crop_region, self.ground_percentile = list(crop_region), ground_percentile
        self.per_scan = crops_per_scan if crop_region else 1
        self._cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.files) * self.per_scan

    def _region(self, f: int) -> np.ndarray:
        """The points of scan ``f`` inside ``crop_region`` (read once, then cached)."""
        if f not in self._cache:
            points = read_points(self.files[f])
            points = points[fraction_mask(points[:, 0], *self.crop_region)]
            if len(self._cache) >= self.CACHED_SCANS:
                self._cache.pop(next(iter(self._cache)))
            self._cache[f] = points
        return self._cache[f]

    def __getitem__(self, i: int) -> dict:
        f = i // self.per_scan
        r = self.range
        if self.crop_region:  # a crop centred at x = y = 0; augmented there, then moved to the range's centre
            points = random_crop(self._region(f), (r[3] - r[0], r[4] - r[1]), self.ground_percentile)
        else:
            points = read_points(self.files[f])
        if self.aug:
            points = augment(points, **self.aug)
        if self.crop_region:
            points[:, :2] += np.array([(r[0] + r[3]) / 2, (r[1] + r[4]) / 2], dtype=np.float32)
        points = crop_to_range(points, r)
        rng = np.random.default_rng(int(torch.randint(2**31, ()).item())) if self.aug else None
        record = self.files[f].stem + (f"/crop{i % self.per_scan}" if self.crop_region else "")
        return {"x": torch.from_numpy(pad_points(points, self.num_points, rng)), "record_id": record}


__all__ = ["CLOUD_EXTS", "LidarScans", "augment", "list_sources", "select_clouds"]
