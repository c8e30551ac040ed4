"""Airborne tiles: a spatially disjoint split, crops that partition each side, random pretraining crops that
stay inside their region and replay from torch's seed, and the ground task end to end on a synthetic tile."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from domains.lidar.tile import crop_frame, fraction_mask, split_tile, tile_crops
from jepa_core.errors import InputError
from tests.domains.lidar.las_data import FOOT, STATE_PLANE_FT, building_tile, write_las

pytest.importorskip("laspy")

CROP = 12.8
# An airborne-style tiny model: 12.8 m crops centred at 0, 0.2 m voxels -> 8 x 8 BEV cells of 1.6 m
ALS_TINY = ["model.channels=[4,8,8,8]", "model.embed_dim=16", "model.pred_dim=16", "model.pred_depth=1",
            "data.num_points=4096", "data.point_cloud_range=[-6.4,-6.4,-2.0,6.4,6.4,8.0]",
            "data.voxel_size=[0.2,0.2,0.4]", "data.rotation=[-3.1416,3.1416]"]  # fmt: skip


def _points(seed: int = 0) -> np.ndarray:
    xyz, classes = building_tile(seed=seed)
    return np.concatenate([xyz, classes[:, None]], axis=1).astype(np.float32)


def test_split_is_spatially_disjoint_with_a_gap():
    points = _points()
    split = split_tile(points, train_frac=0.5, test_frac=None, min_gap=CROP)
    x = points[:, 0]
    assert not (split.train & split.test).any()
    assert x[split.test].min() - x[split.train].max() >= CROP - 0.5  # one crop apart (0.5 m point spacing)
    assert split.gap_m == pytest.approx(CROP) and split.train_x[1] <= split.test_x[0] - CROP + 1e-6
    assert 0.45 < split.train.mean() < 0.55 and 0.25 < split.test.mean() < 0.35  # 32 m train, 19.2 m test of 64
    with pytest.raises(InputError, match="gap of at least 12.8 m"):
        split_tile(points, train_frac=0.5, test_frac=0.45, min_gap=CROP)


def test_crops_partition_each_side():
    points = _points()
    split = split_tile(points, train_frac=0.5, test_frac=None, min_gap=CROP)
    for mask in (split.train, split.test):
        crops = tile_crops(points, mask, (CROP, CROP))
        members = np.concatenate([idx for idx, _ in crops])
        assert np.array_equal(np.sort(members), np.flatnonzero(mask))  # every point of the side, exactly once
        for idx, centre in crops:
            assert (np.abs(points[idx, :2] - centre) <= CROP / 2 + 1e-4).all()
    test_x = points[np.concatenate([i for i, _ in tile_crops(points, split.test, (CROP, CROP))]), 0]
    train_x = points[np.concatenate([i for i, _ in tile_crops(points, split.train, (CROP, CROP))]), 0]
    assert test_x.min() > train_x.max()


def test_crop_frame_centres_and_grounds():
    points = _points()[:, :4]
    local = crop_frame(points, (20.0, 8.0), ground=0.4, point_cloud_range=(0, -25.6, -3, 51.2, 25.6, 1), ground_z=-1.7)
    np.testing.assert_allclose(local[:, 0], points[:, 0] - 20.0 + 25.6, atol=1e-4)  # centre -> range centre
    np.testing.assert_allclose(local[:, 1], points[:, 1] - 8.0, atol=1e-4)
    np.testing.assert_allclose(local[:, 2], points[:, 2] - 0.4 - 1.7, atol=1e-4)


def _tile_file(tmp_path: Path, intensity_from_x: bool = False) -> Path:
    """The synthetic tile in state-plane feet (the reader converts back to metres)."""
    xyz, classes = building_tile()
    native = xyz / FOOT + np.asarray(STATE_PLANE_FT)
    inten = (xyz[:, 0] - xyz[:, 0].min()) / np.ptp(xyz[:, 0]) * 65535 if intensity_from_x else None
    return write_las(tmp_path / "tile.las", native, classes=classes, intensity=inten, keys={1024: 1, 3076: 9002})


def test_random_crops_stay_in_their_region_and_replay(tmp_path):
    """Intensity encodes the x fraction of each point, so a sample shows which part of the tile it came from."""
    from domains.lidar.dataset import LidarScans

    path = _tile_file(tmp_path, intensity_from_x=True)
    r = [-6.4, -6.4, -2.0, 6.4, 6.4, 8.0]
    aug = {"flip": True, "rotation": [-3.1416, 3.1416], "scaling": [0.95, 1.05]}
    ds = LidarScans([path], point_cloud_range=r, num_points=4096, aug=aug, crop_region=[0.0, 0.4], crops_per_scan=5)
    assert len(ds) == 5
    samples = []
    for seed in range(12):
        torch.manual_seed(seed)
        x = ds[seed % 5]["x"]
        pts = x[x[:, 4] > 0]
        assert len(pts) > 300
        assert pts[:, 3].max() <= 0.4 + 1e-6  # nothing east of the region
        lo, hi = pts[:, :3].min(0).values, pts[:, :3].max(0).values
        assert (lo >= torch.tensor(r[:3])).all() and (hi < torch.tensor(r[3:])).all()  # cut to the range
        samples.append(pts[:, 3].mean().item())
    assert np.ptp(samples) > 0.03  # crops land at different places
    torch.manual_seed(3)
    again = ds[3]["x"]
    torch.manual_seed(3)
    assert torch.equal(again, ds[3]["x"])  # the same torch seed replays the crop and its augmentation
    assert max(s for s in samples) > 0.2  # and the region is used, not just its west edge


def _tiny_model(model_dir: Path, extra: tuple[str, ...] = (), card: dict | None = None) -> Path:
    from domains.lidar.domain import DOMAIN
    from jepa_core.checkpoint import save_encoder
    from jepa_core.config import load_config, to_plain

    cfg = load_config(DOMAIN.config_cls, None, [*ALS_TINY, *extra])
    torch.manual_seed(0)
    save_encoder(model_dir, DOMAIN.build_encoder(cfg), {"domain": "lidar", "config": to_plain(cfg), **(card or {})})
    return model_dir


def test_ground_task_end_to_end(tmp_path):
    """evaluate.py --task als-ground on the synthetic tile: handcrafted height statistics must separate ground
    from roofs, a random encoder runs, and the report keeps results.<method>.<metric>."""
    from domains.lidar.evaluate import main

    path = _tile_file(tmp_path)
    model = _tiny_model(tmp_path / "model")
    out = tmp_path / "results.json"
    argv = ["--task", "als-ground", "--checkpoint", str(model), "--data-dir", str(path), "--train-frac", "0.5",
            "--methods", "handcrafted", "random_init", "--seeds", "0", "1", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert report["task"] == "als-ground" and report["tile"]["split"]["gap_m"] == pytest.approx(CROP)
    assert all(c.startswith("tile/train/") for c in report["train"]) and report["test"]
    cells = report["cells"]
    assert 0.2 < cells["test_ground"] / cells["test_occupied"] < 0.9
    hand, rand = report["results"]["handcrafted"], report["results"]["random_init"]
    assert hand["ground_balanced_accuracy"] > 0.9 and hand["ground_f1"] > 0.85 and hand["kmeans_iou"] > 0.5
    assert 0.0 <= rand["ground_balanced_accuracy"] <= 1.0 and rand["n_runs"] == 2
    assert len(rand["ground_balanced_accuracy_spread"]["values"]) == 2


def test_pretrained_on_the_test_side_is_refused(tmp_path, capsys):
    from domains.lidar.evaluate import main

    path = _tile_file(tmp_path)
    seen = {"training_data": {"scans": [str(path)], "crop_region": [0.0, 0.8]}}
    model = _tiny_model(tmp_path / "model", card=seen)
    argv = ["--task", "als-ground", "--checkpoint", str(model), "--data-dir", str(path), "--methods", "handcrafted"]
    assert main(argv) == 2
    assert "test side would not be unseen" in capsys.readouterr().err


def test_fraction_mask_includes_the_east_edge():
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    assert fraction_mask(x, 0.0, 0.5).tolist() == [True, True, False, False, False]
    assert fraction_mask(x, 0.5, 1.0).tolist() == [False, False, True, True, True]
