"""Shared benchmark helpers: matmul peak, FLOP counting, timing, table printing."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
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


def print_table(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
