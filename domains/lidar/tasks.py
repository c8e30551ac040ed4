"""Labelled LiDAR frames in KITTI layouts, scene-disjoint splits, and per-BEV-cell labels and features
(KITTI foreground from boxes, airborne ground from ASPRS classes).

Layouts (``--data-dir``, either the folder itself or its ``training/`` subfolder):

- object:   ``velodyne/`` or ``velodyne_reduced/`` (or ``velodyne_fov/``) ``NNNNNN.bin``, ``label_2/NNNNNN.txt``,
            ``calib/NNNNNN.txt``. Every frame is its own scene. With ``ImageSets/train.txt`` and ``val.txt``
            (OpenPCDet's files) the frames are split by those lists; without them they are test-only.
- tracking: ``velodyne*/<seq>/NNNNNN.bin`` (official) or ``velodyne*/NNNNNN.bin`` (one sequence),
            ``label_02/<seq>.txt``, ``calib/<seq>.txt``. Several sequences: split by sequence. One sequence:
            split in time (frames < ``split_frame`` train, frames >= ``split_frame + gap`` test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from domains.lidar.io import Box3D, points_in_boxes, read_object_labels, read_tracking_labels
from jepa_core.errors import InputError

CLASS_GROUPS = {"Car": "Car", "Van": "Car", "Truck": "Car", "Pedestrian": "Pedestrian",
                "Person_sitting": "Pedestrian", "Cyclist": "Cyclist"}  # fmt: skip
VELO_DIRS = ("velodyne", "velodyne_reduced", "velodyne_fov")


@dataclass
class Frame:
    path: Path
    boxes: list[Box3D]
    scene: str  # frames of one scene never straddle a split
    index: int  # frame number (time order within a tracking sequence)
    split: str = "test"
    meta: dict = field(default_factory=dict)

    @property
    def frame_id(self) -> str:
        return f"{self.scene}/{self.index:06d}"


def _root(data_dir: Path) -> Path:
    return data_dir / "training" if (data_dir / "training").is_dir() else data_dir


def _velo_dir(root: Path) -> Path | None:
    return next((root / d for d in VELO_DIRS if (root / d).is_dir()), None)


def _object_frames(root: Path) -> list[Frame]:
    if _velo_dir(root) is None:
        raise InputError(root, f"KITTI object layout needs one of {', '.join(VELO_DIRS)}/ beside label_2/")
    frames = []
    for label in sorted((root / "label_2").glob("*.txt")):
        # A frame's scan may sit in any of the folders (full scans first, then the reduced/FOV crops).
        scan = next(
            (root / d / f"{label.stem}.bin" for d in VELO_DIRS if (root / d / f"{label.stem}.bin").is_file()), None
        )
        if scan is not None:
            boxes = read_object_labels(label, root / "calib" / f"{label.stem}.txt")
            frames.append(Frame(scan, boxes, scene=f"object/{label.stem}", index=int(label.stem)))
    sets = root.parent / "ImageSets" if root.name == "training" else root / "ImageSets"
    if (sets / "train.txt").is_file() and (sets / "val.txt").is_file():
        train = set((sets / "train.txt").read_text().split())
        val = set((sets / "val.txt").read_text().split())
        for f in frames:
            f.split = "train" if f.path.stem in train else "test" if f.path.stem in val else "unused"
    return frames


def _tracking_frames(root: Path, split_frame: int, gap: int) -> list[Frame]:
    velo = next((root / d for d in ("velodyne", "velodyne_fov", "velodyne_reduced") if (root / d).is_dir()), None)
    if velo is None:
        raise InputError(root, f"KITTI tracking layout needs one of {', '.join(VELO_DIRS)}/ beside label_02/")
    seqs = sorted(p.stem for p in (root / "label_02").glob("*.txt"))
    frames = []
    for seq in seqs:
        scans = velo / seq if (velo / seq).is_dir() else velo
        if scans == velo and len(seqs) > 1:
            raise InputError(velo, "several sequences in label_02/ but the scans are not in velodyne*/<seq>/")
        labels = read_tracking_labels(root / "label_02" / f"{seq}.txt", root / "calib" / f"{seq}.txt")
        for scan in sorted(scans.glob("*.bin")):
            index = int(scan.stem)
            frames.append(Frame(scan, labels.get(index, []), scene=f"tracking/{seq}", index=index))
    if len(seqs) > 1:  # scene-disjoint by sequence: the first ~60% of sequences train
        n_train = max(1, round(0.6 * len(seqs)))
        for f in frames:
            f.split = "train" if f.scene.split("/")[1] in seqs[:n_train] else "test"
    else:
        for f in frames:
            f.split = "train" if f.index < split_frame else "test" if f.index >= split_frame + gap else "unused"
    return frames


def find_labelled_frames(data_dir: str | Path, *, split_frame: int = 100, gap: int = 10) -> list[Frame]:
    """Labelled frames of one KITTI folder (object or tracking layout), each with its split."""
    data_dir = Path(data_dir)
    root = _root(data_dir)
    if (root / "label_02").is_dir():
        frames = _tracking_frames(root, split_frame, gap)
    elif (root / "label_2").is_dir():
        frames = _object_frames(root)
    else:
        raise InputError(data_dir, "not a KITTI folder: expected label_2/ (object) or label_02/ (tracking)")
    if not frames:
        raise InputError(data_dir, "no scan with a matching label file")
    return frames


def cell_labels(points: np.ndarray, boxes: list[Box3D], cells: np.ndarray, n_cells: int) -> dict[str, np.ndarray]:
    """Per BEV cell: point count, foreground (>= half its points inside a box) and majority class group.

    Shape: points (N, 4), cells (N,) flat cell of each point -> arrays of (n_cells,).
    """
    owner = points_in_boxes(points, boxes)
    count = np.bincount(cells, minlength=n_cells)
    fg_count = np.bincount(cells[owner >= 0], minlength=n_cells)
    fg = (count > 0) & (fg_count * 2 >= count) & (fg_count > 0)
    cls = np.full(n_cells, "background", dtype=object)
    groups = sorted(set(CLASS_GROUPS.values()))
    box_group = np.array([CLASS_GROUPS.get(b.cls, "other") for b in boxes] + ["background"], dtype=object)
    votes = np.zeros((n_cells, len(groups) + 1))
    for gi, g in enumerate([*groups, "other"]):
        hit = (owner >= 0) & (box_group[owner] == g)
        votes[:, gi] = np.bincount(cells[hit], minlength=n_cells)
    cls[fg] = np.array([*groups, "other"], dtype=object)[votes[fg].argmax(1)]
    return {"count": count, "fg": fg, "cls": cls}


GROUND_CLASS = 2  # ASPRS ground; every other class is non-ground


def ground_cell_labels(classes: np.ndarray, cells: np.ndarray, n_cells: int) -> dict[str, np.ndarray]:
    """Per BEV cell: point count and ground (at least half of its points are ASPRS class 2).

    Shape: classes (N,) ASPRS class of each point, cells (N,) flat cell of each point -> arrays of (n_cells,).
    """
    count = np.bincount(cells, minlength=n_cells)
    ground = np.bincount(cells[classes == GROUND_CLASS], minlength=n_cells)
    return {"count": count, "ground": (count > 0) & (ground * 2 >= count)}


def handcrafted_cell_features(
    points: np.ndarray, cells: np.ndarray, n_cells: int, centres: np.ndarray | None = None
) -> np.ndarray:
    """Per-cell statistics: log point count, z min/max/mean/std, intensity mean/max, and with ``centres``
    the range to the sensor (left out for airborne crops, which have no sensor position).

    Shape: points (N, 4), cells (N,), centres (n_cells, 2) -> (n_cells, 8), or (n_cells, 7) without centres.
    """
    count = np.bincount(cells, minlength=n_cells).astype(np.float64)
    safe = np.maximum(count, 1)
    z, inten = points[:, 2].astype(np.float64), points[:, 3].astype(np.float64)
    z_mean = np.bincount(cells, z, n_cells) / safe
    z_std = np.sqrt(np.maximum(np.bincount(cells, z * z, n_cells) / safe - z_mean**2, 0))
    z_min = np.full(n_cells, np.inf)
    z_max = np.full(n_cells, -np.inf)
    i_max = np.zeros(n_cells)
    np.minimum.at(z_min, cells, z)
    np.maximum.at(z_max, cells, z)
    np.maximum.at(i_max, cells, inten)
    i_mean = np.bincount(cells, inten, n_cells) / safe
    columns = [np.log1p(count), z_min, z_max, z_mean, z_std, i_mean, i_max]
    if centres is not None:
        columns.append(np.hypot(centres[:, 0], centres[:, 1]))
    feats = np.stack(columns, axis=1)
    feats[count == 0, 1:3] = 0.0
    return feats
