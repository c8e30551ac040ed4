"""Sharded, resumable export: the record list cut into fixed parts, one Parquet file per part in a directory.

Layout of an output directory ``out/``::

    part-00000-of-00004.parquet      one per part that has rows, with the single-file export's schema
    _done/part-00000-of-00004.json   sidecar of a finished part: rows, record range, skipped records, hashes
    _manifest.json                   the plan (domain, checkpoint and input hashes, part size, part files) with
                                     "status": "running"; "complete" with rows per part once every part is done

Readers that skip names starting with ``_`` or ``.`` (pyarrow.dataset, Spark) read ``out/`` as one table.

Every process resolves the same sorted, de-duplicated record list and cuts it into contiguous parts of
``part_size`` records; shard ``k`` of ``n`` takes parts ``k, k + n, ...``, so a part is a fixed set of records
whatever the number of processes. A part is written under a temporary name, fsynced and renamed, then its sidecar
is written; a rerun skips a part whose sidecar matches the plan and whose file holds the recorded row count,
and redoes the others. A process writes only its own parts and sidecars. The manifest is created once (a hard
link: never replaced while running) and marked complete by whichever process finds every sidecar, so ranks
need nothing but shared storage: no rendezvous, no process group.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from jepa_core.checkpoint import atomic_write, fsync_dir, remove_partial_writes
from jepa_core.domain import Domain
from jepa_core.errors import InputError
from jepa_core.export import ExportSummary, NothingExported, SkipHook, check_sizes, on_device, write_windows
from jepa_core.pretrained import Pretrained

FORMAT = "jepa-export-parts/1"
MANIFEST = "_manifest.json"
DONE = "_done"
PART_FILE = re.compile(r"part-\d+-of-\d+\.parquet")
WAIT_S = 600.0  # how long other ranks wait for rank 0 to replace a mismatching export (--overwrite)
_PLAN_KEYS = {  # what must agree between a directory's manifest and this run, and how to name it
    "format": "format",
    "domain": "domain",
    "checkpoint_sha256": "checkpoint",
    "input_sha256": "input list",
    "part_size": "--part-size",
    "stride_s": "--stride-s",
}


class ExportMismatch(InputError):
    """The output directory holds an export of another checkpoint, input list or part plan."""


@dataclass
class PartsSummary(ExportSummary):
    """What one process did. ``rows``, ``records_ok`` and ``skipped`` count the parts it wrote in this run;
    ``total_rows``/``all_skipped`` describe the whole export once ``complete``."""

    shard: tuple[int, int] = (0, 1)
    num_parts: int = 0
    parts_written: list[int] = field(default_factory=list)
    parts_resumed: list[int] = field(default_factory=list)  # complete before this run: kept, not redone
    resumed_rows: int = 0
    pending: list[int] = field(default_factory=list)  # parts not finished yet when this process ended
    complete: bool = False
    total_rows: int = 0
    all_skipped: list[tuple[str, str]] = field(default_factory=list)  # every part's, once complete

    @property
    def manifest(self) -> Path:
        return self.output / MANIFEST


def shard_from_env() -> tuple[int, int]:
    """``(RANK, WORLD_SIZE)`` as torchrun sets them; ``(0, 1)`` outside torchrun."""
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise ValueError(f"RANK={os.environ.get('RANK')!r} WORLD_SIZE={os.environ.get('WORLD_SIZE')!r}") from None
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is not in [0, WORLD_SIZE={world})")
    return rank, world


def resolve_records(domain: Domain, inputs: Sequence[str | Path]) -> list[str]:
    """The input list as sorted, de-duplicated record paths, so that every rank and every rerun agrees.

    Uses the domain's ``list_records(item)``. An item that cannot be listed is kept as given: its part
    reports the problem like any unreadable record.
    """
    found: set[str] = set()
    for item in inputs:
        try:
            found.update(str(p) for p in domain.list_records(item))
        except (InputError, OSError):
            found.add(str(item))
    return sorted(found)


def make_plan(pretrained: Pretrained, records: Sequence[str], part_size: int, stride_s: float | None) -> dict:
    """Everything that fixes the rows of every part; a directory only resumes an export with the same plan."""
    return {
        "format": FORMAT,
        "domain": pretrained.domain.name,
        "checkpoint_sha256": pretrained.sha256,
        "input_sha256": hashlib.sha256("\n".join(records).encode()).hexdigest(),
        "n_records": len(records),
        "part_size": part_size,
        "num_parts": max(1, math.ceil(len(records) / part_size)),
        "stride_s": stride_s,
    }


def part_name(index: int, num_parts: int) -> str:
    return f"part-{index:05d}-of-{num_parts:05d}.parquet"


def _sidecar(out: Path, name: str) -> Path:
    return out / DONE / (name.removesuffix(".parquet") + ".json")


def part_records(plan: dict, index: int) -> tuple[int, int]:
    """The half-open range of the sorted record list that part ``index`` holds."""
    size = plan["part_size"]
    return index * size, min((index + 1) * size, plan["n_records"])


def export_parts(
    pretrained: Pretrained,
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    part_size: int = 256,
    shard: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = True,
    row_group_size: int = 4096,
    stride_s: float | None = None,
    on_skip: SkipHook | None = None,
) -> PartsSummary:
    """Export this shard's parts of ``inputs`` into ``out_dir`` (layout in the module docstring).

    Parts already complete are kept; the others are (re)written. Raises :class:`ExportMismatch` if ``out_dir``
    holds another plan's export (unless ``overwrite``: shard 0 clears it, the others wait for it), and
    :class:`NothingExported` (removing what the export wrote) if the finished export has no row at all.
    Shape: each row's ``embedding`` is ``domain.pool(encoder(x))`` for one window, (D,) float32.
    """
    check_sizes(batch_size, row_group_size)
    index, count = shard
    if part_size < 1 or not 0 <= index < count:
        raise ValueError(f"need part_size >= 1 and 0 <= shard index < shard count, got {part_size}, {shard}")
    out, device = Path(out_dir), torch.device(device)
    records = resolve_records(pretrained.domain, inputs)
    plan = make_plan(pretrained, records, part_size, stride_s)
    summary = PartsSummary(output=out, shard=shard, num_parts=plan["num_parts"])
    out.mkdir(parents=True, exist_ok=True)
    _claim(out, plan, inputs, overwrite=overwrite, leader=index == 0)
    (out / DONE).mkdir(exist_ok=True)
    started = time.perf_counter()
    write_opts = dict(batch_size=batch_size, device=device, row_group_size=row_group_size, stride_s=stride_s)
    try:
        with on_device(pretrained, device):
            for i in range(index, plan["num_parts"], count):
                done = _finished_part(out, plan, i)
                if done is not None:
                    summary.parts_resumed.append(i)
                    summary.resumed_rows += done["rows"]
                    continue
                part = _write_part(pretrained, records, plan, out, i, on_skip, progress, write_opts)
                summary.parts_written.append(i)
                summary.rows += part.rows
                summary.records_ok += part.records_ok
                summary.skipped += part.skipped
    finally:
        summary.seconds = time.perf_counter() - started
    _finish(out, plan, inputs, summary)
    return summary


class _NoRows(Exception):
    """Every record of a part was unreadable: no file for it (atomic_write drops the temporary one)."""


def _write_part(
    pretrained: Pretrained,
    records: list[str],
    plan: dict,
    out: Path,
    i: int,
    on_skip: SkipHook | None,
    progress: bool,
    write_opts: dict,
) -> ExportSummary:
    """Write part ``i`` (temporary name, fsync, rename), then its sidecar; return what it held."""
    name = part_name(i, plan["num_parts"])
    remove_partial_writes(out / name)  # left by a killed run; this part is ours alone to write
    start, stop = part_records(plan, i)
    part = ExportSummary(output=out / name)
    began = time.perf_counter()

    def write(tmp: str) -> None:
        desc = f"part {i + 1}/{plan['num_parts']}"
        write_windows(
            pretrained, records[start:stop], tmp, part, on_skip=on_skip, progress=progress, desc=desc, **write_opts
        )
        if part.rows == 0:
            raise _NoRows

    try:
        atomic_write(out / name, write)  # fsyncs the file and the directory
        file: str | None = name
    except _NoRows:
        (out / name).unlink(missing_ok=True)
        fsync_dir(out)
        file = None
    sidecar = {
        "part": i,
        "file": file,
        "rows": part.rows,
        "records": [start, stop],
        "records_ok": part.records_ok,
        "skipped": part.skipped,
        "input_sha256": plan["input_sha256"],
        "checkpoint_sha256": plan["checkpoint_sha256"],
        "seconds": round(time.perf_counter() - began, 3),
    }
    _write_json(_sidecar(out, name), sidecar)
    return part


def _finished_part(out: Path, plan: dict, i: int) -> dict | None:
    """Part ``i``'s sidecar if it matches the plan and the part file holds the recorded rows, else None."""
    name = part_name(i, plan["num_parts"])
    meta = _read_json(_sidecar(out, name))
    if not meta or any(meta.get(k) != plan[k] for k in ("input_sha256", "checkpoint_sha256")):
        return None
    if meta.get("records") != list(part_records(plan, i)):
        return None
    if meta.get("file") is None:
        return meta if meta.get("rows") == 0 else None
    try:
        rows = pq.read_metadata(out / name).num_rows
    except (OSError, pa.ArrowException):  # missing, truncated or not Parquet: redo it
        return None
    return meta if meta["file"] == name and rows == meta.get("rows") else None


