"""A generated 1-D domain for core tests: noisy multi-channel sinusoids (no files needed)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from jepa_core.config import PretrainConfig
from jepa_core.domain import Domain
from jepa_core.layers.tokenizers import PatchEmbed1D
from jepa_core.masking import BlockMask1D


@dataclass
class ToyData:
    n: int = 96
    channels: int = 2
    length: int = 160
    patch: int = 8


@dataclass
class ToyConfig(PretrainConfig):
    domain: str = "toy"
    data: ToyData = field(default_factory=ToyData)


class Sinusoids(Dataset):
    def __init__(self, n: int, channels: int, length: int, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        t = torch.arange(length).float()
        freq = 0.02 + 0.1 * torch.rand(n, channels, 1, generator=g)
        phase = 6.28 * torch.rand(n, channels, 1, generator=g)
        self.x = torch.sin(freq * t + phase) + 0.05 * torch.randn(n, channels, length, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "record_id": f"toy{i}", "start": 0}


class ToyDomain(Domain):
    name = "toy"
    config_cls = ToyConfig

    def sample_shape(self, cfg):
        return (cfg.data.channels, cfg.data.length)

    def build_tokenizer(self, cfg):
        return PatchEmbed1D(in_channels=cfg.data.channels, embed_dim=cfg.model.embed_dim, patch=cfg.data.patch)

    def pretrain_dataset(self, cfg):
        return Sinusoids(cfg.data.n, cfg.data.channels, cfg.data.length)

    def mask_sampler(self, cfg, grid):
        return BlockMask1D(grid, keep_ratio=(0.3, 0.4), min_block=4)

    def iter_windows(self, source, cfg):
        ds = self.pretrain_dataset(cfg)
        for i in range(len(ds)):
            yield {"x": ds[i]["x"], "record_id": f"toy{i}", "start": 0, "start_s": 0.0, "rate": 1.0}

    def input_spec(self, cfg):
        return {"channels": cfg.data.channels, "length": cfg.data.length}


TINY = [
    "model.embed_dim=32",
    "model.depth=2",
    "model.num_heads=2",
    "model.pred_dim=16",
    "model.pred_depth=1",
    "model.pred_heads=2",
    "train.batch_size=16",
    "train.log_every=5",
    "train.eval_every=10",
    "train.ckpt_every=10",
    "train.eval_samples=16",
    "train.progress=false",
    "optim.warmup_steps=5",
    "train.accelerator=cpu",
    "train.devices=1",
]
