"""The shared ending of every domain's ``evaluate.py``: run, time, print, write JSON, update the card."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from jepa_core.checkpoint import atomic_write, read_card, write_card
from jepa_core.errors import InputError
from jepa_core.progress import set_progress

CardEntry = Callable[[dict], tuple[str, dict]]  # report -> (task name, headline metrics for the model card)


def record_in_card(model_dir: Path, task: str, entry: dict, command: str) -> None:
    """Store ``entry`` and the ``command`` that produced it as ``probe_metrics[task]`` of the model card
    (``benchmarks/run_all.py`` re-runs these commands)."""
    card = read_card(model_dir)
    card.setdefault("probe_metrics", {})[task] = {**entry, "command": command}
    write_card(model_dir, card)
    print(f"updated {Path(model_dir) / 'model_card.json'}")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``--threads`` and ``--no-progress``, which :func:`run_evaluation` applies."""
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (batch jobs, log files)")


def add_methods_argument(
    parser: argparse.ArgumentParser, methods: Sequence[str], help_text: str | None = None, *, default_all: bool = True
) -> None:
    """``--methods``: which of the task's ``methods`` to run (all of them unless ``default_all`` is off)."""
    parser.add_argument(
        "--methods", nargs="+", choices=methods, default=list(methods) if default_all else None, help=help_text
    )


def run_evaluation(
    args: argparse.Namespace,
    evaluate: Callable[[argparse.Namespace], dict],
    format_table: Callable[[dict], str],
    card_entry: CardEntry | None = None,
    *,
    script: str,
    argv: Sequence[str] | None = None,
) -> int:
    """``evaluate(args)`` -> report; prints the table, writes ``args.out`` atomically and, with
    ``args.update_card``, records ``card_entry(report)`` and the command (``python <script> <argv>``)
    in the model card. Returns the exit code (2 with a one-line message for unusable input, never a
    traceback)."""
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    set_progress(not getattr(args, "no_progress", False))
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
    if getattr(args, "update_card", False) and card_entry is not None:
        task, entry = card_entry(report)
        command = " ".join(["python", script, *(sys.argv[1:] if argv is None else argv)])
        record_in_card(args.checkpoint, task, entry, command)
    return 0
