"""SAR speed benchmark: ROA gradient targets (batched separable and dense convolutions vs a per-scale,
per-window loop)
and pretraining throughput vs this machine's matmul peak. Prints a table, writes JSON.

    python benchmarks/sar.py [--out benchmarks/results/sar.json] [--config domains/sar/configs/bundled.yaml]

Contention matters: on a shared machine every number here moves with the load (recorded in the JSON).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.common import (
    bench_pretrain_step,
    machine,
    matmul_peak,
    print_table,
    reader_vs_bare,
    time_calls,
    write_json,
)
from domains.sar.dataset import SarChips, load_chip, select_images
from domains.sar.domain import DOMAIN, radii
from domains.sar.io import find_images
from domains.sar.targets import RatioGradient, ratio_gradient_loop
from jepa_core.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples" / "sar" / "mstar" / "train"


def real_chips(cfg, n: int) -> torch.Tensor:
    """``n`` bundled MSTAR chips (repeated as needed). Shape: (n, 1, size, size)."""
    data = SarChips(select_images([str(SAMPLES)]), cfg.data)
    return torch.stack([data[i % len(data)]["x"] for i in range(n)])


def bench_gradient(cfg, batch_size: int) -> dict:
    """Chips/s of the gradient operator on linear intensity: dense (default) and separable convs vs a loop."""
    x = real_chips(cfg, batch_size)
    intensity = torch.exp(x * cfg.data.db_scale * 0.230258509)  # relative dB -> intensity
    r = radii(cfg)
    sep, dense = RatioGradient(r, separable=True), RatioGradient(r)
    with torch.no_grad():
        ref = ratio_gradient_loop(intensity, r)
        err = max(float((op(intensity) - ref).abs().max()) for op in (sep, dense))
        t_sep = time_calls(lambda: sep(intensity), min_seconds=3.0)
        t_dense = time_calls(lambda: dense(intensity), min_seconds=3.0)
        t_loop = time_calls(lambda: ratio_gradient_loop(intensity, r), min_seconds=3.0)
    return {
        "radii": r,
        "batch_size": batch_size,
        "vectorised_chips_per_s": batch_size / t_dense,
        "separable_chips_per_s": batch_size / t_sep,
        "loop_chips_per_s": batch_size / t_loop,
        "speedup": t_loop / t_dense,
        "max_abs_difference": err,
    }


def bench_reader(cfg) -> dict:
    """Chips/s of ``load_chip`` (read, dB, crop) vs a bare ``rasterio.open(path).read(1)`` on the bundled files."""
    import rasterio

    def bare(path) -> None:
        with rasterio.open(path) as src:
            src.read(1)

    return reader_vs_bare(find_images(ROOT / "data" / "samples" / "sar"), bare, lambda p: load_chip(p, cfg.data),
                          unit="chips", bare_name="rasterio")  # fmt: skip


def sar_pretrain_step(cfg, batch_size: int) -> dict:
    """One full optimisation step (targets, forward, backward, AdamW, EMA) on real chips."""
    return {"target": cfg.data.target, **bench_pretrain_step(DOMAIN, cfg, real_chips(cfg, batch_size))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "domains/sar/configs/bundled.yaml")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/sar.json")
    args = p.parse_args(argv)
    cfg = load_config(DOMAIN.config_cls, args.config)
    peak = matmul_peak()
    grad = bench_gradient(cfg, args.batch_size)
    reader = bench_reader(cfg)
    step = sar_pretrain_step(cfg, args.batch_size)
    ema = sar_pretrain_step(load_config(DOMAIN.config_cls, args.config, ["data.target=ema"]), args.batch_size)
    result = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "load_average_1min": os.getloadavg()[0],
        "config": str(args.config.relative_to(ROOT)),
        "matmul_peak_flops": peak,
        "gradient_targets": grad,
        "reader": reader,
        "pretrain_step": step,
        "pretrain_step_ema": ema,
        "fraction_of_matmul_peak": step["flops_per_s"] / peak,
    }
    print_table(
        [
            ("matmul peak (fp32)", f"{peak / 1e9:.1f} GFLOP/s", f"{machine()['torch_threads']} threads"),
            ("gradient targets, one conv", f"{grad['vectorised_chips_per_s']:.0f} chips/s", f"radii {grad['radii']}"),
            ("gradient targets, separable", f"{grad['separable_chips_per_s']:.0f} chips/s", "4 batched 1-D convs"),
            (
                "gradient targets, loop",
                f"{grad['loop_chips_per_s']:.0f} chips/s",
                f"{grad['speedup']:.1f}x slower; max |diff| {grad['max_abs_difference']:.1e}",
            ),  # fmt: skip
            (
                "pretrain samples/s (gradient)",
                f"{step['samples_per_s']:.1f}",
                f"batch {args.batch_size}, {step['step_s'] * 1e3:.0f} ms/step",
            ),  # fmt: skip
            (
                "pretrain achieved",
                f"{step['flops_per_s'] / 1e9:.1f} GFLOP/s",
                f"{result['fraction_of_matmul_peak']:.0%} of matmul peak",
            ),  # fmt: skip
            (
                "pretrain samples/s (EMA)",
                f"{ema['samples_per_s']:.1f}",
                f"{ema['flops_per_s'] / 1e9:.1f} GFLOP/s, {ema['flops_per_s'] / peak:.0%} of peak",
            ),  # fmt: skip
            (
                "reader (load_chip)",
                f"{reader['ours_chips_per_s']:.0f} chips/s",
                f"{reader['ours_over_bare_time']:.2f}x the time of bare rasterio reads ({reader['files']} files)",
            ),  # fmt: skip
            ("load average (1 min)", f"{result['load_average_1min']:.1f}", "shared machine: numbers move with load"),
        ]
    )
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
