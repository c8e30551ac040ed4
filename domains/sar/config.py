"""SAR pretraining config: the core schema plus a SAR ``data`` section."""

from __future__ import annotations

from dataclasses import dataclass, field

from jepa_core.config import ObjectiveConfig, PretrainConfig


@dataclass
class SarDataConfig:
    sources: list[str] = field(default_factory=lambda: ["data/samples/sar/mstar"])  # dirs, files or list files
    include: list[str] = field(default_factory=list)  # fnmatch patterns on "class/stem" ids; empty: all
    exclude: list[str] = field(default_factory=list)
    size: int = 64  # chips are centre-cropped or padded to size x size px
    patch: int = 8  # px per token side
    band: str = ""  # band name (VV, HH, ...) or 1-based index; empty: the first band
    band_names: list[str] = field(default_factory=list)  # override the names read from the file
    scale: str = "auto"  # how files store values: auto | amplitude | intensity | db
    floor_db: float = 30.0  # dB floor below the chip median
    db_scale: float = 10.0  # model input = relative dB / db_scale
    min_size: int = 16  # smaller chips are refused
    jitter: int = 4  # pretraining: random shift of the crop by up to this many px
    target: str = "gradient"  # gradient (SAR-JEPA ROA features) | ema (the core's latent EMA targets)
    radii: list[int] = field(default_factory=list)  # ROA half-window radii; empty: 2, 4, 6, 8 scaled to size
    mask_window: int = 4  # local masking window, in patches
    mask_windows: int = 2  # windows per chip
    mask_ratio: float = 0.75  # fraction of patches masked inside each window


@dataclass
class SarObjectiveConfig(ObjectiveConfig):
    loss: str = "mse"


@dataclass
class SarPretrainConfig(PretrainConfig):
    domain: str = "sar"
    out: str = "runs/sar"
    objective: SarObjectiveConfig = field(default_factory=SarObjectiveConfig)
    data: SarDataConfig = field(default_factory=SarDataConfig)
