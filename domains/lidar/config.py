"""LiDAR pretraining config: the core schema plus a ``data`` section and sparse-backbone widths."""

from __future__ import annotations

from dataclasses import dataclass, field

from domains.lidar.voxel import VoxelGrid
from jepa_core.config import ModelConfig, ObjectiveConfig, PretrainConfig


@dataclass
class LidarDataConfig:
    sources: list[str] = field(default_factory=lambda: ["data/samples/lidar"])  # dirs, cloud files or list files
    include: list[str] = field(default_factory=list)  # fnmatch patterns on paths; empty: all
    exclude: list[str] = field(default_factory=list)  # fnmatch patterns on paths
    # OpenPCDet keys. x forward, y left, z up (m). 51.2 m x 51.2 m in front of the car, 4 m of height.
    point_cloud_range: list[float] = field(default_factory=lambda: [0.0, -25.6, -3.0, 51.2, 25.6, 1.0])
    voxel_size: list[float] = field(default_factory=lambda: [0.1, 0.1, 0.2])
    max_points_per_voxel: int = 5
    max_voxels: int = 40000
    num_points: int = 20000  # points per padded sample (more: random subsample; fewer: padding)
    target_ratio: float = 0.5  # fraction of BEV cells that are targets
    flip: bool = True  # random mirror about the x axis (y -> -y)
    rotation: list[float] = field(default_factory=lambda: [-0.3927, 0.3927])  # rad about z
    scaling: list[float] = field(default_factory=lambda: [0.95, 1.05])
    # Airborne tiles (domains/lidar/tile.py). Set crop_region [f0, f1] and every sample is a random crop of
    # point_cloud_range's x/y size from a scan, inside the fractions f0..f1 of its x extent (west to east):
    # points outside are never read into a sample, so f1 <= evaluate.py's --train-frac pretrains only on the
    # train side. Crops are centred at x = y = 0 with z = 0 at the ground_percentile percentile of their z.
    # Empty: every sample is a whole scan, as read.
    crop_region: list[float] = field(default_factory=list)
    crops_per_scan: int = 64  # samples per scan in one pass, when cropping
    ground_percentile: float = 1.0  # the crop's label-free ground level (also used by evaluate.py's ALS task)


@dataclass
class LidarModelConfig(ModelConfig):
    embed_dim: int = 64  # BEV token width
    channels: list[int] = field(default_factory=lambda: [16, 32, 64, 64])  # sparse stage widths
    pred_dim: int = 64  # conv predictor width; pred_depth = its 3x3 conv layers
    pred_depth: int = 2


@dataclass
class LidarObjectiveConfig(ObjectiveConfig):
    empty_weight: float = 0.1  # weight of masked empty cells in the loss
    variance_weight: float = 1.0  # hinge on std of normalised embeddings, floor 1/sqrt(D)


@dataclass
class LidarPretrainConfig(PretrainConfig):
    domain: str = "lidar"
    out: str = "runs/lidar"
    model: LidarModelConfig = field(default_factory=LidarModelConfig)
    objective: LidarObjectiveConfig = field(default_factory=LidarObjectiveConfig)
    data: LidarDataConfig = field(default_factory=LidarDataConfig)


def voxel_grid(data: LidarDataConfig) -> VoxelGrid:
    return VoxelGrid(
        point_cloud_range=tuple(data.point_cloud_range),
        voxel_size=tuple(data.voxel_size),
        max_points_per_voxel=data.max_points_per_voxel,
        max_voxels=data.max_voxels,
    )
