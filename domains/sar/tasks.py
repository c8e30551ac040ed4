"""MSTAR-10 SOC: 17 deg training chips, 15 deg test chips, class from the folder name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from domains.sar.io import find_images, sample_id
from jepa_core.errors import InputError

MSTAR_CLASSES = ("2S1", "BMP2", "BRDM_2", "BTR60", "BTR70", "D7", "T62", "T72", "ZIL131", "ZSU_23_4")


@dataclass
class Split:
    paths: list[Path]
    ids: list[str]  # class/stem: stems repeat across classes
    labels: np.ndarray  # (N,) class names


def load_split(folder: str | Path) -> Split:
    """Every chip under ``folder/<CLASS>/``; the class is the parent folder."""
    paths = find_images(folder)
    return Split(paths=paths, ids=[sample_id(p) for p in paths], labels=np.array([p.parent.name for p in paths]))


def mstar_soc(root: str | Path) -> tuple[Split, Split]:
    """The SOC train (``root/train``, 17 deg) and test (``root/test``, 15 deg) splits, checked disjoint."""
    root = Path(root)
    train, test = load_split(root / "train"), load_split(root / "test")
    shared = {p.resolve() for p in train.paths} & {p.resolve() for p in test.paths}
    if shared:
        raise InputError(root, f"{len(shared)} files on both sides of the split")
    return train, test
