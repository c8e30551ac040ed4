"""The ECG domain: WFDB records, lead-slot windows, time-patch tokens, 1-D block masks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from domains.ecg.config import EcgPretrainConfig, window_samples
from domains.ecg.dataset import EcgWindows
from domains.ecg.io import find_records, read_record, to_lead_slots
from jepa_core.data import filter_by_name
from jepa_core.domain import Domain, window_item
from jepa_core.errors import InputError
from jepa_core.layers.tokenizers import PatchEmbed1D, Tokenizer
from jepa_core.masking import BlockMask1D, MaskSampler


def select_records(sources: Any, include: list[str] = (), exclude: list[str] = ()) -> list[Path]:
    """Records from ``sources`` filtered by fnmatch patterns on their ids."""
    records = find_records(list(sources) if not isinstance(sources, (str, Path)) else sources)
    keep = filter_by_name(records, include, exclude)
    if not keep:
        raise InputError(", ".join(map(str, sources)), "no record left after include/exclude filters")
    return keep


class EcgDomain(Domain):
    name = "ecg"
    config_cls = EcgPretrainConfig
    pooling = "mean"

    def sample_shape(self, cfg: DictConfig) -> tuple[int, int]:
        return (len(cfg.data.leads), window_samples(cfg.data))

    def build_tokenizer(self, cfg: DictConfig) -> Tokenizer:
        return PatchEmbed1D(in_channels=len(cfg.data.leads), embed_dim=cfg.model.embed_dim, patch=cfg.data.patch)

    def mask_sampler(self, cfg: DictConfig, grid: tuple[int, ...]) -> MaskSampler:
        return BlockMask1D(grid, keep_ratio=tuple(cfg.data.keep_ratio), min_block=cfg.data.min_block)

    def pretrain_dataset(self, cfg: DictConfig) -> EcgWindows:
        d = cfg.data
        records = select_records(d.sources, d.include, d.exclude)
        return EcgWindows(
            records,
            fs=d.fs,
            window=window_samples(d),
            stride=int(round(d.stride_s * d.fs)),
            leads=list(d.leads),
            bandpass=tuple(d.bandpass),
            skip_bad=True,
            progress=cfg.train.progress,
        )

    def training_data(self, cfg: DictConfig) -> dict:
        d = cfg.data
        ids = [r.name for r in select_records(d.sources, d.include, d.exclude)]
        return {
            "sources": list(d.sources),
            "include": list(d.include),
            "exclude": list(d.exclude),
            "n_records": len(ids),
            "records": ids,
        }

    def input_spec(self, cfg: DictConfig) -> dict:
        d = cfg.data
        return {
            "sampling_rate_hz": d.fs,
            "window_samples": window_samples(d),
            "window_s": window_samples(d) / d.fs,
            "patch_samples": d.patch,
            "lead_slots": list(d.leads),
            "missing_leads": "zero-filled",
            "units": "physical (mV) before normalisation",
            "preprocessing": f"resample to {d.fs} Hz (polyphase), zero-phase Butterworth band-pass "
            f"{d.bandpass[0]}-{d.bandpass[1]} Hz, per-lead robust standardisation (median, IQR)",
        }

    def list_records(self, source: Any) -> list[Path]:
        """The records of one input item (folder, list file or record), each one ``iter_windows`` reads alone;
        used to cut a sharded export into parts. Raises ``InputError`` if the item cannot be listed."""
        return find_records(source)

    def iter_windows(self, source: Any, cfg: DictConfig, *, stride_s: float | None = None) -> Iterator[dict]:
        """Non-overlapping windows (or ``stride_s``) of every record; the tail shorter than a window is dropped,
        a record shorter than one window gives one zero-padded window."""
        d = cfg.data
        win = window_samples(d)
        stride = int(round((stride_s or win / d.fs) * d.fs))
        for path in _records_or_errors(source):
            if isinstance(path, dict):
                yield path
                continue
            try:
                rec = read_record(path, fs=d.fs, bandpass=tuple(d.bandpass))
                signal = torch.from_numpy(to_lead_slots(rec, list(d.leads)))  # (L, T)
            except InputError as err:
                yield {"record_id": path.name, "error": str(err)}
                continue
            for start, x in cut_windows(signal, win, stride):
                yield window_item(x, rec.record_id, path, start, d.fs)


def _records_or_errors(source: Any) -> Iterator[Path | dict]:
    """Record paths of each source item; an item that cannot be listed becomes an error dict."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    for item in items:
        try:
            yield from find_records(item)
        except InputError as err:
            yield {"record_id": str(item), "error": str(err)}


def cut_windows(signal: torch.Tensor, window: int, stride: int) -> Iterator[tuple[int, torch.Tensor]]:
    """Shape: signal (L, T) -> (start, (L, window)) pairs; a short signal is zero-padded to one window."""
    length = signal.shape[1]
    if length < window:
        yield 0, torch.nn.functional.pad(signal, (0, window - length))
        return
    for start in range(0, length - window + 1, stride):
        yield start, signal[:, start : start + window]


DOMAIN = EcgDomain()
