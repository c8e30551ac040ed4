"""EEG pretraining config: the core schema plus an EEG ``data`` section (EEG-VJEPA layout)."""

from __future__ import annotations

from dataclasses import dataclass, field

from domains.eeg.io import STANDARD_CHANNELS
from jepa_core.config import ConfigError, PretrainConfig


@dataclass
class EegDataConfig:
    sources: list[str] = field(default_factory=lambda: ["data/samples/eeg"])  # dirs, files or list files
    include: list[str] = field(default_factory=list)  # fnmatch patterns on file names; empty: all
    exclude: list[str] = field(default_factory=list)  # fnmatch patterns on file names
    fs: float = 128.0  # every recording is resampled to this rate
    window_s: float = 4.0
    stride_s: float = 2.0  # pretraining windows overlap by half
    frame_s: float = 0.25  # one video frame: all channels x frame_s of samples
    tubelet: list[int] = field(default_factory=lambda: [2, 1, 32])  # frames x channels x samples per token: 0.5 s
    channels: list[str] = field(default_factory=lambda: list(STANDARD_CHANNELS))  # slots; missing -> zero
    bandpass: list[float] = field(default_factory=lambda: [0.5, 45.0])
    notch: list[float] = field(default_factory=lambda: [50.0, 60.0])  # applied only inside the band
    # Model input scale: "recording" (each channel of each recording robustly to unit spread) or
    # "fixed" (uV / scale_uv for every recording: keeps amplitude differences between recordings).
    scaling: str = "recording"
    scale_uv: float = 10.0  # about the median robust spread of band-passed scalp EEG (eegmat: 8-12 uV)
    # V-JEPA tube masks: per batch one generator, short-range (many small blocks) or long-range.
    short_blocks: int = 8
    short_scale: float = 0.15
    long_blocks: int = 2
    long_scale: float = 0.7
    temporal_scale: list[float] = field(default_factory=lambda: [0.3, 1.0])  # 1.0: tubes through all frames
    # Prediction targets: "ema" (V-JEPA: layer-normed tokens of an EMA copy of the encoder) or
    # "spectrum" (fixed: log amplitude spectrum of every masked token, see domains.eeg.targets).
    target: str = "ema"
    target_floor: float = 0.01  # spectrum targets: log(amplitude + floor), in model-input units


@dataclass
class EegPretrainConfig(PretrainConfig):
    domain: str = "eeg"
    out: str = "runs/eeg"
    data: EegDataConfig = field(default_factory=EegDataConfig)


SCALINGS = ("recording", "fixed")


def input_scale(data: EegDataConfig) -> float | None:
    """``fixed_uv`` for :func:`~domains.eeg.io.to_channel_slots`: None for per-recording scaling."""
    scaling = getattr(data, "scaling", "recording")  # models bundled before the option scale per recording
    if scaling not in SCALINGS:
        raise ConfigError(f"data.scaling must be one of {SCALINGS}, got {scaling!r}")
    if scaling == "recording":
        return None
    if not data.scale_uv > 0:
        raise ConfigError(f"data.scale_uv must be positive, got {data.scale_uv}")
    return float(data.scale_uv)


def frame_samples(data: EegDataConfig) -> int:
    return int(round(data.frame_s * data.fs))


def window_samples(data: EegDataConfig) -> int:
    """Window length in samples, rounded down to whole frames."""
    n, frame = int(round(data.window_s * data.fs)), frame_samples(data)
    return n - n % frame


def video_shape(data: EegDataConfig) -> tuple[int, int, int, int]:
    """Model input of one window: (1, frames, channel slots padded to whole groups, samples per frame)."""
    frame = frame_samples(data)
    pf, pc, ps = data.tubelet
    channels = -(-len(data.channels) // pc) * pc
    frames = window_samples(data) // frame
    if frames % pf or frame % ps:
        raise ConfigError(
            f"tubelet {list(data.tubelet)} does not tile {frames} frames of {frame} samples "
            f"(window_s={data.window_s}, frame_s={data.frame_s}, fs={data.fs})"
        )
    return (1, frames, channels, frame)
