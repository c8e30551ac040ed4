"""The EEG domain: EDF/BDF/FIF recordings, windows as short videos, tubelet tokens, V-JEPA tube masks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from torch import nn

from domains.eeg.config import EegPretrainConfig, frame_samples, input_scale, video_shape, window_samples
from domains.eeg.dataset import EegWindows, model_slots, read_for_model, to_video, window_starts
from domains.eeg.io import find_recordings
from domains.eeg.targets import TARGETS, SpectralTargets
from jepa_core.config import ConfigError
from jepa_core.data import filter_by_name
from jepa_core.domain import Domain, window_item
from jepa_core.errors import InputError
from jepa_core.layers.tokenizers import Tokenizer, Tubelet3D
from jepa_core.masking import MaskMixture, MaskSampler, MultiBlockMask


def select_recordings(sources: Any, include=(), exclude=()) -> list[Path]:
    """Recordings from ``sources`` filtered by fnmatch patterns on their file names."""
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    found = [p for item in items for p in find_recordings(item)]
    keep = filter_by_name(found, include, exclude)
    if not keep:
        raise InputError(", ".join(map(str, items)), "no EEG recording left after include/exclude filters")
    return keep


class EegDomain(Domain):
    name = "eeg"
    config_cls = EegPretrainConfig
    pooling = "mean"

    def sample_shape(self, cfg: DictConfig) -> tuple[int, ...]:
        return video_shape(cfg.data)

    def build_tokenizer(self, cfg: DictConfig) -> Tokenizer:
        return Tubelet3D(in_channels=1, embed_dim=cfg.model.embed_dim, patch=tuple(cfg.data.tubelet))

    def target_fn(self, cfg: DictConfig) -> nn.Module | None:
        d = cfg.data
        target = d.get("target", "ema")  # models bundled before the option predict EMA latents
        if target not in TARGETS:
            raise ConfigError(f"data.target must be one of {TARGETS}, got {target!r}")
        if target == "ema":
            return None
        video_shape(d)  # the tubelet must tile the window
        return SpectralTargets(
            tubelet=tuple(d.tubelet),
            frame=frame_samples(d),
            fs=float(d.fs),
            max_hz=float(d.bandpass[1]) if d.bandpass else float(d.fs) / 2,
            floor=float(d.get("target_floor", 0.01)),
        )

    def target_dim(self, cfg: DictConfig) -> int | None:
        fn = self.target_fn(cfg)
        return None if fn is None else fn.dim

    def mask_sampler(self, cfg: DictConfig, grid: tuple[int, ...]) -> MaskSampler:
        """V-JEPA's short-range (many small) and long-range (two large) tube generators, one per batch."""
        d = cfg.data
        common = dict(context_scale=(1.0, 1.0), temporal_scale=tuple(d.temporal_scale), min_context=2)
        short = MultiBlockMask(grid, n_targets=d.short_blocks, target_scale=(d.short_scale,) * 2, **common)
        long = MultiBlockMask(grid, n_targets=d.long_blocks, target_scale=(d.long_scale,) * 2, **common)
        return MaskMixture([short, long])

    def pretrain_dataset(self, cfg: DictConfig) -> EegWindows:
        d = cfg.data
        return EegWindows(select_recordings(d.sources, d.include, d.exclude), d, progress=cfg.train.progress)

    def training_data(self, cfg: DictConfig) -> dict:
        d = cfg.data
        paths = select_recordings(d.sources, d.include, d.exclude)
        return {
            "sources": list(d.sources),
            "include": list(d.include),
            "exclude": list(d.exclude),
            "n_recordings": len(paths),
            "recordings": [p.name for p in paths],
        }

    def input_spec(self, cfg: DictConfig) -> dict:
        d = cfg.data
        return {
            "sampling_rate_hz": d.fs,
            "window_samples": window_samples(d),
            "window_s": window_samples(d) / d.fs,
            "frame_samples": frame_samples(d),
            "video_shape": list(video_shape(d)),
            "tubelet_frames_channels_samples": list(d.tubelet),
            "channel_slots": list(d.channels),
            "missing_channels": "zero-filled (also flat channels)",
            "units": "microvolts before normalisation",
            "preprocessing": f"EEG-typed channels mapped to 10-20 names; resample to {d.fs} Hz, zero-phase "
            f"Butterworth band-pass {d.bandpass[0]}-{d.bandpass[1]} Hz and notch {list(d.notch)} Hz where inside "
            "the band, in one FFT pass (|H|^2, 2 s odd-reflection padding); "
            + (
                f"every channel divided by a fixed {d.scale_uv:g} uV (amplitude differences between recordings kept)"
                if input_scale(d) is not None
                else "per-channel robust scaling (median, IQR / 1.349) over the recording"
            ),
        }

    def list_records(self, source: Any) -> list[Path]:
        """The records of one input item (folder, list file or record), each one ``iter_windows`` reads alone;
        used to cut a sharded export into parts. Raises ``InputError`` if the item cannot be listed."""
        return find_recordings(source)

    def iter_windows(self, source: Any, cfg: DictConfig, *, stride_s: float | None = None) -> Iterator[dict]:
        """Non-overlapping windows (or ``stride_s``) of every recording; the tail is dropped."""
        d = cfg.data
        win, frame, slots = window_samples(d), frame_samples(d), video_shape(d)[2]
        stride = int(round((stride_s or win / d.fs) * d.fs))
        items = [source] if isinstance(source, (str, Path)) else list(source)
        for item in items:
            try:
                paths = find_recordings(item)
            except InputError as err:
                yield {"record_id": str(item), "error": str(err)}
                continue
            for path in paths:
                try:
                    rec = read_for_model(path, d)
                except InputError as err:
                    yield {"record_id": path.name, "error": str(err)}
                    continue
                signal, _ = model_slots(rec, d)
                for start in window_starts(signal.shape[1], win, stride):
                    x = to_video(signal[:, start : start + win], frame, slots)
                    yield window_item(x, rec.record_id, path, start, d.fs)


DOMAIN = EegDomain()
