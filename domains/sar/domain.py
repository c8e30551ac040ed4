"""The SAR domain: raster/JPEG chips, image patches, local window masks, ROA gradient targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from torch import nn

from domains.sar.config import SarPretrainConfig
from domains.sar.dataset import SarChips, load_chip, select_images
from domains.sar.io import find_images, sample_id
from domains.sar.masking import LocalWindowMask
from domains.sar.targets import GradientTargets, scaled_radii
from jepa_core.domain import Domain, window_item
from jepa_core.errors import InputError
from jepa_core.layers.tokenizers import PatchEmbed2D, Tokenizer
from jepa_core.masking import MaskSampler

TARGETS = ("gradient", "ema")


def radii(cfg: DictConfig) -> list[int]:
    return list(cfg.data.radii) or scaled_radii(cfg.data.size)


class SarDomain(Domain):
    name = "sar"
    config_cls = SarPretrainConfig
    pooling = "mean"

    def sample_shape(self, cfg: DictConfig) -> tuple[int, int, int]:
        return (1, cfg.data.size, cfg.data.size)

    def build_tokenizer(self, cfg: DictConfig) -> Tokenizer:
        if cfg.data.size % cfg.data.patch:
            raise ValueError(f"data.size {cfg.data.size} is not a multiple of data.patch {cfg.data.patch}")
        return PatchEmbed2D(in_channels=1, embed_dim=cfg.model.embed_dim, patch=cfg.data.patch)

    def mask_sampler(self, cfg: DictConfig, grid: tuple[int, ...]) -> MaskSampler:
        d = cfg.data
        return LocalWindowMask(grid, window=d.mask_window, n_windows=d.mask_windows, ratio=d.mask_ratio)

    def target_fn(self, cfg: DictConfig) -> nn.Module | None:
        if cfg.data.target not in TARGETS:
            raise ValueError(f"data.target must be one of {TARGETS}, got {cfg.data.target!r}")
        if cfg.data.target == "ema":
            return None
        return GradientTargets(radii=radii(cfg), patch=cfg.data.patch, db_scale=cfg.data.db_scale)

    def target_dim(self, cfg: DictConfig) -> int | None:
        return None if cfg.data.target == "ema" else len(radii(cfg)) * cfg.data.patch**2

    def pretrain_dataset(self, cfg: DictConfig) -> SarChips:
        d = cfg.data
        return SarChips(select_images(d.sources, d.include, d.exclude), d, train=True, progress=cfg.train.progress)

    def training_data(self, cfg: DictConfig) -> dict:
        d = cfg.data
        ids = [sample_id(p) for p in select_images(d.sources, d.include, d.exclude)]
        return {
            "sources": list(d.sources),
            "include": list(d.include),
            "exclude": list(d.exclude),
            "n_chips": len(ids),
            "chips_per_folder": dict(sorted(Counter(i.split("/")[0] for i in ids).items())),
        }

    def input_spec(self, cfg: DictConfig) -> dict:
        d = cfg.data
        return {
            "chip_px": [d.size, d.size],
            "patch_px": d.patch,
            "channels": [d.band or "first band"],
            "scale": f"{d.scale} (files); model input is dB relative to the chip median / {d.db_scale}",
            "floor_db": -d.floor_db,
            "preprocessing": "read as linear intensity (complex -> magnitude), nodata -> median level, "
            f"10 log10 relative to the median, floor -{d.floor_db} dB, divide by {d.db_scale}, "
            f"centre-crop or zero-pad to {d.size} px",
            "targets": d.target if d.target == "ema" else f"ROA gradient magnitude, radii {radii(cfg)} px",
        }

    def list_records(self, source: Any) -> list[Path]:
        """The records of one input item (folder, list file or record), each one ``iter_windows`` reads alone;
        used to cut a sharded export into parts. Raises ``InputError`` if the item cannot be listed."""
        return find_images(source)

    def iter_windows(self, source: Any, cfg: DictConfig, **_: Any) -> Iterator[dict]:
        """One centred chip per image file; unreadable files yield an error dict."""
        try:
            files = find_images(source)
        except InputError as err:
            yield {"record_id": str(source), "error": str(err)}
            return
        for path in files:
            try:
                chip = load_chip(path, cfg.data)
            except InputError as err:
                yield {"record_id": sample_id(Path(path)), "error": str(err)}
                continue
            yield window_item(torch.from_numpy(chip.x), sample_id(Path(path)), path, 0, 1.0)


DOMAIN = SarDomain()
