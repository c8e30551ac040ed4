"""Analyse one EEG recording with a bundled model: rest/task probability per window and an embedding map.

A model directory (``models/eeg-tiny``) holds the encoder and what
``domains/eeg/build_app_assets.py`` writes next to it::

    probes/eegmat-rest-vs-task.json       window probe (rest / task) on the model's pooled embedding
    references/eegmat-rest-vs-task.npz    labelled reference windows: emb (N, D'), label (N,), record (N,)

The signal goes through the model's own preprocessing; the filtered microvolt signal is kept for display.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from domains.eeg.config import frame_samples, input_scale, video_shape, window_samples
from domains.eeg.dataset import model_slots, read_for_model, to_video, window_starts
from domains.eeg.eval_tasks import embed
from domains.eeg.io import MAX_ABS_UV, EegRecording, robust_spread_uv
from domains.eeg.tasks import EEGMAT_CLASSES
from jepa_core.errors import InputError, require_finite
from jepa_core.eval.references import EmbeddingMap, ReferenceMaps, load_probe, load_reference, reorder_proba
from jepa_core.pretrained import Pretrained, load_pretrained

TASK = "eegmat-rest-vs-task"
CLASS_NAMES = {"rest": "resting, eyes closed", "task": "mental arithmetic (serial subtraction)"}
BUILDER = "python domains/eeg/build_app_assets.py"
MAX_DURATION_S = 30 * 60.0  # longer recordings are cut to their first 30 min
TASK_NOTE = (
    "The rest/task probe was fitted on 7 young adults of PhysioNet's eegmat (19 channels, ICA-cleaned, "
    "eyes closed). Across unseen subjects it is only modestly better than chance; read it as a research "
    "readout, not a measurement of mental state."
)


@dataclass
class EegAnalysis:
    record: EegRecording  # filtered, microvolts, at the model rate (for display)
    present: np.ndarray  # (C,) bool: which channel slots the recording filled
    starts_s: np.ndarray  # (W,) window onsets
    window_emb: np.ndarray  # (W, D')
    proba: np.ndarray  # (W, 2) columns in EEGMAT_CLASSES order
    maps: dict[str, EmbeddingMap] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    classes: tuple[str, ...] = EEGMAT_CLASSES

    @property
    def pred(self) -> np.ndarray:
        return np.asarray(self.classes)[self.proba.argmax(1)]

    @property
    def recording_proba(self) -> np.ndarray:
        """Shape: (2,), the mean of the window probabilities (the evaluation's recording-level rule)."""
        return self.proba.mean(0)


class EegAnalyser:
    """Loads an EEG model directory once; ``analyse`` one recording at a time."""

    def __init__(self, model_dir: str | Path, *, max_duration_s: float | None = MAX_DURATION_S) -> None:
        self.model_dir = Path(model_dir)
        self.pre: Pretrained = load_pretrained(self.model_dir, domain="eeg")
        self.pooling = self.pre.card.get("downstream_pooling", "mean")
        self.probe = load_probe(self.model_dir / "probes" / f"{TASK}.json", builder=BUILDER)
        self.references = {TASK: load_reference(self.model_dir / "references" / f"{TASK}.npz", builder=BUILDER)}
        self.max_duration_s = max_duration_s
        dim = self.probe.coef.shape[1]
        if self.references[TASK].emb.shape[1] != dim:
            raise InputError(self.model_dir / "references", f"reference width does not match the probe's {dim}")
        self._maps = ReferenceMaps(self.references)

    @property
    def card(self) -> dict:
        return self.pre.card

    def analyse(self, path: str | Path, *, stride_s: float | None = None, map_method: str = "pca") -> EegAnalysis:
        """Everything the app shows about one recording. Raises InputError for an unusable file."""
        d = self.pre.cfg.data
        win, frame, slots = window_samples(d), frame_samples(d), video_shape(d)[2]
        rec = read_for_model(path, d, max_duration_s=self.max_duration_s)
        scaled, present = model_slots(rec, d)
        starts = window_starts(scaled.shape[1], win, int(round((stride_s or win / d.fs) * d.fs)))
        video = torch.stack([to_video(scaled[:, s : s + win], frame, slots) for s in starts])
        emb = embed(self.pre.encoder, video, self.pooling)
        require_finite(path, emb, "window embeddings")
        if emb.shape[1] != self.probe.coef.shape[1]:
            raise InputError(
                self.model_dir / "probes", f"probe width {self.probe.coef.shape[1]} != embedding {emb.shape[1]}"
            )
        proba = reorder_proba(self.probe.predict_proba(emb.astype(np.float64)), self.probe.classes, EEGMAT_CLASSES)
        analysis = EegAnalysis(rec, present, np.asarray(starts) / d.fs, emb, proba, notes=self._notes(rec, present))
        analysis.maps = self.maps(analysis, map_method)
        return analysis

    def maps(self, analysis: EegAnalysis, method: str = "pca") -> dict[str, EmbeddingMap]:
        return {TASK: self._maps.project(TASK, analysis.window_emb, analysis.pred, method)}

    def _notes(self, rec: EegRecording, present: np.ndarray) -> list[str]:
        d, notes = self.pre.cfg.data, []
        missing = [
            c for c, ok in zip(d.channels, present, strict=True) if not ok and c not in rec.out_of_range_channels
        ]
        if missing:
            notes.append(
                f"{len(missing)} of {len(d.channels)} channels missing or flat, zero-filled: {', '.join(missing)}."
            )
        if rec.out_of_range_channels:
            notes.append(
                f"{', '.join(rec.out_of_range_channels)}: values beyond +-{MAX_ABS_UV / 1e6:g} V, not EEG (a broken "
                "physical range in the header); zero-filled like a missing channel."
            )
        if rec.nonfinite_samples:
            notes.append(f"{rec.nonfinite_samples} NaN/infinite samples were set to 0 uV before filtering.")
        if self.max_duration_s and rec.n_samples_original / rec.fs_original > self.max_duration_s:
            notes.append(f"Only the first {self.max_duration_s / 60:g} min were analysed.")
        if rec.fs_original < d.fs:
            notes.append(f"Recorded at {rec.fs_original:g} Hz and up-sampled to the model's {d.fs:g} Hz.")
        fixed_uv = input_scale(d)
        if fixed_uv is not None and present.any():
            spread = float(np.median(robust_spread_uv(rec)))
            if not fixed_uv / 4 <= spread <= fixed_uv * 4:  # the model reads amplitudes in units of fixed_uv
                notes.append(
                    f"Unusual amplitude: median channel spread {spread:.3g} uV, where this model expects about "
                    f"{fixed_uv:g} uV (it reads absolute amplitude); check the units and the reference."
                )
        return notes
