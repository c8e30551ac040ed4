"""One scan through a trained encoder: BEV occupancy, PCA colours of cell embeddings, foreground heat map.

Used by the app page; the foreground probe is the ``fg_probe.json`` that ``evaluate.py --save-probe``
writes into the model directory (a class-balanced linear probe on the training frames' cells).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from domains.lidar.cell_eval import bev_cells_of_points
from domains.lidar.domain import prepare_points
from domains.lidar.io import Box3D, read_points
from jepa_core.errors import require_finite
from jepa_core.eval.probes import SavedLinearProbe
from jepa_core.pretrained import Pretrained, load_pretrained

PROBE_FILE = "fg_probe.json"


@dataclass
class LidarModel:
    pretrained: Pretrained
    probe: SavedLinearProbe | None


@dataclass
class LidarAnalysis:
    points: np.ndarray  # (N, 4) the cloud as read
    used: np.ndarray  # (M, 4) the points the encoder saw (cropped, subsampled)
    occupancy: np.ndarray  # (H, W) points per BEV cell
    embedding_rgb: np.ndarray  # (H, W, 3) in [0, 1]; PCA of occupied cells' embeddings, black elsewhere
    fg_proba: np.ndarray | None  # (H, W) foreground probability on occupied cells, NaN elsewhere
    extent: tuple[float, float, float, float]  # x0, x1, y0, y1 of the BEV map (m)
    embedding: np.ndarray  # (D,) pooled scan embedding


def load_model(model_dir: str | Path) -> LidarModel:
    pre = load_pretrained(model_dir, domain="lidar")
    path = Path(model_dir) / PROBE_FILE
    probe = SavedLinearProbe.from_dict(json.loads(path.read_text())) if path.is_file() else None
    return LidarModel(pre, probe)


def pca_rgb(x: np.ndarray) -> np.ndarray:
    """First three principal components scaled to [0, 1] (robust 2-98 % range). Shape: (N, D) -> (N, 3)."""
    if len(x) < 3:
        return np.full((len(x), 3), 0.5)
    xc = x - x.mean(0)
    _, _, vt = np.linalg.svd(xc, full_matrices=False)
    comp = xc @ vt[:3].T
    lo, hi = np.percentile(comp, 2, axis=0), np.percentile(comp, 98, axis=0)
    out = np.clip((comp - lo) / np.maximum(hi - lo, 1e-9), 0, 1)
    return np.pad(out, ((0, 0), (0, 3 - out.shape[1])), constant_values=0.5)


@torch.no_grad()
def analyse_points(model: LidarModel, points: np.ndarray, source: str = "<upload>") -> LidarAnalysis:
    """Raises InputError for clouds with nothing inside the configured range."""
    pre = model.pretrained
    cfg = pre.cfg
    x = prepare_points(points, cfg, source)
    used = x[x[:, 4] > 0, :4].numpy()
    cells, n_cells, _ = bev_cells_of_points(used, cfg)
    h, w = pre.encoder.grid_for(())
    count = np.bincount(cells, minlength=n_cells)
    occupied = count > 0
    tokens = pre.encoder(x[None])[0].float().numpy()  # (N, D)
    require_finite(source, tokens, "BEV embedding")
    rgb = np.zeros((n_cells, 3))
    rgb[occupied] = pca_rgb(tokens[occupied])
    fg = None
    if model.probe is not None:
        fg = np.full(n_cells, np.nan)
        fg[occupied] = model.probe.predict_proba(tokens[occupied])[:, model.probe.classes.index("True")]
        fg = fg.reshape(h, w)
    r = cfg.data.point_cloud_range
    return LidarAnalysis(
        points=points,
        used=used,
        occupancy=count.reshape(h, w),
        embedding_rgb=rgb.reshape(h, w, 3),
        fg_proba=fg,
        extent=(r[0], r[3], r[1], r[4]),
        embedding=pre.domain.pool(torch.from_numpy(tokens)[None])[0].numpy(),
    )


def analyse_file(model: LidarModel, path: str | Path) -> LidarAnalysis:
    return analyse_points(model, read_points(path), str(path))


def box_corners_bev(box: Box3D) -> np.ndarray:
    """The four BEV corners (closed polygon) of a box. Shape: (5, 2) x, y."""
    length, w, _ = box.size
    local = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1], [1, 1]]) * [length / 2, w / 2]
    c, s = np.cos(box.yaw), np.sin(box.yaw)
    return local @ np.array([[c, s], [-s, c]]) + np.asarray(box.center[:2])
