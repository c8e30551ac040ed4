"""Per-BEV-cell evaluation: frames (KITTI) or crops of an airborne tile to labelled cells, probes and k-means
on cell features, a supervised baseline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

from domains.lidar.config import voxel_grid
from domains.lidar.domain import prepare_points
from domains.lidar.io import read_points
from domains.lidar.las import read_las
from domains.lidar.tasks import Frame, cell_labels, ground_cell_labels, handcrafted_cell_features
from domains.lidar.tile import crop_frame, ground_level, split_tile, tile_crops
from domains.lidar.voxel import pad_points, range_mask, subsample_indices
from jepa_core.eval.metrics import classification_metrics
from jepa_core.eval.probes import knn_probe, linear_probe
from jepa_core.eval.rankme import rankme

OBJECT_CLASSES = ("Car", "Cyclist", "Pedestrian")
MIN_CLASS_CELLS = (20, 10)  # train, test cells a class needs to enter the class probe
NOISE_CLASSES = (7, 18)  # ASPRS low / high noise: dropped from airborne tiles


@dataclass
class FrameCells:
    """The labelled occupied cells of one KITTI frame or one crop of an airborne tile."""

    frame_id: str
    x: torch.Tensor  # (P, 5) model input
    occupied: np.ndarray  # (N,) bool over the flat BEV grid
    y: np.ndarray  # (n_occupied,) bool: foreground (KITTI) or ground (airborne)
    cls: np.ndarray  # (n_occupied,) class group or "background" (KITTI); "ground" / "non-ground" (airborne)
    handcrafted: np.ndarray  # (n_occupied, F)


def bev_cells_of_points(points: np.ndarray, cfg: DictConfig) -> tuple[np.ndarray, int, np.ndarray]:
    """Flat BEV cell of each point (the backbone's stride-8 cells), the cell count and cell centres (x, y)."""
    grid = voxel_grid(cfg.data)
    r, v = np.asarray(grid.point_cloud_range), np.asarray(grid.voxel_size)
    nx, ny, _ = grid.shape_xyz
    w, h = nx // 8, ny // 8
    ix = np.clip(np.floor((points[:, 0] - r[0]) / v[0]).astype(np.int64) // 8, 0, w - 1)
    iy = np.clip(np.floor((points[:, 1] - r[1]) / v[1]).astype(np.int64) // 8, 0, h - 1)
    cy, cx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    centres = np.stack([r[0] + (cx.ravel() + 0.5) * 8 * v[0], r[1] + (cy.ravel() + 0.5) * 8 * v[1]], axis=1)
    return iy * w + ix, h * w, centres


def prepare_frames(frames: list[Frame], cfg: DictConfig) -> list[FrameCells]:
    """Read, crop and pad each frame exactly as the encoder sees it, and label its occupied cells."""
    out = []
    for f in frames:
        x = prepare_points(read_points(f.path), cfg, f.path)
        pts = x[x[:, 4] > 0, :4].numpy()
        cells, n_cells, centres = bev_cells_of_points(pts, cfg)
        lab = cell_labels(pts, f.boxes, cells, n_cells)
        occ = lab["count"] > 0
        hand = handcrafted_cell_features(pts, cells, n_cells, centres)
        out.append(FrameCells(f.frame_id, x, occ, lab["fg"][occ], lab["cls"][occ], hand[occ]))
    return out


@dataclass
class TileCells:
    train: list[FrameCells]
    test: list[FrameCells]
    meta: dict  # the tile's frame, units and split, for the report


def prepare_tile(
    path: str | Path, cfg: DictConfig, *, train_frac: float, test_frac: float | None, min_gap: float | None,
    ground_z: float = 0.0,
) -> TileCells:  # fmt: skip
    """One LAS tile split in space (``tile.split_tile``; ``min_gap`` defaults to one crop), each side cut into
    crops of the range's x/y size (``tile.tile_crops``) in the crop frame, and their occupied cells labelled
    ground or not."""
    tile = read_las(path)
    keep = ~np.isin(tile.classification, NOISE_CLASSES)
    points, classes = tile.points[keep], tile.classification[keep]
    r = list(cfg.data.point_cloud_range)
    size = (r[3] - r[0], r[4] - r[1])
    min_gap = size[0] if min_gap is None else min_gap
    split = split_tile(points, train_frac=train_frac, test_frac=test_frac, min_gap=min_gap, source=str(path))
    sides = {}
    for side, mask in (("train", split.train), ("test", split.test)):
        crops = [
            _crop_cells(points[idx], classes[idx], centre, cfg, f"{Path(path).stem}/{side}/{k:03d}", ground_z)
            for k, (idx, centre) in enumerate(tile_crops(points, mask, size))
        ]
        sides[side] = [c for c in crops if c is not None]
    meta = {
        "tile": str(path), "points": int(len(points)), "origin_file_units": list(tile.origin),
        "metres_per_unit": list(tile.unit_m), "units": tile.units, "crop_m": list(size),
        "ground_percentile": float(cfg.data.ground_percentile), "ground_z": ground_z,
        "split": {"train_x_m": list(split.train_x), "test_x_m": list(split.test_x), "gap_m": split.gap_m,
                  "train_frac": train_frac, "test_frac": test_frac},
    }  # fmt: skip
    return TileCells(sides["train"], sides["test"], meta)


def _crop_cells(
    points: np.ndarray, classes: np.ndarray, centre: np.ndarray, cfg: DictConfig, frame_id: str, ground_z: float
) -> FrameCells | None:
    """One crop as the encoder sees it (crop frame, cut to the range, evenly subsampled to ``num_points``)."""
    d = cfg.data
    local = crop_frame(points, centre, ground_level(points[:, 2], d.ground_percentile), d.point_cloud_range, ground_z)
    inside = range_mask(local, d.point_cloud_range)
    pick = subsample_indices(int(inside.sum()), d.num_points)  # the points pad_points keeps
    local, classes = local[inside][pick], classes[inside][pick]
    if len(local) == 0:
        return None
    cells, n_cells, _ = bev_cells_of_points(local, cfg)
    lab = ground_cell_labels(classes, cells, n_cells)
    occ = lab["count"] > 0
    y = lab["ground"][occ]
    hand = handcrafted_cell_features(local, cells, n_cells)
    x = torch.from_numpy(pad_points(local, d.num_points))
    return FrameCells(frame_id, x, occ, y, np.where(y, "ground", "non-ground").astype(object), hand[occ])


def _binary_scores(y: np.ndarray, pred: np.ndarray, proba: np.ndarray, prefix: str, label: str) -> dict:
    m = classification_metrics(y.astype(str), pred.astype(str), ["False", "True"], proba)
    return {
        f"{prefix}{label}_balanced_accuracy": m["balanced_accuracy"],
        f"{prefix}{label}_f1": m["per_class"]["True"]["f1"],
        f"{prefix}{label}_auroc": m.get("auroc"),
    }


def kmeans_iou(x: np.ndarray, positive: np.ndarray, seed: int = 0) -> float:
    """k-means (k=2) on standardised features; IoU of the best-matching cluster with the positive cells."""
    labels = KMeans(n_clusters=2, n_init=10, random_state=seed).fit_predict(StandardScaler().fit_transform(x))
    ious = [(np.sum((labels == c) & positive) / max(np.sum((labels == c) | positive), 1)) for c in (0, 1)]
    return float(max(ious))


def evaluate_features(
    feats_tr: list[np.ndarray],
    feats_te: list[np.ndarray],
    cells_tr: list[FrameCells],
    cells_te: list[FrameCells],
    *,
    max_train: int = 40000,
    seed: int = 0,
    label: str = "fg",
    class_probe: bool = True,
) -> dict:
    """Binary cell probes (linear, kNN; metrics named ``<label>_...``), k-means IoU on the test cells, and
    with ``class_probe`` the KITTI object-class probe where counts allow."""
    x_tr, x_te = np.concatenate(feats_tr), np.concatenate(feats_te)
    y_tr = np.concatenate([c.y for c in cells_tr])
    y_te = np.concatenate([c.y for c in cells_te])
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(x_tr))[:max_train]
    lin = linear_probe(x_tr[pick], y_tr[pick], x_te, seed=seed)
    out = _binary_scores(y_te, lin.pred, lin.proba, "", label)
    knn = knn_probe(x_tr[pick], y_tr[pick], x_te)
    out.update(_binary_scores(y_te, knn.pred, knn.proba, "knn_", label))
    out["kmeans_iou"] = kmeans_iou(x_te, y_te, seed)
    sub = torch.from_numpy(x_te[rng.permutation(len(x_te))[:5000]]).float()
    out["cell_rankme"] = rankme(sub)  # effective rank of the test cells' features (collapse check)
    if class_probe:
        out.update(_class_probe(x_tr, x_te, cells_tr, cells_te, seed))
    return out


def _class_probe(x_tr, x_te, cells_tr, cells_te, seed) -> dict:
    c_tr = np.concatenate([c.cls for c in cells_tr])
    c_te = np.concatenate([c.cls for c in cells_te])
    classes = [
        k for k in OBJECT_CLASSES if (c_tr == k).sum() >= MIN_CLASS_CELLS[0] and (c_te == k).sum() >= MIN_CLASS_CELLS[1]
    ]
    counts = {k: [int((c_tr == k).sum()), int((c_te == k).sum())] for k in OBJECT_CLASSES}
    if len(classes) < 2:
        return {"class_macro_f1": None, "class_balanced_accuracy": None, "class_counts_train_test": counts}
    tr, te = np.isin(c_tr, classes), np.isin(c_te, classes)
    probe = linear_probe(x_tr[tr], c_tr[tr], x_te[te], seed=seed)
    m = classification_metrics(c_te[te], probe.pred, classes)
    return {"class_macro_f1": m["macro_f1"], "class_balanced_accuracy": m["balanced_accuracy"],
            "class_counts_train_test": counts, "classes": classes}  # fmt: skip


def train_supervised(
    pre, cells_tr: list[FrameCells], cells_te: list[FrameCells], *, epochs: int, seed: int, label: str = "fg"
) -> dict:
    """Same encoder architecture from scratch + a per-cell linear head, class-weighted CE on the cell labels."""
    torch.manual_seed(seed)
    encoder = pre.domain.build_encoder(pre.cfg).train()
    head = torch.nn.Linear(encoder.embed_dim, 2)
    opt = torch.optim.AdamW([*encoder.parameters(), *head.parameters()], lr=1e-3, weight_decay=1e-4)
    n_fg = sum(int(c.y.sum()) for c in cells_tr)
    n_all = sum(len(c.y) for c in cells_tr)
    weight = torch.tensor([n_all / max(2 * (n_all - n_fg), 1), n_all / max(2 * n_fg, 1)])
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for i in torch.randperm(len(cells_tr), generator=gen).split(2):
            batch = [cells_tr[j] for j in i.tolist()]
            tokens = encoder(torch.stack([c.x for c in batch]))  # (B, N, D)
            logits = torch.cat([head(t[torch.from_numpy(c.occupied)]) for t, c in zip(tokens, batch, strict=True)])
            target = torch.from_numpy(np.concatenate([c.y for c in batch])).long()
            loss = F.cross_entropy(logits, target, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    encoder.eval()
    with torch.no_grad():
        proba = torch.cat(
            [head(encoder(c.x[None])[0][torch.from_numpy(c.occupied)]).softmax(-1) for c in cells_te]
        ).numpy()
    y_te = np.concatenate([c.y for c in cells_te])
    out = _binary_scores(y_te, proba.argmax(1) == 1, proba, "", label)
    out["kmeans_iou"] = None  # no frozen embedding to cluster; the head is trained on the labels
    return out
