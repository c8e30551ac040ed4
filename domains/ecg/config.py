"""ECG pretraining config: the core schema plus an ECG ``data`` section."""

from __future__ import annotations

from dataclasses import dataclass, field

from domains.ecg.io import STANDARD_LEADS
from jepa_core.config import PretrainConfig


@dataclass
class EcgDataConfig:
    sources: list[str] = field(default_factory=lambda: ["data/samples/ecg"])  # dirs, record paths or list files
    include: list[str] = field(default_factory=list)  # fnmatch patterns on record ids; empty: all
    exclude: list[str] = field(default_factory=list)  # fnmatch patterns on record ids
    fs: float = 250.0  # every record is resampled to this rate
    window_s: float = 10.0
    stride_s: float = 5.0  # pretraining windows overlap by half
    patch: int = 25  # samples per token: 100 ms at 250 Hz, all leads together
    leads: list[str] = field(default_factory=lambda: list(STANDARD_LEADS))  # lead slots; missing leads are zero
    bandpass: list[float] = field(default_factory=lambda: [0.5, 40.0])
    keep_ratio: list[float] = field(default_factory=lambda: [0.15, 0.25])  # context fraction of tokens
    min_block: int = 10  # shortest masked block, in tokens


@dataclass
class EcgPretrainConfig(PretrainConfig):
    domain: str = "ecg"
    out: str = "runs/ecg"
    data: EcgDataConfig = field(default_factory=EcgDataConfig)


def window_samples(data: EcgDataConfig) -> int:
    """Window length in samples, rounded down to whole patches."""
    n = int(round(data.window_s * data.fs))
    return n - n % data.patch
