"""Shared benchmark helpers: matmul peak, FLOP counting, timing, table printing."""

from __future__ import annotations

import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the architecture: speed ratios depend on it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def matmul_peak(n: int = 2048, seconds: float = 3.0, device: str = "cpu") -> float:
    """Dense fp32 matmul FLOP/s measured now, on this machine (the denominator of every fraction)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    reps, tic = 0, time.perf_counter()
    while time.perf_counter() - tic < seconds:
        a @ b
        reps += 1
    if device != "cpu":
        torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - tic)


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call of ``fn`` (forward and backward if it calls backward)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def time_calls(fn: Callable[[], object], *, warmup: int = 3, min_seconds: float = 5.0, min_calls: int = 5) -> float:
    """Median-free simple mean seconds per call after warm-up."""
    for _ in range(warmup):
        fn()
    calls, tic = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - tic < min_seconds:
        fn()
        calls += 1
    return (time.perf_counter() - tic) / calls


def paired_median_times(fns: dict[str, Callable[[], object]], *, rounds: int = 40, warmup: int = 2) -> dict:
    """Seconds per call of each function, called in turn for ``rounds`` rounds (``a b a b ...``), so
    that drift in the machine's speed (other load, memory state) hits them alike. Median and min."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            tic = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - tic)
    return {name: {"median_s": statistics.median(t), "min_s": min(t)} for name, t in times.items()}


def reader_vs_bare(paths: list, bare: Callable, ours: Callable, *, unit: str, bare_name: str,
                   rounds: int = 40, min_call_s: float = 0.02) -> dict:  # fmt: skip
    """``unit``/s of ``ours(path)`` against ``bare(path)`` (the library call alone) over the same ``paths``.

    Timed in turn, round by round, and compared by medians (:func:`paired_median_times`): on this
    VM a mean of one loop after the other moved the ratio by +-0.15 between runs. A timed call is
    enough passes over ``paths`` to last ``min_call_s`` (the clock's resolution matters for tiny files).
    """
    tic = time.perf_counter()
    for p in paths:
        bare(p)
    passes = max(1, math.ceil(min_call_s / max(time.perf_counter() - tic, 1e-6)))

    def loop(fn: Callable) -> Callable[[], None]:
        return lambda: [fn(p) for _ in range(passes) for p in paths]

    t = paired_median_times({"bare": loop(bare), "ours": loop(ours)}, rounds=rounds)
    bare_s, ours_s = t["bare"]["median_s"] / passes, t["ours"]["median_s"] / passes
    return {
        "files": len(paths),
        "rounds": rounds,
        "passes_per_call": passes,
        f"bare_{bare_name}_{unit}_per_s": len(paths) / bare_s,
        f"ours_{unit}_per_s": len(paths) / ours_s,
        "ours_over_bare_time": ours_s / bare_s,
        "timing": "median of interleaved rounds",
    }


def print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def bench_pretrain_step(domain, cfg, x: torch.Tensor) -> dict:
    """Seconds and FLOPs of one full optimisation step (forward, backward, AdamW, EMA) on the batch ``x``."""
    from jepa_core.data import mask_generator
    from jepa_core.schedules import make_optimizer

    torch.manual_seed(0)
    batch_size = len(x)
    model = domain.build_model(cfg)
    opt = make_optimizer(model, lr=1e-4)  # as the training loop builds it
    masker = domain.mask_sampler(cfg, model.encoder.grid_for(tuple(x.shape[1:])))
    masks = masker(batch_size, mask_generator(0, 0))

    def step() -> None:
        loss = model(x, masks)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.update_target(0.996)

    flops = count_flops(step)
    seconds = time_calls(step, min_seconds=8.0)
    return {
        "batch_size": batch_size,
        "step_s": seconds,
        "samples_per_s": batch_size / seconds,
        "flops_per_step": flops,
        "flops_per_s": flops / seconds,
        "tokens_per_sample": masker.num_tokens,
    }


# Runs a command and prints the peak RSS (KiB) of its largest descendant. A fresh small launcher per
# measurement: RUSAGE_CHILDREN only ever grows, and on Linux a child's ru_maxrss starts at the peak of the
# process that spawned it (the spawning memory's high-water mark survives exec), so a child started
# straight from a benchmark that had held 2 GB would report 2 GB whatever it used itself.
PEAK_RSS = (
    "import json, resource, subprocess, sys; "
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-3000:], "
    "'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))"
)


def run_child(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of a child Python process (``python *args``), through :data:`PEAK_RSS`."""
    import subprocess
    import sys

    tic = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - tic
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["rc"] != 0:
        raise RuntimeError(f"python {' '.join(args)[:200]} failed ({report['rc']}):\n{report['err']}")
    return wall, report["maxrss_kb"] / 1024**2
