"""SAR chips in memory: every image is read and prepared once, labels from the class folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from domains.sar.io import find_images, read_sar, sample_id
from domains.sar.preprocess import Chip, prepare_chip
from jepa_core.data import filter_by_name
from jepa_core.errors import InputError


def select_images(sources: Sequence[str] | str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Path]:
    """Image files from ``sources`` filtered by fnmatch patterns on their ``class/stem`` ids."""
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    files = [f for s in sources for f in find_images(s)]
    keep = filter_by_name(files, include, exclude, key=sample_id)
    if not keep:
        raise InputError(", ".join(map(str, sources)), "no SAR image left after include/exclude filters")
    return keep


def load_chip(path: str | Path, data: DictConfig, *, margin: int = 0) -> Chip:
    """Read and prepare one file with the ``data`` section of a config (``margin``: extra px per side)."""
    image = read_sar(path, scale=data.scale, band_names=list(data.band_names) or None)
    return prepare_chip(
        image,
        size=data.size + 2 * margin,
        band=data.band or None,
        floor_db=data.floor_db,
        db_scale=data.db_scale,
        min_size=data.min_size,
    )


class SarChips(Dataset):
    """Chips of ``size`` px (plus ``jitter`` px each side, cropped at random per item when ``train``).

    Items: ``x`` (1, size, size), ``record_id`` (class/stem), ``label`` (the parent folder name).
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        data: DictConfig,
        *,
        train: bool = False,
        skip_bad: bool = True,
        progress: bool = False,
    ) -> None:
        self.size, self.jitter = int(data.size), int(data.jitter) if train else 0
        self.ids: list[str] = []
        self.labels: list[str] = []
        self.skipped: list[tuple[str, str]] = []
        chips = []
        for path in tqdm(list(paths), desc="SAR chips", disable=not progress):
            try:
                chips.append(load_chip(path, data, margin=self.jitter).x)
            except InputError as err:
                if not skip_bad:
                    raise
                self.skipped.append((str(path), str(err)))
                continue
            self.ids.append(sample_id(Path(path)))
            self.labels.append(Path(path).parent.name)
        if not chips:
            detail = "; ".join(msg for _, msg in self.skipped[:3])
            raise InputError(", ".join(map(str, list(paths)[:3])), f"no SAR chip could be made. {detail}".strip())
        self.x = torch.from_numpy(np.stack(chips))  # (N, 1, size + 2 jitter, size + 2 jitter)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        x = self.x[i]
        if self.jitter:
            top, left = torch.randint(0, 2 * self.jitter + 1, (2,)).tolist()
            x = x[:, top : top + self.size, left : left + self.size]
        return {"x": x.contiguous(), "record_id": self.ids[i], "label": self.labels[i]}
