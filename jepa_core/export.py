"""Embeddings to Parquet: one row per window, streamed in row groups, written atomically.

Domain-agnostic: windows come from ``pretrained.domain.iter_windows`` and are pooled with
``pretrained.domain.pool``. Windows are batched across records, so many short records still fill
whole batches, and rows go to disk one row group at a time, so memory stays flat in the dataset size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from tqdm.auto import tqdm

from jepa_core.checkpoint import atomic_write
from jepa_core.pretrained import Pretrained

SkipHook = Callable[[str, str], None]


@dataclass
class ExportSummary:
    """What an export did; ``skipped`` holds ``(record_id, message)`` for every unreadable record."""

    output: Path
    rows: int = 0
    records_ok: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class NothingExported(RuntimeError):
    """No window could be exported; the output path was left as it was. Carries the summary."""

    def __init__(self, summary: ExportSummary) -> None:
        self.summary = summary
        super().__init__(f"no window could be exported ({len(summary.skipped)} records skipped)")


def export_schema(dim: int, meta: dict[str, str]) -> pa.Schema:
    """The Parquet schema of an export with ``dim``-wide embeddings."""
    return pa.schema(
        [
            ("record_id", pa.string()),
            ("source", pa.string()),  # the file the window came from: record ids need not be unique across folders
            ("window_index", pa.int32()),  # per record, 0-based, in time order
            ("start_sample", pa.int64()),  # at ``sampling_rate``, i.e. after the domain's resampling
            ("start_s", pa.float64()),
            ("sampling_rate", pa.float32()),
            ("embedding", pa.list_(pa.float32(), dim)),
            ("checkpoint_sha256", pa.string()),
        ],
        metadata={k.encode(): v.encode() for k, v in meta.items()},
    )


def export_metadata(pretrained: Pretrained, dim: int, stride_s: float | None) -> dict[str, str]:
    """Schema-level metadata: enough to tell later which model and pooling made the file."""
    card = pretrained.card
    try:
        version = metadata.version("jepa-suite")
    except metadata.PackageNotFoundError:  # running from a plain checkout
        version = "unknown"
    return {
        "domain": pretrained.domain.name,
        "pooling": pretrained.domain.pooling,
        "encoder_used_downstream": str(card.get("encoder_used_downstream", "")),
        "embed_dim": str(dim),
        "model_name": str(card.get("name", "")),
        "checkpoint_sha256": pretrained.sha256,
        "stride_s": "window" if stride_s is None else f"{stride_s:g}",
        "input_spec": json.dumps(card.get("input_spec", {})),
        "jepa_suite_version": version,
    }


class _Tally:
    """Counts records and numbers windows per record, using O(1) memory per record.

    A domain yields a record's windows contiguously, so a change of source file (of ``record_id`` where a
    domain names no source) starts a new record: two files with one name in two folders are two records.
    """

    def __init__(self, summary: ExportSummary, on_skip: SkipHook | None) -> None:
        self.summary, self.on_skip = summary, on_skip
        self.current: str | None = None
        self.index = 0

    def window(self, key: str) -> int:
        if key != self.current:
            self.current, self.index = key, 0
            self.summary.records_ok += 1
        else:
            self.index += 1
        return self.index

    def skip(self, record_id: str, message: str) -> None:
        self.summary.skipped.append((record_id, message))
        if self.on_skip is not None:
            self.on_skip(record_id, message)


def _batches(items: Iterable[dict], batch_size: int, tally: _Tally) -> Iterator[list[dict]]:
    """Group windows into batches across record boundaries; errors go to the tally, not the batch."""
    batch: list[dict] = []
    for item in items:
        if "error" in item:
            tally.skip(str(item["record_id"]), str(item["error"]))
            continue
        item.setdefault("source", str(item["record_id"]))
        item["window_index"] = tally.window(str(item["source"]))
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def embed_batch(pretrained: Pretrained, batch: list[dict], device: torch.device) -> np.ndarray:
    """Encode and pool a list of windows. Shape: B windows of ``x`` (...) -> (B, D) float32."""
    x = torch.stack([item["x"] for item in batch]).to(device=device, dtype=torch.float32)  # (B, ...)
    with torch.inference_mode():
        tokens = pretrained.encoder(x)  # (B, N, D)
        pooled = pretrained.domain.pool(tokens)  # (B, D)
    return pooled.float().cpu().numpy()


class _ParquetSink:
    """Buffers rows and writes one row group per ``row_group_size`` rows; the writer opens on the first rows."""

    def __init__(self, path: str, meta: Callable[[int], dict[str, str]], sha: str, row_group_size: int) -> None:
        self.path, self.meta, self.sha, self.row_group_size = path, meta, sha, row_group_size
        self.writer: pq.ParquetWriter | None = None
        self.rows: list[dict] = []
        self.embeddings: list[np.ndarray] = []
        self.buffered = 0

    def add(self, batch: list[dict], emb: np.ndarray) -> None:
        # Keep only the metadata: the window tensors can be freed as soon as they are encoded.
        keys = ("record_id", "source", "window_index", "start", "start_s", "rate")
        self.rows += [{k: item[k] for k in keys} for item in batch]
        self.embeddings.append(emb)
        self.buffered += len(batch)
        while self.buffered >= self.row_group_size:
            self.flush(self.row_group_size)

    def flush(self, n: int | None = None) -> None:
        """Write the first ``n`` buffered rows (all if None) as one row group; keep the rest."""
        n = self.buffered if n is None else n
        if not n:
            return
        emb = np.concatenate(self.embeddings).astype(np.float32, copy=False)  # (R, D)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, export_schema(emb.shape[1], self.meta(emb.shape[1])))
        self.writer.write_table(self._table(self.rows[:n], emb[:n]), row_group_size=n)
        self.rows, self.embeddings, self.buffered = self.rows[n:], [emb[n:]], self.buffered - n

    def _table(self, rows: list[dict], emb: np.ndarray) -> pa.Table:
        n, dim = emb.shape
        columns: dict[str, Any] = {
            "record_id": pa.array([str(r["record_id"]) for r in rows], pa.string()),
            "source": pa.array([str(r["source"]) for r in rows], pa.string()),
            "window_index": pa.array([r["window_index"] for r in rows], pa.int32()),
            "start_sample": pa.array([int(r["start"]) for r in rows], pa.int64()),
            "start_s": pa.array([float(r["start_s"]) for r in rows], pa.float64()),
            "sampling_rate": pa.array([float(r["rate"]) for r in rows], pa.float32()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), dim),
            "checkpoint_sha256": pa.array([self.sha] * n, pa.string()),
        }
        return pa.Table.from_pydict(columns, schema=self.writer.schema)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _windows(pretrained: Pretrained, source: Any, kwargs: dict) -> Iterator[dict]:
    """Windows of each source item in turn (lazily): one missing folder is reported, not fatal to the rest."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    for item in items:
        yield from pretrained.domain.iter_windows(item, pretrained.cfg, **kwargs)


