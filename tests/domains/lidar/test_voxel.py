"""Voxeliser against a brute-force reference, OpenPCDet's caps, divisibility errors."""

import numpy as np
import pytest
import torch

from domains.lidar.voxel import VoxelConfigError, VoxelGrid, pad_points

GRID = VoxelGrid(point_cloud_range=(0, -4, -2, 8, 4, 2), voxel_size=(0.5, 0.5, 0.5), max_points_per_voxel=3)


def _reference(points, grid):
    """Plain-Python OpenPCDet voxelisation: dict of voxels in first-point order, first K points each."""
    lo, size = np.array(grid.point_cloud_range[:3]), np.array(grid.voxel_size)
    voxels: dict = {}
    for p in points:
        if not ((p[:3] >= lo) & (p[:3] < np.array(grid.point_cloud_range[3:]))).all():
            continue
        ijk = tuple(np.floor((p[:3] - lo) / size).astype(int))
        voxels.setdefault(ijk, []).append(p)
    voxels = dict(list(voxels.items())[: grid.max_voxels])
    coords = np.array([(k[2], k[1], k[0]) for k in voxels])
    feats = np.array([np.mean(v[: grid.max_points_per_voxel], axis=0) for v in voxels.values()])
    counts = np.array([min(len(v), grid.max_points_per_voxel) for v in voxels.values()])
    return feats, coords, counts


@pytest.mark.parametrize("max_voxels", [100000, 7])
def test_matches_reference(max_voxels):
    rng = np.random.default_rng(0)
    pts = rng.uniform([-1, -5, -3, 0], [9, 5, 3, 1], size=(400, 4)).astype(np.float32)
    pts = np.concatenate([pts, np.repeat(pts[:5], 4, axis=0)])  # crowded voxels hit the per-voxel cap
    grid = VoxelGrid(**{**GRID.__dict__, "max_voxels": max_voxels})
    feats, coords, counts = grid.voxelize(torch.from_numpy(pts))
    r_feats, r_coords, r_counts = _reference(pts, grid)
    np.testing.assert_array_equal(coords.numpy(), r_coords)
    np.testing.assert_array_equal(counts.numpy(), r_counts)
    np.testing.assert_allclose(feats.numpy(), r_feats, rtol=1e-5, atol=1e-6)
    assert counts.max() == 3 and len(coords) == min(max_voxels, len(r_coords))


def test_agrees_with_spconv_point_to_voxel():
    """Same voxel set and means as spconv's own PointToVoxel (without its caps binding)."""
    utils = pytest.importorskip("spconv.pytorch.utils")
    rng = np.random.default_rng(1)
    pts = torch.from_numpy(rng.uniform([0, -4, -2, 0], [8, 4, 2, 1], size=(300, 4)).astype(np.float32))
    grid = VoxelGrid(**{**GRID.__dict__, "max_points_per_voxel": 50})
    feats, coords, _ = grid.voxelize(pts)
    gen = utils.PointToVoxel(vsize_xyz=list(grid.voxel_size), coors_range_xyz=list(grid.point_cloud_range),
                             num_point_features=4, max_num_voxels=10000, max_num_points_per_voxel=50)  # fmt: skip
    v, c, n = gen(pts)
    ref = {tuple(ci.tolist()): (vi[: int(ni)].mean(0)) for vi, ci, ni in zip(v, c, n, strict=True)}
    assert len(ref) == len(coords)
    for f, co in zip(feats, coords, strict=True):
        torch.testing.assert_close(f, ref[tuple(co.tolist())], rtol=1e-5, atol=1e-5)


def test_divisibility_errors():
    with pytest.raises(VoxelConfigError, match="not a whole number of voxels"):
        VoxelGrid(point_cloud_range=(0, -40, -3, 70.4, 40, 1), voxel_size=(0.3, 0.05, 0.1))
    grid = VoxelGrid(point_cloud_range=(0, -4, -2, 6, 4, 2), voxel_size=(0.5, 0.5, 0.5))  # 12 x 16 voxels
    grid.check_stride(4)
    with pytest.raises(VoxelConfigError, match="not divisible by the backbone's BEV stride 8"):
        grid.check_stride(8)
    with pytest.raises(VoxelConfigError, match="6 values"):
        VoxelGrid(point_cloud_range=(0, 1, 2), voxel_size=(1, 1, 1))


def test_pad_points():
    pts = np.arange(40, dtype=np.float32).reshape(10, 4)
    padded = pad_points(pts, 16)
    assert padded.shape == (16, 5) and padded[:10, 4].all() and not padded[10:].any()
    sub = pad_points(pts, 4)
    assert sub[:, 4].all() and len(np.unique(sub[:, 0])) == 4


def test_batch_voxelisation_ignores_padding():
    pts = torch.tensor([[1.0, 0.0, 0.0, 0.5], [1.1, 0.1, 0.1, 0.5]])
    x = torch.from_numpy(np.stack([pad_points(pts.numpy(), 8), pad_points(pts[:1].numpy(), 8)]))
    feats, idx = GRID.voxelize_batch(x)
    assert idx[:, 0].tolist() == [0, 1] and len(feats) == 2  # zero-padded rows would have hit voxel (0, 8, 2)
