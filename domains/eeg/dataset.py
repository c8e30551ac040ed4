"""Fixed-length EEG windows as short videos (EEG-VJEPA), cut from preprocessed recordings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mne
import numpy as np
import torch
from einops import rearrange
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from domains.eeg.config import EegDataConfig, frame_samples, input_scale, video_shape, window_samples
from domains.eeg.io import EegRecording, find_recordings, read_eeg, to_channel_slots
from jepa_core.errors import InputError


def to_video(window: torch.Tensor | np.ndarray, frame: int, channel_slots: int) -> torch.Tensor:
    """Cut a window into frames along time, each frame the (channels x samples) plane.

    Channel rows are zero-padded to ``channel_slots`` (whole channel groups).
    Shape: (C, F * frame) -> (1, F, channel_slots, frame).
    """
    window = torch.as_tensor(window, dtype=torch.float32)
    if window.shape[0] < channel_slots:
        window = torch.nn.functional.pad(window, (0, 0, 0, channel_slots - window.shape[0]))
    c, t = window.shape
    if t % frame:
        raise ValueError(f"window of {t} samples is not a whole number of {frame}-sample frames")
    return window.view(c, t // frame, frame).transpose(0, 1).unsqueeze(0)  # a view; einops costs 2x here


def from_video(video: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`to_video` (padding rows kept). Shape: (1, F, C, S) -> (C, F * S)."""
    return rearrange(video, "1 f c s -> c (f s)")


def read_for_model(path: str | Path, data: EegDataConfig, *, max_duration_s: float | None = None) -> EegRecording:
    """``read_eeg`` with the model's rate, filters and channel set; shorter than one window is an error."""
    return read_eeg(
        path,
        fs=data.fs,
        bandpass=tuple(data.bandpass),
        notch=tuple(data.notch),
        channels=list(data.channels),
        min_duration_s=window_samples(data) / data.fs,
        max_duration_s=max_duration_s,
    )


def model_slots(rec: EegRecording, data: EegDataConfig) -> tuple[np.ndarray, np.ndarray]:
    """The recording as the model sees it: channel slots scaled as ``data.scaling`` says, and which are present."""
    return to_channel_slots(rec, list(data.channels), fixed_uv=input_scale(data))


def window_starts(n_samples: int, window: int, stride: int) -> list[int]:
    """Starts of every full window; the tail after the last one is dropped."""
    return list(range(0, n_samples - window + 1, stride)) if n_samples >= window else []


@dataclass(frozen=True)
class WindowIndex:
    recording: int
    start: int  # samples at the target rate


class EegWindows(Dataset):
    """Every recording is read once and kept in memory (float32 channel slots, robustly scaled).

    Items: ``x`` (1, frames, channel slots, samples per frame), ``record_id``, ``subject``
    (-1 when the file name has no number), ``start`` (samples) and ``start_s``.
    A recording shorter than one window is skipped (or raises with ``skip_bad=False``).
    """

    def __init__(
        self,
        recordings: Sequence[str | Path] | str | Path,
        data: EegDataConfig,
        *,
        stride_s: float | None = None,
        skip_bad: bool = True,
        progress: bool = False,
    ) -> None:
        if isinstance(recordings, (str, Path)):
            recordings = find_recordings(recordings)
        if isinstance(data, DictConfig):  # plain attributes: OmegaConf lookups cost ~1 ms per recording
            data = OmegaConf.to_object(data)
        self.data = data
        self.window, self.frame = window_samples(data), frame_samples(data)
        self.slots = video_shape(data)[2]
        self.stride = int(round((stride_s or data.stride_s) * data.fs))
        if self.stride <= 0:
            raise ValueError(f"stride must be positive, got {stride_s or data.stride_s} s")
        self.record_ids: list[str] = []
        self.subjects: list[int] = []
        self.windows: list[WindowIndex] = []
        self.skipped: list[tuple[str, str]] = []
        self._signals: list[np.ndarray] = []
        with mne.utils.use_log_level("error"):  # one level change for all files, not two per file
            for path in tqdm(list(recordings), desc="EEG recordings", disable=not progress):
                try:
                    self._load(Path(path))
                except InputError as err:
                    if not skip_bad:
                        raise
                    self.skipped.append((str(path), str(err)))
        if not self.windows:
            where = ", ".join(map(str, list(recordings)[:3])) or "<no recordings>"
            detail = "; ".join(msg for _, msg in self.skipped[:3])
            raise InputError(where, f"no EEG window could be made. {detail}".strip())

    def _load(self, path: Path) -> None:
        rec = read_for_model(path, self.data)
        slots, _ = model_slots(rec, self.data)
        index = len(self._signals)
        self._signals.append(slots)
        self.record_ids.append(rec.record_id)
        self.subjects.append(-1 if rec.subject is None else rec.subject)
        self.windows.extend(WindowIndex(index, s) for s in window_starts(slots.shape[1], self.window, self.stride))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        w = self.windows[i]
        chunk = self._signals[w.recording][:, w.start : w.start + self.window]
        return {
            "x": to_video(chunk, self.frame, self.slots),
            "record_id": self.record_ids[w.recording],
            "subject": self.subjects[w.recording],
            "start": w.start,
            "start_s": w.start / self.data.fs,
        }