def _claim(out: Path, plan: dict, inputs: Sequence, *, overwrite: bool, leader: bool) -> None:
    """Make sure ``out`` holds this plan's manifest (creating it if absent); refuse another plan's export."""
    path = out / MANIFEST
    old = _read_json(path)
    if old is None:
        _foreign_parts(out, plan, overwrite=overwrite, leader=leader)
        _create_once(path, _manifest(plan, inputs))
        old = _read_json(path)  # ours, or the one another rank created first
    diffs = _differences(old, plan) if old else ["manifest (it cannot be read)"]
    if not diffs:
        return
    if not overwrite:
        raise ExportMismatch(
            path,
            f"this directory holds an export made with another {'; '.join(diffs)}. Give another --output, "
            "or --overwrite to replace it",
        )
    if leader:
        _clear(out)
        _create_once(path, _manifest(plan, inputs))
        return
    deadline = time.monotonic() + WAIT_S
    while _differences(_read_json(path) or {}, plan):  # the leader clears the directory and writes our plan
        if time.monotonic() > deadline:
            raise ExportMismatch(path, f"waited {WAIT_S:.0f} s for shard 0 to replace the export of another plan")
        time.sleep(0.5)


def _differences(old: dict, plan: dict) -> list[str]:
    diffs = []
    for key, what in _PLAN_KEYS.items():
        was, now = old.get(key), plan[key]
        if was == now:
            continue
        if key.endswith("sha256"):
            was, now = f"sha256 {str(was)[:12]}", f"sha256 {now[:12]}"
        if key == "input_sha256":
            was, now = f"{old.get('n_records')} records, {was}", f"{plan['n_records']} records, {now}"
        diffs.append(f"{what} ({was} there, {now} now)")
    return diffs