def _progress(enabled: bool, desc: str = "export") -> tqdm:
    # The total is unknown without reading every record first, so the bar counts windows.
    return tqdm(total=None, unit="win", desc=desc, disable=not enabled, dynamic_ncols=True)


@contextmanager
def on_device(pretrained: Pretrained, device: torch.device) -> Iterator[None]:
    """Move the encoder to ``device`` for the block, then back to where the caller had it."""
    home = next(pretrained.encoder.parameters()).device
    pretrained.encoder.to(device)
    try:
        yield
    finally:
        pretrained.encoder.to(home)


def write_windows(
    pretrained: Pretrained,
    source: Any,
    path: str,
    summary: ExportSummary,
    *,
    batch_size: int,
    device: torch.device,
    row_group_size: int,
    stride_s: float | None,
    on_skip: SkipHook | None,
    progress: bool,
    desc: str = "export",
) -> None:
    """Stream the windows of ``source`` into a Parquet file at ``path``, counting rows and skips in ``summary``.

    The Parquet writer opens on the first rows: with no rows, ``path`` is left as it was.
    Shape: each row's ``embedding`` is ``domain.pool(encoder(x))`` for one window, (D,) float32.
    """
    kwargs = {} if stride_s is None else {"stride_s": stride_s}  # only domains with a stride take it
    sink = _ParquetSink(path, lambda dim: export_metadata(pretrained, dim, stride_s), pretrained.sha256, row_group_size)
    tally = _Tally(summary, on_skip)
    with _progress(progress, desc) as bar:
        try:
            for batch in _batches(_windows(pretrained, source, kwargs), batch_size, tally):
                batch, emb = _finite_rows(batch, embed_batch(pretrained, batch, device), tally)
                if not batch:
                    continue
                sink.add(batch, emb)
                summary.rows += len(batch)
                bar.update(len(batch))
                bar.set_postfix(records=summary.records_ok, skipped=len(summary.skipped), refresh=False)
            sink.flush()
        finally:
            sink.close()


