"""The LiDAR domain: point clouds, voxels, a sparse BEV backbone and AD-L-JEPA cell masking."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from domains.lidar.config import LidarPretrainConfig, voxel_grid
from domains.lidar.dataset import LidarScans, list_sources, select_clouds
from domains.lidar.encoder import BEVEncoder, SparseBEVTokenizer
from domains.lidar.io import read_points
from domains.lidar.model import BEVJEPA, BEVCellMask, ConvPredictor
from domains.lidar.voxel import crop_to_range, pad_points
from jepa_core.domain import Domain, window_item
from jepa_core.errors import InputError
from jepa_core.masking import MaskSampler

SCAN_RATE_HZ = 10.0  # HDL-64E; written as the export's sampling_rate (one window = one scan)


def prepare_points(points, cfg: DictConfig, path="<points>") -> torch.Tensor:
    """One cloud to the model input: crop to the range, pad/subsample evenly. Shape: (N, 4) -> (P, 5)."""
    d = cfg.data
    inside = crop_to_range(points, d.point_cloud_range)
    if len(inside) == 0:
        raise InputError(
            path,
            f"all {len(points)} points lie outside point_cloud_range {list(d.point_cloud_range)} (x fwd, y left, z up)",
        )
    return torch.from_numpy(pad_points(inside, d.num_points))


class LidarDomain(Domain):
    name = "lidar"
    config_cls = LidarPretrainConfig
    pooling = "mean"

    def sample_shape(self, cfg: DictConfig) -> tuple[int, int]:
        return (cfg.data.num_points, 5)

    def build_tokenizer(self, cfg: DictConfig) -> SparseBEVTokenizer:
        return SparseBEVTokenizer(
            grid=voxel_grid(cfg.data), channels=tuple(cfg.model.channels), embed_dim=cfg.model.embed_dim
        )

    def build_encoder(self, cfg: DictConfig) -> BEVEncoder:
        return BEVEncoder(tokenizer=self.build_tokenizer(cfg))

    def build_model(self, cfg: DictConfig) -> BEVJEPA:
        m, o = cfg.model, cfg.objective
        return BEVJEPA(
            encoder=self.build_encoder(cfg),
            predictor=ConvPredictor(embed_dim=m.embed_dim, hidden=m.pred_dim, depth=m.pred_depth),
            empty_weight=o.empty_weight,
            variance_weight=o.variance_weight,
        )

    def mask_sampler(self, cfg: DictConfig, grid: tuple[int, ...]) -> MaskSampler:
        return BEVCellMask(grid, target_ratio=cfg.data.target_ratio)

    def pretrain_dataset(self, cfg: DictConfig) -> LidarScans:
        d = cfg.data
        return LidarScans(
            select_clouds(d.sources, d.include, d.exclude),
            point_cloud_range=list(d.point_cloud_range),
            num_points=d.num_points,
            aug={"flip": d.flip, "rotation": list(d.rotation), "scaling": list(d.scaling)},
            crop_region=list(d.crop_region),
            crops_per_scan=d.crops_per_scan,
            ground_percentile=d.ground_percentile,
        )

    def training_data(self, cfg: DictConfig) -> dict:
        d = cfg.data
        files = select_clouds(d.sources, d.include, d.exclude)
        out = {"sources": list(d.sources), "exclude": list(d.exclude), "n_scans": len(files),
               "scans": [str(f) for f in files]}  # fmt: skip
        if d.crop_region:  # random crops of airborne tiles, only from this fraction of each tile's x extent
            out["crop_region"] = list(d.crop_region)
        return out

    def input_spec(self, cfg: DictConfig) -> dict:
        d = cfg.data
        grid = voxel_grid(d)
        return {
            "frame": "airborne crop frame: x east, y north, z up (m); crop centre at the range's x/y centre, "
            f"z = 0 at percentile {d.ground_percentile:g} of the crop's z"
            if d.crop_region
            else "LiDAR frame: x forward, y left, z up (m); KITTI Velodyne convention",
            "point_features": ["x", "y", "z", "intensity (reflectance 0-1)"],
            "model_input": f"(num_points={d.num_points}, 5): x, y, z, intensity, valid flag; padded or evenly subsampled",
            "point_cloud_range": list(d.point_cloud_range),
            "voxel_size": list(d.voxel_size),
            "voxel_grid_xyz": list(grid.shape_xyz),
            "max_points_per_voxel": d.max_points_per_voxel,
            "max_voxels": d.max_voxels,
            "voxel_features": "mean of x, y, z, intensity of the points in the voxel",
            "bev_grid_hw": list(self.build_tokenizer(cfg).grid_for(())),
            "bev_cell_m": [d.voxel_size[1] * 8, d.voxel_size[0] * 8],
            "bev_layout": "rows = y (left) bins from y_min, columns = x (forward) bins from x_min",
            "pooling": "mean over all BEV cells (empty cells hold the empty token)",
        }

    def list_records(self, source: Any) -> list[Path]:
        """The records of one input item (folder, list file or record), each one ``iter_windows`` reads alone;
        used to cut a sharded export into parts. Raises ``InputError`` if the item cannot be listed."""
        return list_sources(source)

    def iter_windows(self, source: Any, cfg: DictConfig, *, stride_s: float | None = None) -> Iterator[dict]:
        """One window per scan (``stride_s`` is ignored: a scan is not a time series)."""
        items = [source] if isinstance(source, (str, bytes)) or not hasattr(source, "__iter__") else list(source)
        for item in items:
            try:
                files = list_sources(item)
            except InputError as err:
                yield {"record_id": str(item), "error": str(err)}
                continue
            for path in files:
                try:
                    x = prepare_points(read_points(path), cfg, path)
                except InputError as err:
                    yield {"record_id": path.stem, "error": str(err)}
                    continue
                yield window_item(x, path.stem, path, 0, SCAN_RATE_HZ)


DOMAIN = LidarDomain()
