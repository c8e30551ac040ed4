"""ECG speed benchmark: pretraining throughput vs this machine's matmul peak, reader vs bare wfdb,
export rows/s, peak RSS of the default pretraining run. Prints a table, writes JSON.

    python benchmarks/ecg.py [--out benchmarks/results/ecg.json] [--config domains/ecg/configs/tiny.yaml]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

import torch
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.common import (
    bench_pretrain_step,
    machine,
    matmul_peak,
    paired_median_times,
    print_table,
    run_child,
    write_json,
)
from domains.ecg.dataset import EcgWindows
from domains.ecg.domain import DOMAIN, window_samples
from domains.ecg.io import find_records, read_record
from jepa_core.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples" / "ecg"


def ecg_batch(cfg, batch_size: int) -> torch.Tensor:
    """A batch of real windows from the bundled records. Shape: (B, L, T)."""
    data = EcgWindows(
        find_records(SAMPLES), fs=cfg.data.fs, window=window_samples(cfg.data), leads=list(cfg.data.leads)
    )
    return torch.stack([data[i % len(data)]["x"] for i in range(batch_size)])


def bench_reader(rounds: int = 40) -> dict:
    records = find_records(SAMPLES)

    def bare() -> None:
        for r in records:
            wfdb.rdrecord(str(r))

    def ours_raw() -> None:
        for r in records:
            read_record(r, fs=None, bandpass=None, standardise=False)

    def ours_default() -> None:
        for r in records:
            read_record(r)

    # In turn, round by round, compared by medians: drift in this VM's speed hits all three alike.
    t = paired_median_times({"bare_wfdb": bare, "read_record_raw": ours_raw, "read_record_default": ours_default},
                            rounds=rounds)  # fmt: skip
    out = {"records": len(records), "rounds": rounds, "timing": "median of interleaved rounds"}
    for name, v in t.items():
        out[f"{name}_records_per_s"] = len(records) / v["median_s"]
    out["raw_over_bare_time"] = out["bare_wfdb_records_per_s"] / out["read_record_raw_records_per_s"]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "domains/ecg/configs/tiny.yaml")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--pretrain-steps", type=int, default=40, help="steps of the default run measured for RSS")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/ecg.json")
    args = p.parse_args(argv)
    cfg = load_config(DOMAIN.config_cls, args.config)
    peak = matmul_peak()
    step = bench_pretrain_step(DOMAIN, cfg, ecg_batch(cfg, args.batch_size))
    reader = bench_reader()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        wall, rss = run_child(
            [
                "domains/ecg/pretrain.py",
                "--config",
                str(args.config),
                "--out",
                str(run_dir),
                "--steps",
                str(args.pretrain_steps),
                "--no-progress",
            ],
            ROOT,
        )
        export_wall, _ = run_child(
            [
                "-m",
                "jepa_core.export_cli",
                "--checkpoint",
                str(run_dir),
                "--input",
                str(SAMPLES),
                "--output",
                str(Path(tmp) / "e.parquet"),
                "--no-progress",
            ],
            ROOT,
        )
        import pyarrow.parquet as pq

        rows = pq.read_metadata(Path(tmp) / "e.parquet").num_rows
    result = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "config": str(args.config.relative_to(ROOT)),
        "matmul_peak_flops": peak,
        "pretrain_step": step,
        "fraction_of_matmul_peak": step["flops_per_s"] / peak,
        "reader": reader,
        "default_pretrain": {"steps": args.pretrain_steps, "wall_s": wall, "peak_rss_gb": rss},
        "export": {"rows": rows, "wall_s_incl_startup": export_wall, "rows_per_s_incl_startup": rows / export_wall},
        "targets": {"fraction_of_matmul_peak": 0.40, "reader_raw_over_bare_time": 1.2, "peak_rss_gb": 3.0},
    }
    print_table(
        [
            ("matmul peak (fp32)", f"{peak / 1e9:.1f} GFLOP/s", f"{machine()['torch_threads']} threads"),
            (
                "pretrain samples/s",
                f"{step['samples_per_s']:.1f}",
                f"batch {args.batch_size}, {step['step_s'] * 1e3:.0f} ms/step",
            ),
            (
                "pretrain achieved",
                f"{step['flops_per_s'] / 1e9:.1f} GFLOP/s",
                f"{result['fraction_of_matmul_peak']:.0%} of matmul peak (target >= 40%)",
            ),
            (
                "reader (raw) vs bare wfdb",
                f"{reader['raw_over_bare_time']:.2f}x time",
                f"{reader['read_record_raw_records_per_s']:.1f} vs {reader['bare_wfdb_records_per_s']:.1f} records/s (target <= 1.2x)",
            ),
            (
                "reader (default preprocessing)",
                f"{reader['read_record_default_records_per_s']:.1f} rec/s",
                "resample + band-pass + robust scaling",
            ),
            ("default pretrain peak RSS", f"{rss:.2f} GB", f"{args.pretrain_steps} steps, target <= 3 GB"),
            ("export rows/s", f"{rows / export_wall:.1f}", f"{rows} rows, incl. process start-up"),
        ]
    )
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
