"""Voxelisation with OpenPCDet's keys, vectorised in torch; padded point batches for the data loader.

A batch of clouds travels as one dense tensor ``(B, P, 5)``: x, y, z, intensity and a validity flag
(> 0: a real point, else padding), so the default collate, Fabric and the core loop need no change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


class VoxelConfigError(ValueError):
    """A point-cloud range / voxel size / backbone stride combination that cannot work."""


@dataclass(frozen=True)
class VoxelGrid:
    """OpenPCDet-style grid: ``point_cloud_range`` [x0, y0, z0, x1, y1, z1] and ``voxel_size`` [vx, vy, vz]."""

    point_cloud_range: tuple[float, ...]
    voxel_size: tuple[float, ...]
    max_points_per_voxel: int = 5
    max_voxels: int = 40000

    def __post_init__(self) -> None:
        r, v = self.point_cloud_range, self.voxel_size
        if len(r) != 6 or len(v) != 3:
            raise VoxelConfigError(f"point_cloud_range needs 6 values and voxel_size 3, got {list(r)}, {list(v)}")
        for axis in range(3):
            extent = r[axis + 3] - r[axis]
            if v[axis] <= 0 or extent <= 0:
                raise VoxelConfigError(
                    f"axis {'xyz'[axis]}: range {r[axis]}..{r[axis + 3]} and voxel {v[axis]} must be > 0"
                )
            n = extent / v[axis]
            if abs(n - round(n)) > 1e-4:
                raise VoxelConfigError(
                    f"axis {'xyz'[axis]}: range extent {extent:g} m is not a whole number of voxels of {v[axis]:g} m "
                    f"({n:.4f}); change point_cloud_range or voxel_size"
                )
        if self.max_points_per_voxel < 1 or self.max_voxels < 1:
            raise VoxelConfigError("max_points_per_voxel and max_voxels must be >= 1")

    @property
    def shape_xyz(self) -> tuple[int, int, int]:
        """Voxels along x, y, z."""
        r, v = self.point_cloud_range, self.voxel_size
        return tuple(int(round((r[a + 3] - r[a]) / v[a])) for a in range(3))

    def check_stride(self, stride: int) -> None:
        """The BEV backbone halves x and y ``log2(stride)`` times: both must divide evenly."""
        nx, ny, _ = self.shape_xyz
        if nx % stride or ny % stride:
            raise VoxelConfigError(
                f"voxel grid {nx} x {ny} (x, y) is not divisible by the backbone's BEV stride {stride}; "
                f"choose point_cloud_range / voxel_size so that both counts are multiples of {stride}"
            )

    def in_range(self, points: torch.Tensor) -> torch.Tensor:
        """Shape: (N, >=3) -> (N,) bool, half-open [lo, hi) on every axis."""
        lo = points.new_tensor(self.point_cloud_range[:3])
        hi = points.new_tensor(self.point_cloud_range[3:])
        return ((points[:, :3] >= lo) & (points[:, :3] < hi)).all(dim=1)

    def voxelize(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean-feature voxels of one cloud.

        Points outside the range are dropped; each voxel averages its first ``max_points_per_voxel``
        points (in input order) and the first ``max_voxels`` voxels (by first point) are kept, as
        OpenPCDet's point-to-voxel does without shuffling.
        Shape: points (N, C) -> features (V, C) float, coords (V, 3) int32 as (z, y, x), counts (V,) int.
        """
        nx, ny, nz = self.shape_xyz
        keep = self.in_range(points)
        points = points[keep]
        lo = points.new_tensor(self.point_cloud_range[:3])
        size = points.new_tensor(self.voxel_size)
        ijk = ((points[:, :3] - lo) / size).floor().long()
        ijk = torch.minimum(ijk.clamp_min(0), ijk.new_tensor([nx - 1, ny - 1, nz - 1]))  # float round-off at hi
        key = (ijk[:, 2] * ny + ijk[:, 1]) * nx + ijk[:, 0]
        uniq, inverse = torch.unique(key, return_inverse=True)
        order = torch.arange(len(key), device=key.device)
        # Rank of each point within its voxel, in input order: sort stably by voxel, subtract the voxel's start.
        sorted_inv, perm = torch.sort(inverse, stable=True)
        starts = torch.searchsorted(sorted_inv, torch.arange(len(uniq), device=key.device))
        rank = torch.empty_like(order)
        rank[perm] = order - starts[sorted_inv]
        used = rank < self.max_points_per_voxel
        counts = torch.bincount(inverse[used], minlength=len(uniq))
        sums = torch.zeros(len(uniq), points.shape[1], dtype=points.dtype, device=points.device)
        sums.index_add_(0, inverse[used], points[used])
        first = torch.full((len(uniq),), len(key), dtype=torch.long, device=key.device)
        first.scatter_reduce_(0, inverse, order, reduce="amin")
        voxel_order = torch.argsort(first)[: self.max_voxels]
        feats = sums[voxel_order] / counts[voxel_order].unsqueeze(1).to(points.dtype)
        k = uniq[voxel_order]
        coords = torch.stack([k // (nx * ny), (k // nx) % ny, k % nx], dim=1).int()  # (z, y, x)
        return feats, coords, counts[voxel_order]

    def voxelize_batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded batch to spconv inputs.

        Shape: x (B, P, 5) -> features (V, 4), indices (V, 4) int32 as (batch, z, y, x).
        """
        feats, idx = [], []
        for b in range(x.shape[0]):
            pts = x[b][x[b, :, 4] > 0, :4]
            f, c, _ = self.voxelize(pts)
            feats.append(f)
            idx.append(torch.cat([torch.full_like(c[:, :1], b), c], dim=1))
        return torch.cat(feats), torch.cat(idx)


def pad_points(points: np.ndarray, num_points: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """One cloud to a fixed-size (num_points, 5) array with a validity column.

    Clouds with more points are subsampled at random (``rng``) or, without ``rng``, evenly.
    """
    if len(points) > num_points:
        points = points[subsample_indices(len(points), num_points, rng)]
    out = np.zeros((num_points, 5), dtype=np.float32)
    out[: len(points), :4] = points[:, :4]
    out[: len(points), 4] = 1.0
    return out


def subsample_indices(n: int, num_points: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Sorted indices of ``min(n, num_points)`` of ``n`` points: at random with ``rng``, else evenly spaced."""
    if n <= num_points:
        return np.arange(n)
    pick = rng.choice(n, num_points, replace=False) if rng is not None else np.linspace(0, n - 1, num_points)
    return np.sort(pick.astype(np.int64))


def range_mask(points: np.ndarray, point_cloud_range) -> np.ndarray:
    """Points inside [lo, hi) on every axis. Shape: (N, >=3) -> (N,) bool."""
    r = np.asarray(point_cloud_range, dtype=np.float32)
    return ((points[:, :3] >= r[:3]) & (points[:, :3] < r[3:])).all(axis=1)


def crop_to_range(points: np.ndarray, point_cloud_range) -> np.ndarray:
    """Points inside [lo, hi) on every axis. Shape: (N, C) -> (M, C)."""
    return points[range_mask(points, point_cloud_range)]
