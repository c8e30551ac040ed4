"""EEG speed benchmark: pretraining throughput vs this machine's matmul peak, and windows/s of
read + preprocess + window against a bare ``mne.io.read_raw_edf(...).get_data()`` loop. Prints a
table, writes JSON.

    python benchmarks/eeg.py [--out benchmarks/results/eeg.json] [--data-dir data/samples/eeg]
                             [--long-dir ../shared/data/eeg/eegmat] [--long-hours 2]

``--long-hours``: one synthetic recording that long (19 channels at 512 Hz, written with MNE's EDF
exporter) is read in a fresh process by ``read_eeg`` and by the bare MNE read: seconds and peak RSS over
the process's RSS after its imports.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

import mne
import torch
from omegaconf import DictConfig, OmegaConf

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
from domains.eeg.dataset import EegWindows
from domains.eeg.domain import DOMAIN
from domains.eeg.io import _zero_phase_gain, find_recordings
from jepa_core.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples" / "eeg"


def bench_reader(paths: list[Path], cfg, rounds: int = 40, threads: int | None = 1) -> dict:
    """Windows/s of the full path (read, pick, uV, resample, filter, scale, cut) vs the bare MNE read.

    The two are timed in turn, round by round, and compared by their medians: on this 2-core VM a
    plain mean of one after the other moved the ratio by +-0.15 between runs. ``threads``: torch's
    threads while timing (our FFTs run in torch); 1 compares like with like, as the bare read uses one.
    The data config becomes a plain dataclass once, outside the timing, as a pipeline does it once per
    dataset (``EegWindows`` converts an OmegaConf config itself: ~0.3 ms, 2 % of a round of 3 files).
    """
    data_cfg = OmegaConf.to_object(cfg.data) if isinstance(cfg.data, DictConfig) else cfg.data
    n_windows = len(EegWindows(paths, data_cfg, stride_s=data_cfg.window_s))

    def bare() -> None:
        for p in paths:
            mne.io.read_raw_edf(p, preload=False, verbose="error").get_data()

    def ours() -> None:
        _zero_phase_gain.cache_clear()  # every round pays for its filters' response, as files of new lengths do
        data = EegWindows(paths, data_cfg, stride_s=data_cfg.window_s)
        for i in range(len(data)):
            data[i]

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        t = paired_median_times({"bare": bare, "ours": ours}, rounds=rounds)
    finally:
        torch.set_num_threads(before)
    bare_s, ours_s = t["bare"]["median_s"], t["ours"]["median_s"]
    return {
        "files": len(paths),
        "windows": n_windows,
        "rounds": rounds,
        "torch_threads": threads or before,
        "bare_mne_windows_per_s": n_windows / bare_s,
        "ours_windows_per_s": n_windows / ours_s,
        "ours_over_bare_time": ours_s / bare_s,
        "ours_over_bare_time_min": t["ours"]["min_s"] / t["bare"]["min_s"],
    }


LONG_CHILD = """
import json, re, sys, time
import mne, torch
from domains.eeg.io import read_eeg
torch.set_num_threads(1)
mne.io.read_raw_edf(sys.argv[2], preload=False, verbose="error").get_data(start=0, stop=10)  # MNE's lazy imports
def peak_gb():  # VmHWM: this process's peak RSS (ru_maxrss would include the parent's, from before exec)
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024**2
open("/proc/self/clear_refs", "w").write("5")  # Linux: reset the peak to the RSS now
base, tic = peak_gb(), time.perf_counter()
if sys.argv[1] == "ours":
    read_eeg(sys.argv[2])
else:
    mne.io.read_raw_edf(sys.argv[2], preload=False, verbose="error").get_data()
