"""Fixed-length multi-lead ECG windows for pretraining, cut from preprocessed WFDB records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from domains.ecg.io import STANDARD_LEADS, find_records, lead_slot_indices, read_record
from jepa_core.errors import InputError


@dataclass(frozen=True)
class WindowIndex:
    """Window ``start`` (samples at the target rate) inside loaded record number ``record``."""

    record: int
    start: int


def window_starts(n_samples: int, window: int, stride: int) -> list[int]:
    """Starts of the windows that fit; a record shorter than one window still gives one (start 0).

    The tail after the last full window is dropped.
    """
    if n_samples <= window:
        return [0]
    return list(range(0, n_samples - window + 1, stride))


class EcgWindows(Dataset):
    """Every record is read once and kept in memory (float32, its own mapped leads only).

    Each item places the record's leads in the slots of ``leads`` (missing slots are zero);
    a record shorter than ``window`` gives one window zero-padded at the end.
    ``records`` may also be a single directory or record list (see ``find_records``).
    Shape: item ``x`` (len(leads), window).
    """

    def __init__(
        self,
        records: Sequence[str | Path] | str | Path,
        *,
        fs: float = 250.0,
        window: int = 2500,
        stride: int | None = None,
        leads: Sequence[str] = STANDARD_LEADS,
        bandpass: tuple[float, float] | None = (0.5, 40.0),
        skip_bad: bool = True,
        progress: bool = False,
    ) -> None:
        if window <= 0 or (stride is not None and stride <= 0):
            raise ValueError(f"window and stride must be positive, got {window}, {stride}")
        if isinstance(records, (str, Path)):
            records = find_records(records)
        self.fs, self.window, self.stride = float(fs), int(window), int(stride or window)
        self.leads: tuple[str, ...] = tuple(leads)
        self.record_ids: list[str] = []
        self.paths: list[Path] = []
        self.windows: list[WindowIndex] = []
        self.skipped: list[tuple[str, str]] = []
        self._signals: list[np.ndarray] = []  # (L_mapped, T) per record
        self._slots: list[torch.Tensor] = []  # slot of each stored lead, LongTensor (L_mapped,)
        for path in tqdm(list(records), desc="ECG records", disable=not progress):
            try:
                self._load(Path(path), bandpass)
            except InputError as err:
                if not skip_bad:
                    raise
                self.skipped.append((str(path), str(err)))
        if not self.windows:
            where = ", ".join(map(str, list(records)[:3])) or "<no records>"
            detail = "; ".join(msg for _, msg in self.skipped[:3])
            raise InputError(where, f"no ECG window could be made. {detail}".strip())

    def _load(self, path: Path, bandpass: tuple[float, float] | None) -> None:
        rec = read_record(path, fs=self.fs, bandpass=bandpass)
        pairs = lead_slot_indices(rec.leads, self.leads)
        if not pairs:
            raise InputError(rec.path, f"none of the leads {rec.leads} maps to {self.leads}")
        src, dst = zip(*pairs, strict=True)
        index = len(self._signals)
        self._signals.append(np.ascontiguousarray(rec.signal[list(src)]))
        self._slots.append(torch.tensor(dst, dtype=torch.long))
        self.record_ids.append(rec.record_id)
        self.paths.append(rec.path)
        starts = window_starts(rec.signal.shape[1], self.window, self.stride)
        self.windows.extend(WindowIndex(index, s) for s in starts)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | str | int]:
        w = self.windows[i]
        chunk = torch.from_numpy(self._signals[w.record][:, w.start : w.start + self.window])
        x = torch.zeros(len(self.leads), self.window)  # (C, window); unfilled slots stay 0
        x[self._slots[w.record], : chunk.shape[1]] = chunk
        return {"x": x, "record_id": self.record_ids[w.record], "start": w.start}
