"""Export benchmark: ``jepa-export`` rows/s and peak RSS with 1 and 2 processes (torchrun), and peak RSS on
N vs 4N inputs (memory should be flat in dataset size). Inputs are the bundled samples repeated as symlinked
folders (distinct record paths, same bytes); the model is the domain's bundled one. Prints JSON.

    python benchmarks/export.py --domain ecg [--repeat 4] [--procs 1 2] [--out benchmarks/results/export_ecg.json]

``seconds``/``rows_per_s`` are end to end (interpreter start, model load, input listing, export);
``export_seconds``/``export_rows_per_s`` are the slowest process's own export time, as it prints it.
``peak_rss_mb`` is the largest resident set of any one process (torchrun's agent and workers included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from benchmarks.common import PEAK_RSS, machine, write_json

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SAMPLE_INPUTS = {"ecg": ["ecg"], "eeg": ["eeg"], "sar": ["sar/mstar/test", "sar/opensarship"], "lidar": ["lidar"]}
SHARD_LINE = re.compile(r"^(\d+) rows from \d+ records in ([\d.]+) s", re.MULTILINE)


def repeated_inputs(domain: str, repeat: int, folder: Path) -> list[Path]:
    """``repeat`` copies of the domain's bundled samples, each a symlinked folder."""
    folder.mkdir(parents=True, exist_ok=True)
    links = []
    for k in range(repeat):
        for i, sub in enumerate(SAMPLE_INPUTS[domain]):
            link = folder / f"rep{k:03d}_{i}"
            if not link.exists():
                link.symlink_to(SAMPLES / sub, target_is_directory=True)
            links.append(link)
    return links


def run_export(domain: str, inputs: list[Path], out: Path, n_procs: int, *, part_size: int, threads: int) -> dict:
    """One ``jepa-export`` run into the directory ``out``; rows, timings and peak RSS."""
    if n_procs == 1:
        launcher = [sys.executable, "-m", "jepa_core.export_cli"]
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_procs}"]
        launcher += ["-m", "jepa_core.export_cli"]
    args = ["--domain", domain, "--input", *map(str, inputs), "--output", str(out), "--part-size", str(part_size)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    tic = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *launcher, *args, "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - tic
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["rc"] != 0:
        raise RuntimeError(f"jepa-export failed ({report['rc']}):\n{report['err']}")
    manifest = json.loads((out / "_manifest.json").read_text())
    shard_seconds = [float(s) for _, s in SHARD_LINE.findall(report["out"])]
    export_seconds = max(shard_seconds) if shard_seconds else float("nan")
    rows = manifest["rows"]
    return {
        "n_procs": n_procs,
        "torch_threads_per_proc": threads,
        "records": manifest["n_records"],
        "parts": manifest["num_parts"],
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds, 1),
        "export_seconds": round(export_seconds, 2),
        "export_seconds_per_proc": shard_seconds,
        "export_rows_per_s": round(rows / export_seconds, 1),
        "peak_rss_mb": round(report["maxrss_kb"] / 1024, 1),
    }


def bench_export(domain: str, n_procs: int, *, repeat: int = 4, part_size: int = 4, threads: int | None = None) -> dict:
    """``jepa-export`` of the bundled samples repeated ``repeat`` times with ``n_procs`` processes of ``threads``
    torch threads each (default: the cores shared out).

    Returns rows, seconds, rows_per_s, peak_rss_mb (and the in-process export time, threads, parts).
    """
    threads = threads or max(1, (os.cpu_count() or 1) // n_procs)
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        inputs = repeated_inputs(domain, repeat, Path(tmp) / "in")
        return run_export(domain, inputs, Path(tmp) / "out", n_procs, part_size=part_size, threads=threads)


def bench_memory(domain: str, repeat: int, *, part_size: int = 4) -> dict:
    """Peak RSS of one process exporting N and 4N inputs: flat if the export streams."""
    small = bench_export(domain, 1, repeat=repeat, part_size=part_size)
    large = bench_export(domain, 1, repeat=4 * repeat, part_size=part_size)
    return {
        "rows_N": small["rows"],
        "peak_rss_mb_N": small["peak_rss_mb"],
        "rows_4N": large["rows"],
        "peak_rss_mb_4N": large["peak_rss_mb"],
        "rss_ratio_4N_over_N": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="ecg", choices=sorted(SAMPLE_INPUTS))
    parser.add_argument("--repeat", type=int, default=4, help="copies of the bundled samples (default 4)")
    parser.add_argument("--part-size", type=int, default=4, help="records per part (default 4)")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts (default 1 2)")
    parser.add_argument("--memory-repeat", type=int, default=2, help="N for the N vs 4N memory check; 0: skip")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    result = {
        "date": date.today().isoformat(),
        "machine": {**machine(), "cpu_count": os.cpu_count()},
        "domain": args.domain,
        "repeat": args.repeat,
        "runs": [bench_export(args.domain, n, repeat=args.repeat, part_size=args.part_size) for n in args.procs],
    }
    if 1 in args.procs and (os.cpu_count() or 1) > 1:  # control: one process on one thread, as each torchrun worker
        result["runs"].append(bench_export(args.domain, 1, repeat=args.repeat, part_size=args.part_size, threads=1))
    if args.memory_repeat:
        result["memory"] = bench_memory(args.domain, args.memory_repeat, part_size=args.part_size)
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
