"""EEG downstream tasks, every method on the same subject-wise splits:
JEPA frozen probe, JEPA + band powers, random-init probe, band-power features, supervised from scratch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig

from domains.eeg.baselines import band_power_features
from domains.eeg.config import frame_samples, video_shape, window_samples
from domains.eeg.dataset import model_slots, read_for_model, to_video, window_starts
from domains.eeg.io import to_channel_slots
from domains.eeg.tasks import LabelledRecording
from jepa_core.errors import InputError
from jepa_core.eval import supervised
from jepa_core.eval.metrics import classification_metrics, summarise_seeds
from jepa_core.eval.probes import linear_probe, resolve_c, standardise_per_group
from jepa_core.eval.references import reorder_proba
from jepa_core.pretrained import Pretrained, random_encoder
from jepa_core.progress import progress

POOLINGS = ("mean", "channel")


@dataclass
class Windows:
    """Every labelled window of a task, flattened over recordings.

    Shape: video (N, 1, F, C, S) model input; uv (N, C, T) microvolts in channel slots.
    """

    video: torch.Tensor
    uv: np.ndarray
    present: np.ndarray  # (N, C) bool: channel slot filled
    labels: np.ndarray  # (N,) str
    record_ids: np.ndarray  # (N,) str
    subjects: np.ndarray  # (N,) int
    starts_s: np.ndarray  # (N,) float


def load_windows(
    recordings: Sequence[LabelledRecording],
    cfg: DictConfig,
    *,
    stride_s: float | None = None,
    events: Sequence[str] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Windows, list[dict]]:
    """Cut labelled windows: every ``stride_s`` with the recording's label, or, with ``events``,
    one window per annotation whose label is in ``events``, starting at its onset.

    Unreadable recordings are skipped and returned as ``{"file", "error"}`` entries.
    """
    d = cfg.data
    win, frame, slots = window_samples(d), frame_samples(d), video_shape(d)[2]
    parts: dict[str, list] = {k: [] for k in ("video", "uv", "present", "labels", "record_ids", "subjects", "starts")}
    skipped = []
    for item in progress(recordings, desc="EEG recordings", leave=False):
        try:
            rec = read_for_model(item.path, d)
        except InputError as err:
            log(f"skipped: {err}")
            skipped.append({"file": str(item.path), "error": str(err)})
            continue
        scaled, present = model_slots(rec, d)
        uv, _ = to_channel_slots(rec, list(d.channels), fixed_uv=1.0)
        if events is None:
            starts = window_starts(scaled.shape[1], win, int(round((stride_s or win / d.fs) * d.fs)))
            labels = [item.label] * len(starts)
        else:
            picked = [(int(round(on * d.fs)), lab) for on, _, lab in rec.events if lab in events]
            picked = [(s, lab) for s, lab in picked if s + win <= scaled.shape[1]]
            starts, labels = [s for s, _ in picked], [lab for _, lab in picked]
        for s, lab in zip(starts, labels, strict=True):
            parts["video"].append(to_video(scaled[:, s : s + win], frame, slots))
            parts["uv"].append(uv[:, s : s + win])
            parts["present"].append(present)
            parts["labels"].append(lab), parts["record_ids"].append(rec.record_id)
            parts["subjects"].append(item.subject), parts["starts"].append(s / d.fs)
    if not parts["video"]:
        raise InputError(recordings[0].path.parent if recordings else "<none>", "no labelled window could be made")
    return (
        Windows(
            video=torch.stack(parts["video"]),
            uv=np.stack(parts["uv"]),
            present=np.stack(parts["present"]),
            labels=np.asarray(parts["labels"]),
            record_ids=np.asarray(parts["record_ids"]),
            subjects=np.asarray(parts["subjects"]),
            starts_s=np.asarray(parts["starts"]),
        ),
        skipped,
    )


@torch.no_grad()
def embed(encoder, video: torch.Tensor, pooling: str = "mean", batch_size: int = 128) -> np.ndarray:
    """Frozen window embeddings. ``mean``: all tokens averaged, (N, D). ``channel``: tokens averaged
    over time within each channel group and concatenated in channel order, (N, C' * D).
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    encoder.eval()
    grid = encoder.grid_for(tuple(video.shape[1:]))  # (F', C', S')
    out = []
    for i in range(0, len(video), batch_size):
        tokens = encoder(video[i : i + batch_size])  # (B, N, D)
        if pooling == "mean":
            out.append(tokens.mean(1))
        else:
            per_cell = tokens.reshape(len(tokens), *grid, -1)  # (B, F', C', S', D)
            out.append(per_cell.mean(dim=(1, 3)).flatten(1))  # (B, C' * D)
    return torch.cat(out).numpy()


def score(y: np.ndarray, proba: np.ndarray, classes: Sequence[str], record_ids: np.ndarray | None) -> dict:
    """Window-level metrics, and recording-level ones from the mean window probability per recording."""
    pred = np.asarray(classes)[proba.argmax(1)]
    out = classification_metrics(y, pred, classes, proba)
    if record_ids is not None:
        recs = sorted(set(record_ids))
        r_proba = np.stack([proba[record_ids == r].mean(0) for r in recs])
        r_true = np.asarray([y[record_ids == r][0] for r in recs])
        r = classification_metrics(r_true, np.asarray(classes)[r_proba.argmax(1)], classes, r_proba)
        out["recording"] = {k: r[k] for k in ("balanced_accuracy", "auroc", "accuracy")} | {"n": len(recs)}
    return out


def summarise(runs: list[dict]) -> dict:
    """Mean over folds x seeds of window and recording metrics, with their spread."""
    out: dict = {"n_runs": len(runs), "classes": runs[0]["classes"]}
    for key in ("balanced_accuracy", "auroc", "macro_f1", "accuracy"):
        vals = [r[key] for r in runs if r.get(key) is not None]
        if vals:
            out[key], out[f"{key}_spread"] = float(np.mean(vals)), summarise_seeds(vals)
    if "recording" in runs[0]:
        out["recording"] = {}
        for key in ("balanced_accuracy", "auroc"):
            vals = [r["recording"][key] for r in runs if r["recording"].get(key) is not None]
            if vals:
                out["recording"][key] = float(np.mean(vals))
                out["recording"][f"{key}_spread"] = summarise_seeds(vals)
    out["confusion"] = np.sum([r["confusion"] for r in runs], axis=0).tolist()
    if "probe_c" in runs[0]:
        out["probe_c"] = [r["probe_c"] for r in runs]
        out["probe_c_cv"] = [r.get("probe_c_cv") for r in runs]  # each run's CV score per C (None: C given)
    return out


def run_task(
    pre: Pretrained,
    w: Windows,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    classes: Sequence[str],
    *,
    seeds: Sequence[int],
    methods: Sequence[str],
    pooling: str = "mean",
    sup_epochs: int = 10,
    recording_level: bool = True,
    probe_c: float | str = "cv",
    subject_norm: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Every method on every fold (window index arrays); metrics averaged over folds (and seeds).

    ``probe_c="cv"``: each fold's probe picks its C by cross-validation on that fold's training
    windows only, grouped by subject when they hold two or more subjects (else stratified by class).
    The chosen C of every fold is kept as ``probe_c`` in the method's results.

    ``subject_norm``: a subject-calibrated protocol. Every probe's features are z-scored per subject
    over all of that subject's windows (:func:`~jepa_core.eval.probes.standardise_per_group`), and the
    supervised model's input per subject and channel slot. Labels are never used, but the test
    subjects' windows are used together (transductive), as a calibration recording would be.
    """
    classes = [str(c) for c in classes]
    recs = w.record_ids if recording_level else None

    def probe_runs(x: np.ndarray) -> list[dict]:
        if subject_norm:
            x = standardise_per_group(x, w.subjects)
        runs = []
        for tr, te in folds:
            c, cv_scores = resolve_c(x[tr], w.labels[tr], probe_c, groups=w.subjects[tr])
            res = linear_probe(x[tr], w.labels[tr], x[te], c=c)
            run = score(w.labels[te], reorder_proba(res.proba, res.classes, classes), classes, _sel(recs, te))
            runs.append(run | {"probe_c": c, "probe_c_cv": cv_scores})
        return runs

    results = {}
    jepa = embed(pre.encoder, w.video, pooling) if {"jepa", "jepa_bandpower"} & set(methods) else None
    bands = None
    if {"handcrafted", "jepa_bandpower"} & set(methods):
        bands = np.concatenate([band_power_features(w.uv[i : i + 256], pre.cfg.data.fs, present=w.present[i : i + 256])
                                for i in range(0, len(w.uv), 256)])  # fmt: skip
    if "jepa" in methods:
        results["jepa"] = summarise(probe_runs(jepa))
        log(_line("jepa", results["jepa"]))
    if "jepa_bandpower" in methods:  # one probe on both: does the embedding add to the band powers?
        results["jepa_bandpower"] = summarise(probe_runs(np.concatenate([jepa, bands], axis=1)))
        log(_line("jepa_bandpower", results["jepa_bandpower"]))
    if "random_init" in methods:
        runs = [r for s in seeds for r in probe_runs(embed(random_encoder(pre, s), w.video, pooling))]
        results["random_init"] = summarise(runs)
        log(_line("random_init", results["random_init"]))
    if "handcrafted" in methods:
        results["handcrafted"] = summarise(probe_runs(bands))
        log(_line("handcrafted", results["handcrafted"]))
    if "supervised" in methods:
        video = standardise_video_per_subject(w.video, w.subjects) if subject_norm else w.video
        runs = []
        for k, (tr, te) in enumerate(folds):
            for s in seeds:
                enc = random_encoder(pre, 1000 * k + s)
                head = supervised.train_window_classifier(
                    enc, video[tr], w.labels[tr], classes, epochs=sup_epochs, seed=s
                )
                proba = supervised.predict_windows(enc, head, video[te])
                runs.append(score(w.labels[te], proba, classes, _sel(recs, te)))
        results["supervised"] = summarise(runs)
        log(_line("supervised", results["supervised"]))
    return results


def standardise_video_per_subject(video: torch.Tensor, subjects: np.ndarray) -> torch.Tensor:
    """Z-score every channel slot per subject over all of its windows; empty slots stay zero.
    Shape: video (N, 1, F, C, S), subjects (N,) -> same shape."""
    out = torch.empty_like(video)
    for s in np.unique(subjects):
        rows = torch.from_numpy(np.flatnonzero(subjects == s))
        x = video[rows]
        mu = x.mean(dim=(0, 1, 2, 4), keepdim=True)
        sd = x.std(dim=(0, 1, 2, 4), keepdim=True)
        out[rows] = torch.where(sd > 1e-6, (x - mu) / sd.clamp_min(1e-6), torch.zeros_like(x))
    return out


def _sel(values: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if values is None else values[idx]


def _line(name: str, r: dict) -> str:
    s = r["balanced_accuracy_spread"]
    text = f"{name:<14} window bal.acc {s['mean']:.3f}±{s['std']:.3f}  AUROC {r.get('auroc', float('nan')):.3f}"
    if "recording" in r:
        text += f"  recording bal.acc {r['recording'].get('balanced_accuracy', float('nan')):.3f}"
    return text
