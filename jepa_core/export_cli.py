"""``jepa-export``: embeddings of every window of a dataset to one Parquet file, or to a directory of parts.

``--output x.parquet`` writes one file (atomically); any other ``--output`` is a directory that receives a
sharded, resumable export (:mod:`jepa_core.export_parts`): under torchrun each rank writes its own parts.

Exit codes: 0 rows were written (some records may have been skipped), 1 nothing could be exported,
2 bad usage, a checkpoint that cannot be loaded, or an output directory holding another export.
Bad input never ends in a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from jepa_core.export import ExportSummary, SkipHook
    from jepa_core.export_parts import PartsSummary
    from jepa_core.pretrained import Pretrained

DEFAULT_PART_SIZE = 256

EPILOG = """\
Columns: record_id, source (the file's path), window_index, start_sample, start_s, sampling_rate,
embedding (fixed_size_list<float32>[D]), checkpoint_sha256. The schema metadata names the domain, pooling,
encoder, model and jepa-suite version.

--output x.parquet: one file, written under a temporary name and renamed when complete; an existing
file is replaced only by a successful export.

--output DIR (any name not ending in .parquet): a sharded, resumable export. The input list is resolved
to sorted, de-duplicated records and cut into parts of --part-size records:
  DIR/part-00000-of-00004.parquet ...  one file per part with rows (same columns)
  DIR/_done/part-00000-of-00004.json   sidecar of each finished part (rows, skipped records, hashes)
  DIR/_manifest.json                   input-list hash, checkpoint sha256, part files; "status" becomes
                                       "complete" with rows per part when every part is done
Rerunning the same command skips finished parts and redoes the others (a killed export resumes with no
duplicate and no missing row). A directory holding another checkpoint's or input list's export is refused
(exit 2) unless --overwrite. Under torchrun each rank (RANK/WORLD_SIZE) takes parts rank, rank+WORLD_SIZE, ...;
--num-shards/--shard-index do the same by hand (one command per machine or job-array task).
pq.read_table(DIR) or pyarrow.dataset reads the parts as one table.

examples:
  jepa-export --domain ecg --input data/samples/ecg --output ecg.parquet
  jepa-export --domain ecg --input recs/ --output ecg_emb/ --part-size 512
  torchrun --nproc_per_node 4 -m jepa_core.export_cli --domain ecg --input recs/ --output ecg_emb/
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
    parser.add_argument(
        "--output",
        required=True,
        type=Path,
        help="a .parquet file, or a directory for a sharded, resumable export (see below)",
    )
    parser.add_argument("--batch-size", type=_positive(int), default=64, help="windows per forward pass (default 64)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument(
        "--stride-s", type=_positive(float), help="window stride in seconds (default: non-overlapping windows)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    sharded = parser.add_argument_group("directory output (sharded, resumable)")
    sharded.add_argument(
        "--part-size",
        type=_positive(int),
        help=f"records per part (default {DEFAULT_PART_SIZE}); fixed for the life of an export directory",
    )
    sharded.add_argument(
        "--num-shards", type=_positive(int), help="processes sharing the export (default: WORLD_SIZE, else 1)"
    )
    sharded.add_argument(
        "--shard-index", type=int, help="this process's shard, 0-based (default: RANK, else 0); with --num-shards"
    )
    sharded.add_argument(
        "--overwrite", action="store_true", help="replace an export of another checkpoint or input list in DIR"
    )
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
    """What is wrong with the arguments before any model is loaded, or None. Sets ``args.shard``."""
    if args.domain is None and args.checkpoint is None:
        return "give --checkpoint, or --domain to use that domain's bundled model"
    args.sharded = args.output.suffix.lower() != ".parquet"
    if not args.sharded and args.output.is_dir():
        return f"{args.output}: --output is a directory; give a file name such as embeddings.parquet"
    if args.sharded and args.output.exists() and not args.output.is_dir():
        return f"{args.output}: --output exists and is not a directory; name a .parquet file or a directory"
    problem = _shard_problem(args)
    if problem:
        return problem
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            return f"--device {args.device}: CUDA is not available on this machine"
        if args.device == "cuda" and "LOCAL_RANK" in os.environ:  # one GPU per torchrun worker
            args.device = f"cuda:{int(os.environ['LOCAL_RANK']) % torch.cuda.device_count()}"
    return None


def _shard_problem(args: argparse.Namespace) -> str | None:
    if (args.num_shards is None) != (args.shard_index is None):
        return "give --num-shards and --shard-index together"
    if args.num_shards is not None:
        args.shard = (args.shard_index, args.num_shards)
        if not 0 <= args.shard_index < args.num_shards:
            return f"--shard-index must be in [0, {args.num_shards}), got {args.shard_index}"
    else:
        from jepa_core.export_parts import shard_from_env

        try:
            args.shard = shard_from_env()
        except ValueError as err:
            return f"bad torchrun environment: {err}"
    if not args.sharded and args.shard[1] > 1:
        return (
            f"{args.output}: {args.shard[1]} processes share this export (WORLD_SIZE or --num-shards); "
            "--output must be a directory, not a .parquet file"
        )
    if not args.sharded and (args.part_size or args.overwrite):
        return "--part-size and --overwrite are for a directory --output (a sharded export)"
    return None


def _print_summary(summary: ExportSummary, stream: TextIO) -> None:
    speed = f"{summary.rows_per_s:.0f}" if summary.rows_per_s >= 10 else f"{summary.rows_per_s:.2g}"
    rate = f" in {summary.seconds:.1f} s ({speed} rows/s)" if summary.rows else ""
    print(f"{summary.rows} rows from {summary.records_ok} records{rate}", file=stream)
    _print_skipped(summary.skipped, stream)


def _print_skipped(skipped: list[tuple[str, str]], stream: TextIO) -> None:
    if skipped:
        print(f"skipped {len(skipped)} records:", file=stream)
        for record_id, message in skipped:
            print(f"  {record_id}: {message}", file=stream)


def _print_parts(summary: PartsSummary, stream: TextIO) -> None:
    """This process's parts, then the whole export's rows and skipped records if it is complete."""
    index, count = summary.shard
    who = f"shard {index}/{count}: " if count > 1 else ""
    kept = len(summary.parts_resumed)
    print(
        f"{who}wrote {len(summary.parts_written)} parts of {summary.num_parts}"
        + (f", kept {kept} already complete ({summary.resumed_rows} rows)" if kept else ""),
        file=stream,
    )
    if summary.complete:
        if summary.parts_written:
            _print_summary(dataclasses.replace(summary, skipped=[]), stream)  # this process's rows
        print(f"export complete: {summary.total_rows} rows in {summary.num_parts} parts", file=stream)
        _print_skipped(summary.all_skipped, stream)  # every part's, this process's or not
        print(f"manifest: {summary.manifest}", file=stream)
        return
    if summary.parts_written:
        _print_summary(summary, stream)
    pending = ", ".join(map(str, summary.pending[:10])) + (", ..." if len(summary.pending) > 10 else "")
    print(
        f"not complete yet: parts {pending} belong to other shards or are still running; "
        "rerun the same command to redo any whose process died",
        file=stream,
    )


def _export(args: argparse.Namespace, pretrained: Pretrained, on_skip: SkipHook | None) -> ExportSummary:
    common = dict(
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.no_progress,
        stride_s=args.stride_s,
        on_skip=on_skip,
    )
    inputs = [str(p) for p in args.input]
    if not args.sharded:
        from jepa_core.export import export_embeddings

        return export_embeddings(pretrained, inputs, args.output, **common)
    from jepa_core.export_parts import export_parts

    part_size = args.part_size or DEFAULT_PART_SIZE
    return export_parts(
        pretrained, inputs, args.output, part_size=part_size, shard=args.shard, overwrite=args.overwrite, **common
    )


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
    from jepa_core.export import NothingExported
    from jepa_core.export_parts import ExportMismatch
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
    # Name each bad record as it comes during a long run; the summary lists them all again.
    on_skip = None if args.no_progress else lambda rid, msg: tqdm.write(f"skipped {rid}: {msg}", file=sys.stderr)
    try:
        summary = _export(args, pretrained, on_skip)
    except NothingExported as err:
        _print_summary(err.summary, sys.stderr)
        print(f"error: nothing exported; {args.output} was not written", file=sys.stderr)
        return 1
    except ExportMismatch as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # e.g. the output folder is not writable or the disk is full
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.sharded:
        _print_parts(summary, sys.stdout)
    else:
        _print_summary(summary, sys.stdout)
        print(f"wrote {summary.output}", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