def _foreign_parts(out: Path, plan: dict, *, overwrite: bool, leader: bool) -> None:
    """Part files that no part of this plan would write (a manifest was deleted): refuse, or clear them."""
    ours = {part_name(i, plan["num_parts"]) for i in range(plan["num_parts"])}
    foreign = sorted(p for p in out.iterdir() if PART_FILE.fullmatch(p.name) and p.name not in ours)
    if foreign and not overwrite:
        raise ExportMismatch(
            out,
            f"holds part files of another export ({foreign[0].name}, ...) but no {MANIFEST}. Give another "
            "--output, or --overwrite to replace them",
        )
    if foreign and leader:
        for p in foreign:
            p.unlink(missing_ok=True)


def _finish(out: Path, plan: dict, inputs: Sequence, summary: PartsSummary) -> None:
    """If every part is done, mark the manifest complete (or, with no row at all, remove the export)."""
    metas = [_finished_part(out, plan, i) for i in range(plan["num_parts"])]
    summary.pending = [i for i, m in enumerate(metas) if m is None]
    if summary.pending:
        return
    skipped = [tuple(s) for m in metas for s in m["skipped"]]
    summary.total_rows = sum(m["rows"] for m in metas)
    summary.all_skipped = skipped
    if summary.total_rows == 0:
        _clear(out)
        for folder in (out / DONE, out):
            try:
                folder.rmdir()  # only if nothing else is in it
            except OSError:
                pass
        summary.skipped = skipped
        raise NothingExported(summary)
    parts = [{"index": i, "file": m["file"], "rows": m["rows"], "records": m["records"]} for i, m in enumerate(metas)]
    manifest = _manifest(plan, inputs, status="complete", parts=parts)
    manifest.update(rows=summary.total_rows, skipped=skipped)
    _write_json(out / MANIFEST, manifest)
    # Every part is done, so part and sidecar temporaries are a killed run's leftovers (a manifest temporary may
    # be another rank's write in flight: left alone).
    for stale in [*out.glob(".part-*.tmp"), *(out / DONE).glob(".*.tmp")]:
        stale.unlink(missing_ok=True)
    summary.complete = True


def _manifest(plan: dict, inputs: Sequence, *, status: str = "running", parts: list[dict] | None = None) -> dict:
    if parts is None:
        n = plan["num_parts"]
        parts = [{"index": i, "file": part_name(i, n), "records": list(part_records(plan, i))} for i in range(n)]
    return {**plan, "status": status, "inputs": [str(p) for p in inputs], "parts": parts}


def _clear(out: Path) -> None:
    """Remove what an export wrote into ``out`` (parts, sidecars, manifest, temporary files); nothing else."""
    doomed = [p for p in out.iterdir() if PART_FILE.fullmatch(p.name) or p.name.startswith(".part-")]
    if (out / DONE).is_dir():
        doomed += [p for p in (out / DONE).iterdir() if p.suffix in (".json", ".tmp")]
    for p in [*doomed, out / MANIFEST]:
        p.unlink(missing_ok=True)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # unreadable: matches no plan


def _write_json(path: Path, obj: dict) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(obj, indent=1) + "\n"))


def _create_once(path: Path, obj: dict) -> None:
    """Write ``path`` only if it does not exist, complete or not at all: a hard link of a finished file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(obj, indent=1) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another rank was first; the caller compares its plan with ours
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
