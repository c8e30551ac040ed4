"""Analyse one SAR chip with a model directory: dB image, gradient targets, embedding, top-3 classes.

A SAR model directory holds ``encoder.safetensors`` + ``model_card.json`` (as written by pretraining),
``probes/mstar-soc.json`` and ``references/mstar-soc.npz`` (see ``build_app_assets.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from domains.sar.domain import radii
from domains.sar.embed import POOLS, chip_embeddings, pooled_dim
from domains.sar.io import SarImage, read_sar
from domains.sar.preprocess import Chip, prepare_chip
from domains.sar.targets import GradientTargets
from jepa_core.errors import InputError, require_finite
from jepa_core.eval.probes import SavedLinearProbe
from jepa_core.eval.references import Novelty
from jepa_core.pretrained import load_pretrained

TASK = "mstar-soc"
CLASS_NAMES = {
    "2S1": "2S1 self-propelled howitzer",
    "BMP2": "BMP-2 infantry fighting vehicle",
    "BRDM_2": "BRDM-2 armoured scout car",
    "BTR60": "BTR-60 armoured personnel carrier",
    "BTR70": "BTR-70 armoured personnel carrier",
    "D7": "D7 bulldozer",
    "T62": "T-62 tank",
    "T72": "T-72 tank",
    "ZIL131": "ZIL-131 truck",
    "ZSU_23_4": "ZSU-23-4 anti-aircraft gun",
}
FLAT_FRACTION = 0.5  # a chip with more of its pixels at the dB floor than this is featureless


@dataclass
class SarAnalysis:
    image: SarImage
    chip: Chip
    radii: list[int]
    gradients: np.ndarray  # (S, size, size) ROA gradient magnitude per radius
    embedding: np.ndarray  # (D,)
    classes: list[str]
    proba: np.ndarray  # (C,)
    map_xy: np.ndarray  # (2,) the chip on the reference map
    ref_xy: np.ndarray  # (R, 2)
    ref_label: np.ndarray  # (R,)
    nearest_ref: float = 0.0  # distance of the embedding to the nearest reference chip
    warnings: list[str] = field(default_factory=list)  # reasons to distrust the classes (shown above them)

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        order = np.argsort(-self.proba)[:k]
        return [(self.classes[i], float(self.proba[i])) for i in order]


def pca_2d(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the two leading principal axes. Shape: (N, D) -> (D,), (2, D)."""
    mean = emb.mean(axis=0)
    _, _, vt = np.linalg.svd(emb - mean, full_matrices=False)
    return mean, vt[:2]


class SarAnalyser:
    """Loads the model, probe and references once; :meth:`analyse` works on any readable raster or chip."""

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        self.pre = load_pretrained(self.model_dir, domain="sar")
        cfg = self.pre.cfg
        self.radii = radii(cfg)
        self.targets = GradientTargets(radii=self.radii, patch=cfg.data.patch, db_scale=cfg.data.db_scale)
        probe_path = self.model_dir / "probes" / f"{TASK}.json"
        ref_path = self.model_dir / "references" / f"{TASK}.npz"
        try:
            self.probe = SavedLinearProbe.from_dict(json.loads(probe_path.read_text()))
        except (OSError, ValueError, TypeError) as err:
            raise InputError(
                probe_path, f"no usable MSTAR probe ({err}); run domains/sar/build_app_assets.py"
            ) from None
        try:
            with np.load(ref_path, allow_pickle=False) as data:
                self.ref_emb, self.ref_label = data["emb"].astype(np.float32), data["label"].astype(str)
        except (OSError, KeyError, ValueError) as err:
            raise InputError(ref_path, f"not a reference file with emb/label arrays ({err})") from None
        self.probe_pool = str(self.probe.meta.get("pool", "mean"))  # assets built before grid pooling: mean
        if self.probe_pool not in POOLS:
            raise InputError(
                probe_path, f"unknown pool {self.probe_pool!r}; rebuild with domains/sar/build_app_assets.py"
            )
        dim = self.pre.encoder.embed_dim
        if self.ref_emb.shape[1] != dim or self.probe.mean.shape[0] != pooled_dim(dim, self.probe_pool):
            raise InputError(self.model_dir, "probe, references and encoder disagree on the embedding size")
        self.map_mean, self.map_axes = pca_2d(self.ref_emb)
        self.ref_xy = (self.ref_emb - self.map_mean) @ self.map_axes.T
        self.novelty = Novelty.fit(self.ref_emb)

    def analyse(self, path: str | Path, *, band: str | None = None, scale: str | None = None) -> SarAnalysis:
        d = self.pre.cfg.data
        image = read_sar(path, scale=scale or d.scale)
        chip = prepare_chip(
            image,
            size=d.size,
            band=band or d.band or None,
            floor_db=d.floor_db,
            db_scale=d.db_scale,
            min_size=d.min_size,
        )
        x = torch.from_numpy(chip.x)[None]  # (1, 1, size, size)
        with torch.no_grad():
            gradients = self.targets.maps(x)[0].numpy()
        (emb,), (features,) = chip_embeddings(self.pre.encoder, x, pool=("mean", self.probe_pool))
        require_finite(path, features, "chip embedding")
        nearest = float(self.novelty.nearest(emb[None])[0])
        return SarAnalysis(
            image=image,
            chip=chip,
            radii=self.radii,
            gradients=gradients,
            embedding=emb,
            classes=self.probe.classes,
            proba=self.probe.predict_proba(features[None].astype(np.float64))[0],
            map_xy=(emb - self.map_mean) @ self.map_axes.T,
            ref_xy=self.ref_xy,
            ref_label=self.ref_label,
            nearest_ref=nearest,
            warnings=self._warnings(chip, nearest, d.floor_db),
        )

    def _warnings(self, chip: Chip, nearest: float, floor_db: float) -> list[str]:
        """Why the probe's classes may mean nothing for this chip: the probe always names an MSTAR vehicle."""
        out = []
        at_floor = float((chip.db <= -floor_db + 1e-3).mean())
        if at_floor > FLAT_FRACTION:
            out.append(
                f"{int(at_floor * 100)}% of the chip's pixels are at the -{floor_db:g} dB floor: it is nearly featureless "
                "(a dark or blank image, or not SAR intensity), so the classes below do not describe a target."
            )
        if nearest > self.novelty.threshold:
            out.append(
                f"The chip's embedding is far from every labelled MSTAR reference (distance {nearest:.2f}; "
                f"{self.novelty.quantile:.0%} of the references lie within {self.novelty.threshold:.2f} of another): "
                "it is unlike the vehicle chips the probe was fitted on (another sensor, scene or kind of object), "
                "yet the probe always names one of its 10 vehicles. Treat the classes as unreliable."
            )
        return out
