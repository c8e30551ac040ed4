"""Configuration: dataclass defaults in code, small YAML files, dotted ``key=value`` overrides.

Unknown keys are errors (OmegaConf struct mode), and the resolved config is plain data that is
saved with every run and inside every checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


@dataclass
class ModelConfig:
    embed_dim: int = 128
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    drop_path: float = 0.0
    pred_dim: int = 64
    pred_depth: int = 2
    pred_heads: int = 4


@dataclass
class ObjectiveConfig:
    loss: str = "l1"  # l1 | smooth_l1 | mse
    use_ema: bool = True
    ema_start: float = 0.996
    ema_end: float = 1.0
    sigreg_weight: float = 0.0
    sigreg_slices: int = 256
    variance_weight: float = 0.0
    variance_gamma: float = 1.0


@dataclass
class OptimConfig:
    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup_steps: int = 50
    weight_decay: float = 0.04
    weight_decay_end: float = 0.4
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0


@dataclass
class TrainConfig:
    steps: int = 600
    batch_size: int = 32  # per process; the global batch is batch_size * world size
    num_workers: int = 0
    seed: int = 0
    log_every: int = 10
    eval_every: int = 100
    ckpt_every: int = 100
    eval_samples: int = 128  # held-out windows for RankMe / collapse monitoring
    accelerator: str = "auto"
    devices: str = "auto"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "auto"  # auto: bf16-mixed on CUDA with bf16, else 32-true
    progress: bool = True
    stop_at: int = 0  # >0: checkpoint and stop at this step (a rerun resumes), e.g. for time-limited jobs


@dataclass
class PretrainConfig:
    """Base schema; a domain subclasses it and adds its own ``data`` section."""

    domain: str = ""
    out: str = "runs/default"
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


class ConfigError(ValueError):
    """A config file or override that does not fit the schema."""


def load_config(schema: Any, path: str | Path | None = None, overrides: Sequence[str] = ()) -> DictConfig:
    """Schema defaults <- YAML file <- ``key=value`` overrides, validated against ``schema``."""
    try:
        cfg = OmegaConf.structured(schema)
        if path is not None:
            if not Path(path).is_file():
                raise ConfigError(f"{path}: config file not found")
            cfg = OmegaConf.merge(cfg, OmegaConf.load(path))
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise ConfigError(f"overrides must look like key=value, got {bad}")
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as err:
        raise ConfigError(f"invalid config: {err}".splitlines()[0]) from None
    OmegaConf.set_readonly(cfg, True)
    return cfg


def to_plain(cfg: DictConfig | dict) -> dict:
    """Resolved config as plain dicts/lists/scalars (safe for JSON and ``weights_only`` loads)."""
    if isinstance(cfg, dict):
        return cfg
    return OmegaConf.to_container(cfg, resolve=True)


def from_plain(schema: Any, data: dict) -> DictConfig:
    """Rebuild a validated config from saved plain data (a checkpoint or a model card)."""
    cfg = OmegaConf.merge(OmegaConf.structured(schema), data)
    OmegaConf.set_readonly(cfg, True)
    return cfg
