"""LiDAR speed benchmark: voxelisation points/s (ours vs spconv's PointToVoxel vs open3d voxel down-sampling,
same scan, same run), backbone scans/s, pretraining samples/s, peak RSS of one training step on a full scan.

    python benchmarks/lidar.py [--out benchmarks/results/lidar.json] [--scan PATH.bin]
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.common import (
    bench_pretrain_step,
    machine,
    matmul_peak,
    print_table,
    reader_vs_bare,
    run_child,
    time_calls,
    write_json,
)
from domains.lidar.config import voxel_grid
from domains.lidar.domain import DOMAIN, prepare_points
from domains.lidar.io import find_clouds, read_points
from domains.lidar.voxel import crop_to_range
from jepa_core.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples" / "lidar"
FULL_SCAN = ROOT.parent / "shared" / "data" / "lidar" / "kitti_object" / "training" / "velodyne" / "000000.bin"
FULL_RANGE = "data.point_cloud_range=[0,-40,-3,70.4,40,1]"  # OpenPCDet's KITTI range (704 x 800 x 20 voxels)

RSS_CHILD = """
import sys, torch
from jepa_core.config import load_config
from domains.lidar.domain import DOMAIN, prepare_points
from domains.lidar.io import read_points
pts = read_points(sys.argv[1])
cfg = load_config(DOMAIN.config_cls, sys.argv[2], [sys.argv[3], f"data.num_points={len(pts)}"])
model = DOMAIN.build_model(cfg)
x = prepare_points(pts, cfg)[None]
masks = DOMAIN.mask_sampler(cfg, model.encoder.grid_for(()))(1, torch.Generator().manual_seed(0))
model(x, masks)["loss"].backward()
"""


def bench_voxelisation(points: np.ndarray, cfg) -> dict:
    grid = voxel_grid(cfg.data)
    pts = torch.from_numpy(points)
    n = len(points)
    out = {"points": n, "voxel_size": list(cfg.data.voxel_size), "point_cloud_range": list(cfg.data.point_cloud_range)}
    s = time_calls(lambda: grid.voxelize(pts), min_seconds=3.0)
    out["ours_torch"] = {"s": s, "points_per_s": n / s, "voxels": len(grid.voxelize(pts)[0])}
    try:
        from spconv.pytorch.utils import PointToVoxel

        gen = PointToVoxel(vsize_xyz=list(grid.voxel_size), coors_range_xyz=list(grid.point_cloud_range),
                           num_point_features=4, max_num_voxels=grid.max_voxels,
                           max_num_points_per_voxel=grid.max_points_per_voxel)  # fmt: skip
        s = time_calls(lambda: gen(pts), min_seconds=3.0)
        out["spconv_point_to_voxel"] = {"s": s, "points_per_s": n / s, "voxels": len(gen(pts)[0])}
    except ImportError:
        out["spconv_point_to_voxel"] = None
    try:
        import open3d as o3d

        inside = crop_to_range(points, cfg.data.point_cloud_range)  # same points as ours get after cropping
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(inside[:, :3].astype(np.float64)))
        size = float(cfg.data.voxel_size[0])  # open3d's voxels are cubes: the x/y voxel edge

        def down() -> None:
            pcd.voxel_down_sample(size)

        s = time_calls(down, min_seconds=3.0)
        out["open3d_voxel_down_sample"] = {"s": s, "points_per_s": n / s, "voxels": len(pcd.voxel_down_sample(size).points),
                                           "note": f"points cropped to the range first (not timed); cubic {size} m voxels, mean of all points, no caps"}  # fmt: skip
    except ImportError:
        out["open3d_voxel_down_sample"] = None
    return out


def bench_reader(paths: list[Path]) -> dict:
    """Scans/s of ``read_points`` (format dispatch, checks) vs bare ``np.fromfile`` on the same ``.bin`` scans."""
    bins = [p for p in paths if p.suffix == ".bin"]
    return reader_vs_bare(bins, lambda p: np.fromfile(p, dtype=np.float32).reshape(-1, 4), read_points,
                          unit="scans", bare_name="numpy")  # fmt: skip


@torch.no_grad()
def bench_backbone(cfg, x: torch.Tensor) -> dict:
    encoder = DOMAIN.build_encoder(cfg).eval()
    s = time_calls(lambda: encoder(x), min_seconds=5.0)
    return {"batch_size": len(x), "s": s, "scans_per_s": len(x) / s}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "domains" / "lidar" / "configs" / "tiny.yaml")
    p.add_argument("--scan", type=Path, default=FULL_SCAN if FULL_SCAN.is_file() else None,
                   help="a full KITTI scan (default: shared kitti_object 000000 if present, else a bundled one)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "lidar.json")
    args = p.parse_args(argv)
    scan = args.scan or find_clouds(SAMPLES)[0]
    points = read_points(scan)
    cfg_full = load_config(DOMAIN.config_cls, args.config, [FULL_RANGE])
    cfg = load_config(DOMAIN.config_cls, args.config)
    report = {"date": str(date.today()), "machine": machine(), "load_average": os.getloadavg(), "scan": str(scan)}
    report["matmul_peak_flops"] = peak = matmul_peak()
    report["reader"] = bench_reader([scan, *find_clouds(SAMPLES)])
    report["voxelisation"] = bench_voxelisation(points, cfg_full)
    scans = [prepare_points(read_points(f), cfg) for f in find_clouds(SAMPLES)]
    x = torch.stack([scans[i % len(scans)] for i in range(args.batch_size)])
    report["backbone"] = bench_backbone(cfg, x)
    report["pretrain_step"] = bench_pretrain_step(DOMAIN, cfg, x)
    report["fraction_of_matmul_peak"] = report["pretrain_step"]["flops_per_s"] / peak
    wall, rss = run_child(["-c", RSS_CHILD, str(scan), str(args.config), FULL_RANGE], ROOT)
    report["full_scan_train_step"] = {"points": len(points), "wall_s": wall, "peak_rss_gb": rss,
                                      "range": "[0,-40,-3,70.4,40,1]"}  # fmt: skip
    v = report["voxelisation"]
    rows = [
        ("scan", f"{len(points):,} pts", str(scan.name)),
        (
            "voxelise (ours, torch)",
            f"{v['ours_torch']['points_per_s'] / 1e6:.2f} Mpt/s",
            f"{v['ours_torch']['voxels']} voxels",
        ),
    ]
    for key in ("spconv_point_to_voxel", "open3d_voxel_down_sample"):
        if v[key]:
            rows.append((key, f"{v[key]['points_per_s'] / 1e6:.2f} Mpt/s", f"{v[key]['voxels']} voxels"))
    rows += [
        ("backbone (no grad)", f"{report['backbone']['scans_per_s']:.2f} scans/s", f"batch {args.batch_size}"),
        ("pretrain step", f"{report['pretrain_step']['samples_per_s']:.2f} samples/s", f"batch {args.batch_size}"),
        ("pretrain achieved", f"{report['fraction_of_matmul_peak']:.0%}", f"of {peak / 1e9:.0f} GFLOP/s matmul peak"),
        ("reader (read_points)", f"{report['reader']['ours_over_bare_time']:.2f}x", "the time of bare np.fromfile"),
        ("full-scan train step", f"{rss:.2f} GB RSS", f"{wall:.1f} s wall incl. start-up"),
    ]
    print_table(rows)
    write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
