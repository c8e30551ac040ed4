"""A generated 1-D domain for core tests: noisy multi-channel sinusoids (no files needed)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from jepa_core.config import PretrainConfig
from jepa_core.domain import Domain
from jepa_core.errors import InputError
from jepa_core.layers.tokenizers import PatchEmbed1D
from jepa_core.masking import BlockMask1D


@dataclass
class ToyData:
    n: int = 96
    channels: int = 2
    length: int = 160
    patch: int = 8
    noise: float = 0.0  # >0: fresh noise on every load, from torch's global RNG (like an augmentation)
    delay_s: float = 0.0  # sleep per loaded item, for tests that must catch a run half-way


@dataclass
class ToyConfig(PretrainConfig):
    domain: str = "toy"
    data: ToyData = field(default_factory=ToyData)


class Sinusoids(Dataset):
    def __init__(
        self, n: int, channels: int, length: int, seed: int = 0, noise: float = 0.0, delay_s: float = 0.0
    ) -> None:
        self.noise, self.delay_s = noise, delay_s
        g = torch.Generator().manual_seed(seed)
        t = torch.arange(length).float()
        freq = 0.02 + 0.1 * torch.rand(n, channels, 1, generator=g)
        phase = 6.28 * torch.rand(n, channels, 1, generator=g)
        self.x = torch.sin(freq * t + phase) + 0.05 * torch.randn(n, channels, length, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        if self.delay_s:
            time.sleep(self.delay_s)
        x = self.x[i] + self.noise * torch.randn(self.x[i].shape) if self.noise else self.x[i]
        return {"x": x, "record_id": f"toy{i}", "start": 0}


class ToyDomain(Domain):
    name = "toy"
    config_cls = ToyConfig

    def sample_shape(self, cfg):
        return (cfg.data.channels, cfg.data.length)

    def build_tokenizer(self, cfg):
        return PatchEmbed1D(in_channels=cfg.data.channels, embed_dim=cfg.model.embed_dim, patch=cfg.data.patch)

    def pretrain_dataset(self, cfg):
        return Sinusoids(cfg.data.n, cfg.data.channels, cfg.data.length, noise=cfg.data.noise, delay_s=cfg.data.delay_s)

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


class ToyFiles(ToyDomain):
    """Toy records as ``.npy`` files of shape (channels, k * length): k windows each, for export tests.

    ``TOY_SLEEP_S`` (environment) slows each record down, so that a test can kill an export mid-way.
    """

    def list_records(self, source):
        path = Path(source)
        if path.is_dir():
            return sorted(path.glob("*.npy"))
        if path.is_file():
            return [path]
        raise InputError(path, "no such file or folder")

    def iter_windows(self, source, cfg, **_):
        length = cfg.data.length
        for path in self.list_records(source):
            time.sleep(float(os.environ.get("TOY_SLEEP_S", "0")))
            try:
                signal = torch.from_numpy(np.load(path))  # (C, T)
            except Exception as err:  # numpy raises many kinds for a bad file
                yield {"record_id": path.stem, "error": f"{path.name}: not a .npy array ({err})"}
                continue
            if signal.ndim != 2 or signal.shape[0] != cfg.data.channels:
                yield {"record_id": path.stem, "error": f"{path.name}: shape {tuple(signal.shape)}, not (C, T)"}
                continue
            for start in range(0, signal.shape[1] - length + 1, length):
                x = signal[:, start : start + length].float()
                yield {"x": x, "record_id": path.stem, "start": start, "start_s": start / 100.0, "rate": 100.0}


def write_toy_records(folder: Path, n: int, *, channels: int = 2, length: int = 160, seed: int = 0) -> Path:
    """``n`` toy records ``rec000.npy``, ... with 1 to 3 windows each."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        np.save(folder / f"rec{i:03d}.npy", rng.standard_normal((channels, length * (1 + i % 3))).astype(np.float32))
    return folder


DOMAIN = ToyFiles()  # what get_domain("toy") returns once this module is registered as domains.toy.domain
