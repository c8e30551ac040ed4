"""Unlabelled scans for pretraining: read, augment (flip, z-rotation, scaling), crop, pad."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from domains.lidar.io import CLOUD_EXTS, find_clouds, read_points
from domains.lidar.voxel import crop_to_range, pad_points
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
    """One item per scan: ``{"x": (num_points, 5), "record_id": str}``."""

    def __init__(self, files: Sequence[Path], *, point_cloud_range, num_points: int, aug: dict | None = None) -> None:
        if not files:
            raise InputError("<sources>", "no point clouds to pretrain on")
        self.files, self.range, self.num_points, self.aug = list(files), point_cloud_range, num_points, aug

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> dict:
        points = read_points(self.files[i])
        if self.aug:
            points = augment(points, **self.aug)
        points = crop_to_range(points, self.range)
        rng = np.random.default_rng(int(torch.randint(2**31, ()).item())) if self.aug else None
        return {"x": torch.from_numpy(pad_points(points, self.num_points, rng)), "record_id": self.files[i].stem}


__all__ = ["CLOUD_EXTS", "LidarScans", "augment", "list_sources", "select_clouds"]