print(json.dumps({"s": time.perf_counter() - tic, "peak_rss_over_imports_gb": peak_gb() - base}))
"""


def bench_long_recording(hours: float, fs: float = 512.0, channels: int = 19) -> dict:
    """Seconds and peak memory of reading one long recording, ours against the bare MNE read (fresh processes)."""
    import json
    import subprocess

    import numpy as np

    n = int(hours * 3600 * fs)
    rng = np.random.default_rng(0)
    names = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4", "T5", "T6", "P3", "P4", "O1", "O2", "Fz",
             "Cz", "Pz"][:channels]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.edf"
        raw = mne.io.RawArray(rng.normal(0.0, 20e-6, (channels, n)), mne.create_info(names, fs, "eeg"), verbose="error")
        mne.export.export_raw(path, raw, fmt="edf", verbose="error")
        del raw
        out = {"hours": hours, "fs": fs, "channels": channels, "file_mb": path.stat().st_size / 1024**2}
        for who in ("bare", "ours"):
            done = subprocess.run([sys.executable, "-c", LONG_CHILD, who, str(path)], cwd=ROOT, check=True,
                                  capture_output=True, text=True)  # fmt: skip
            out[who] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "domains/eeg/configs/tiny.yaml")
    p.add_argument("--data-dir", type=Path, default=SAMPLES, help="EDF files for the reader benchmark")
    p.add_argument(
        "--long-dir",
        type=Path,
        help="a second folder timed the same way, e.g. ../shared/data/eeg/eegmat (20 x 182 s at 500 Hz)",
    )
    p.add_argument("--long-hours", type=float, default=2.0, help="hours of the synthetic long recording (0: skip)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pretrain-steps", type=int, default=30, help="steps of the default run measured for RSS")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/eeg.json")
    args = p.parse_args(argv)
    cfg = load_config(DOMAIN.config_cls, args.config)
    peak = matmul_peak()
    paths = [q for q in find_recordings(args.data_dir) if q.suffix.lower() == ".edf"]
    data = EegWindows(paths, cfg.data)
    x = torch.stack([data[i % len(data)]["x"] for i in range(args.batch_size)])
    step = bench_pretrain_step(DOMAIN, cfg, x)
    reader = bench_reader(paths, cfg)
    reader["all_threads"] = bench_reader(paths, cfg, threads=None)
    if args.long_dir:
        long_paths = [q for q in find_recordings(args.long_dir) if q.suffix.lower() == ".edf"]
        reader["long"] = bench_reader(long_paths, cfg, rounds=10) | {"data_dir": str(args.long_dir)}
    if args.long_hours > 0:
        reader["long_recording"] = bench_long_recording(args.long_hours)
    with tempfile.TemporaryDirectory() as tmp:
        wall, rss = run_child(
            ["domains/eeg/pretrain.py", "--config", str(args.config), "--out", str(Path(tmp) / "run"),
             "--steps", str(args.pretrain_steps), "--no-progress"],
            ROOT,
        )  # fmt: skip
    result = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "config": str(args.config.relative_to(ROOT)) if args.config.is_relative_to(ROOT) else str(args.config),
        "matmul_peak_flops": peak,
        "pretrain_step": step,
        "fraction_of_matmul_peak": step["flops_per_s"] / peak,
        "reader": reader,
        "default_pretrain": {"steps": args.pretrain_steps, "wall_s": wall, "peak_rss_gb": rss},
        "targets": {"fraction_of_matmul_peak": 0.40, "reader_over_bare_time": 1.5},
    }
    print_table(
        [
            ("matmul peak (fp32)", f"{peak / 1e9:.1f} GFLOP/s", f"{machine()['torch_threads']} threads"),
            ("pretrain samples/s", f"{step['samples_per_s']:.1f}",
             f"batch {args.batch_size}, {step['tokens_per_sample']} tokens, {step['step_s'] * 1e3:.0f} ms/step"),
            ("pretrain achieved", f"{step['flops_per_s'] / 1e9:.1f} GFLOP/s",
             f"{result['fraction_of_matmul_peak']:.0%} of matmul peak (target >= 40%)"),
            ("read+preprocess+window vs bare MNE", f"{reader['ours_over_bare_time']:.2f}x time",
             f"{reader['ours_windows_per_s']:.0f} vs {reader['bare_mne_windows_per_s']:.0f} windows/s, 1 thread "
             f"(target <= 1.5x); {reader['all_threads']['ours_over_bare_time']:.2f}x with "
             f"{reader['all_threads']['torch_threads']} threads"),
            *([("  same, --long-dir", f"{reader['long']['ours_over_bare_time']:.2f}x time",
                f"{reader['long']['files']} files, {reader['long']['windows']} windows, 1 thread")]
              if "long" in reader else []),
            *([("  one long recording", f"{lr['ours']['s']:.1f} s vs {lr['bare']['s']:.1f} s",
                f"{lr['hours']:g} h, {lr['channels']} ch at {lr['fs']:g} Hz; peak RSS over imports "
                f"{lr['ours']['peak_rss_over_imports_gb']:.2f} vs {lr['bare']['peak_rss_over_imports_gb']:.2f} GB")]
              if (lr := reader.get("long_recording")) else []),
            ("default pretrain peak RSS", f"{rss:.2f} GB", f"{args.pretrain_steps} steps"),
        ]
    )  # fmt: skip
    write_json(args.out, result)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
