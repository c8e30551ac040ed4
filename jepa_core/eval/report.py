"""The shared ending of every domain's ``evaluate.py``: run, time, print, write JSON, update the card."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from jepa_core.checkpoint import atomic_write
from jepa_core.errors import InputError


def run_evaluation(
    args: argparse.Namespace,
    evaluate: Callable[[argparse.Namespace], dict],
    format_table: Callable[[dict], str],
    update_card: Callable[[Path, dict], None] | None = None,
) -> int:
    """``evaluate(args)`` -> report; prints the table, writes ``args.out`` atomically and, with
    ``args.update_card``, records the headline metrics in the model card. Returns the exit code
    (2 with a one-line message for unusable input, never a traceback)."""
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    tic = time.perf_counter()
    try:
        report = evaluate(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report["seconds"] = round(time.perf_counter() - tic, 1)
    print(format_table(report))
    if getattr(args, "out", None):
        text = json.dumps(report, indent=2)
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(text))
        print(f"wrote {args.out}")
    if getattr(args, "update_card", False) and update_card is not None:
        update_card(args.checkpoint, report)
    return 0
