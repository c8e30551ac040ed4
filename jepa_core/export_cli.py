"""``jepa-export``: embeddings of every window of a dataset to one Parquet file.

Exit codes: 0 rows were written (some records may have been skipped), 1 nothing could be exported,
2 bad usage or a checkpoint that cannot be loaded. Bad input never ends in a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from jepa_core.export import ExportSummary

EPILOG = """\
Columns: record_id, window_index, start_sample, start_s, sampling_rate, embedding
(fixed_size_list<float32>[D]), checkpoint_sha256. The schema metadata names the domain, pooling,
encoder, model and jepa-suite version. The output is written under a temporary name and renamed
when complete; an existing file is replaced only by a successful export.

example: jepa-export --domain ecg --input data/samples/ecg --output ecg.parquet
"""


def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jepa-export",
        description="Export one pooled JEPA embedding per window of every record to Parquet.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--domain", help="domain name, e.g. ecg (default: the one in the model card)")
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="model dir (encoder.safetensors + model_card.json), run dir or training checkpoint "
        "(default: the domain's bundled model, models/<domain>-tiny)",
    )
    parser.add_argument(
        "--input",
        required=True,
        nargs="+",
        action="extend",
        metavar="PATH",
        help="record folders, record paths or list files (one record a line); may be repeated",
    )
    parser.add_argument("--output", required=True, type=Path, help="Parquet file to write")
    parser.add_argument("--batch-size", type=_positive(int), default=64, help="windows per forward pass (default 64)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument(
        "--stride-s", type=_positive(float), help="window stride in seconds (default: non-overlapping windows)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _positive(kind: type) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error messages
    return parse


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments before any model is loaded, or None."""
    if args.domain is None and args.checkpoint is None:
        return "give --checkpoint, or --domain to use that domain's bundled model"
    if args.output.is_dir():
        return f"{args.output}: --output is a directory; give a file name such as embeddings.parquet"
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return f"--device {args.device}: CUDA is not available on this machine"
    return None


def _print_summary(summary: ExportSummary, stream: TextIO) -> None:
    rate = f" in {summary.seconds:.1f} s ({summary.rows_per_s:.0f} rows/s)" if summary.rows else ""
    print(f"{summary.rows} rows from {summary.records_ok} records{rate}", file=stream)
    if summary.skipped:
        print(f"skipped {len(summary.skipped)} records:", file=stream)
        for record_id, message in summary.skipped:
            print(f"  {record_id}: {message}", file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, load the model, export, print a summary. Returns the exit code."""
    args = export_parser().parse_args(argv)
    problem = _usage_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    # Heavy imports (torch, pyarrow) only after --help and argument checks.
    from tqdm.auto import tqdm

    from jepa_core.domain import get_domain
    from jepa_core.errors import InputError
    from jepa_core.export import NothingExported, export_embeddings
    from jepa_core.pretrained import load_pretrained

    try:
        checkpoint = args.checkpoint or get_domain(args.domain).default_model_dir()
        pretrained = load_pretrained(checkpoint, domain=args.domain)
    except Exception as err:  # noqa: BLE001 - a malformed model card can fail in many ways; report, don't trace
        problem = str(err) if isinstance(err, (InputError, ValueError)) else f"{type(err).__name__}: {err}"
        hint = "" if args.checkpoint else " (the domain's bundled model; pass --checkpoint to use another)"
        print(f"error: cannot load the model: {problem.splitlines()[0]}{hint}", file=sys.stderr)
        return 2
    print(f"model: {checkpoint} ({pretrained.domain.name}, sha256 {pretrained.sha256[:12]})", file=sys.stderr)
    try:
        summary = export_embeddings(
            pretrained,
            [str(p) for p in args.input],
            args.output,
            batch_size=args.batch_size,
            device=args.device,
            progress=not args.no_progress,
            stride_s=args.stride_s,
            # Name each bad record as it comes during a long run; the summary lists them all again.
            on_skip=None if args.no_progress else lambda rid, msg: tqdm.write(f"skipped {rid}: {msg}", file=sys.stderr),
        )
    except NothingExported as err:
        _print_summary(err.summary, sys.stderr)
        print(f"error: nothing exported; {args.output} was not written", file=sys.stderr)
        return 1
    except OSError as err:  # e.g. the output folder is not writable or the disk is full
        print(f"error: {err}", file=sys.stderr)
        return 1
    _print_summary(summary, sys.stdout)
    print(f"wrote {summary.output}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