def _finite_rows(batch: list[dict], emb: np.ndarray, tally: _Tally) -> tuple[list[dict], np.ndarray]:
    """Drop windows whose embedding is not finite (inputs beyond what the encoder's float32 can square), naming
    each in the skips: a NaN row in a pipeline's Parquet file would poison every mean taken over it."""
    ok = np.isfinite(emb).all(axis=1)
    if ok.all():
        return batch, emb
    for item in (b for b, good in zip(batch, ok, strict=True) if not good):
        tally.skip(
            str(item["record_id"]),
            f"{item['source']}: window {item['window_index']} at {item['start_s']:g} s gave a non-finite embedding "
            "(input values out of the model's range); row left out",
        )
    return [b for b, good in zip(batch, ok, strict=True) if good], emb[ok]


def check_sizes(batch_size: int, row_group_size: int) -> None:
    if batch_size < 1 or row_group_size < 1:
        raise ValueError(f"batch_size and row_group_size must be >= 1, got {batch_size}, {row_group_size}")


def export_embeddings(
    pretrained: Pretrained,
    source: Any,
    output: str | Path,
    *,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = True,
    row_group_size: int = 4096,
    stride_s: float | None = None,
    on_skip: SkipHook | None = None,
) -> ExportSummary:
    """Write one Parquet row per window of ``source``: what the domain's ``iter_windows`` accepts, or a list
    of those (each read in turn, so that one unreadable item is reported and the others still export).

    The file is written next to ``output`` under a temporary name and renamed over it only when
    complete. Unreadable records are skipped, listed in the summary and passed to ``on_skip`` as they
    come. Raises :class:`NothingExported` (leaving ``output`` untouched) if no window was exported.
    For a sharded, resumable export into a directory see :func:`jepa_core.export_parts.export_parts`.
    Shape: each row's ``embedding`` is ``domain.pool(encoder(x))`` for one window, (D,) float32.
    """
    check_sizes(batch_size, row_group_size)
    output, device = Path(output), torch.device(device)
    summary = ExportSummary(output=output)
    started = time.perf_counter()

    def write(tmp: str) -> None:
        write_windows(
            pretrained,
            source,
            tmp,
            summary,
            batch_size=batch_size,
            device=device,
            row_group_size=row_group_size,
            stride_s=stride_s,
            on_skip=on_skip,
            progress=progress,
        )
        if summary.rows == 0:
            raise NothingExported(summary)  # atomic_write removes the temporary file

    try:
        with on_device(pretrained, device):
            atomic_write(output, write)
    finally:
        summary.seconds = time.perf_counter() - started
    return summary
