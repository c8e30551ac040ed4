"""Analyse one ECG record with a bundled model: beat classes, rhythm, and a map of embeddings.

A model directory (``models/ecg-tiny``) holds the encoder and what
``domains/ecg/build_app_assets.py`` writes next to it::

    probes/mitdb-aami.json      beat probe (AAMI N/S/V/F) on ``beat_embeddings``
    probes/cinc2017.json        rhythm probe (CinC 2017 N/A/O/~) on the window-mean record embedding
    references/mitdb-aami.npz   labelled reference beats: emb (N, 2D), label (N,), record (N,)
    references/cinc2017.npz     labelled reference records: emb (N, D), label (N,), record (N,)

The signal goes through the model's own preprocessing (resample, band-pass, robust
standardisation); the band-passed signal in physical units is kept for display.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import wfdb
from omegaconf import DictConfig
from wfdb.processing import correct_peaks, gqrs_detect, xqrs_detect

from domains.ecg.config import window_samples
from domains.ecg.embed import beat_embed_dim, beat_embeddings, window_embeddings
from domains.ecg.io import EcgRecord, lead_slot_indices, read_record, robust_standardise, to_lead_slots
from domains.ecg.tasks import AAMI_CLASSES, CINC_CLASSES, load_beats
from jepa_core.errors import InputError, require_finite
from jepa_core.eval.references import (
    EmbeddingMap,
    Novelty,
    ReferenceMaps,
    load_probe,
    load_reference,
    reorder_proba,
)
from jepa_core.pretrained import Pretrained, load_pretrained

BEAT_TASK, RHYTHM_TASK = "mitdb-aami", "cinc2017"
TASK_CLASSES = {BEAT_TASK: AAMI_CLASSES, RHYTHM_TASK: CINC_CLASSES}
AAMI_NAMES = {
    "N": "normal",
    "S": "supraventricular ectopic",
    "V": "ventricular ectopic",
    "F": "fusion",
    "Q": "unclassifiable",
}
CINC_NAMES = {"N": "normal sinus rhythm", "A": "atrial fibrillation", "O": "other rhythm", "~": "too noisy"}
RHYTHM_NOTE = (
    "The rhythm probe was trained on 30-60 s single-lead AliveCor recordings (PhysioNet/CinC 2017, "
    "lead-I-like); on other leads, devices or much longer records its output is indicative only."
)
BEAT_LEAD_NOTE = (
    "The beat probe was trained on MIT-BIH records that all hold lead II (MLII) and a chest lead; this record "
    "has no lead II (leads: {leads}), so its beat classes are indicative only."
)
MITBIH_CHEST_LEADS = ("V1", "V2", "V4", "V5")  # MIT-BIH's second lead (V1 in most records), after MLII
NOVEL_BEATS_FRACTION = 0.5  # more of a record's beats than this far from every reference beat: say so
DETECTED_RATE_BPM = (30.0, 240.0)  # detected beats outside this many per minute: the detector likely failed
BUILDER = "python domains/ecg/build_app_assets.py"
MAX_DURATION_S = 35 * 60.0  # longer records are cut: the first 35 min hold a whole MIT-BIH record


@dataclass
class EcgAnalysis:
    record: EcgRecord  # band-passed, physical units, at the model rate (for display)
    beats: np.ndarray  # (B,) R-peak sample indices at ``record.fs``
    beat_source: str  # "annotations" (the record's .atr) or "detected" (xqrs)
    beat_annotated: np.ndarray | None  # (B,) AAMI class from the .atr, None when detected
    beat_proba: np.ndarray  # (B, 4) columns in AAMI_CLASSES order
    beat_pred: np.ndarray  # (B,)
    rhythm_proba: np.ndarray  # (4,) columns in CINC_CLASSES order
    beat_emb: np.ndarray  # (B, 2D)
    window_emb: np.ndarray  # (W, D) windows every half window
    maps: dict[str, EmbeddingMap] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # warnings: where the output means less
    info: list[str] = field(default_factory=list)  # how the record was read (e.g. which leads the probes read)
    beat_classes: tuple[str, ...] = AAMI_CLASSES
    rhythm_classes: tuple[str, ...] = CINC_CLASSES

    @property
    def rhythm_pred(self) -> str:
        return self.rhythm_classes[int(self.rhythm_proba.argmax())]

    @property
    def record_emb(self) -> np.ndarray:
        """Shape: (D,), the mean of the window embeddings (the rhythm probe's input)."""
        return self.window_emb.mean(axis=0)

    def counts(self) -> dict[str, int]:
        return {c: int((self.beat_pred == c).sum()) for c in self.beat_classes}


def native_limit(path: Path, max_duration_s: float | None) -> tuple[int | None, bool]:
    """(native samples that make ``max_duration_s``, whether the record is longer than that).

    (None, False) if unlimited or the header is unreadable: ``read_record`` then reports the problem.
    """
    if max_duration_s is None:
        return None, False
    try:
        header = wfdb.rdheader(str(path))
    except Exception:  # noqa: BLE001 - read_record explains a broken header
        return None, False
    if not header.fs or header.fs <= 0:
        return None, False
    limit = int(max_duration_s * float(header.fs))
    return limit, bool(header.sig_len and header.sig_len > limit)


def strip_extension(path: str | Path) -> Path:
    """A record path without extension ('data/208.hea' -> 'data/208')."""
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in (".hea", ".dat", ".mat", ".atr") else path


def uploaded_record(folder: str | Path) -> Path:
    """The one record among uploaded files in ``folder``, its signal files checked to be there.

    A header may only name plain files in the same folder: no paths, nothing that was not uploaded.
    """
    folder = Path(folder)
    headers = sorted(folder.glob("*.hea"))
    if len(headers) != 1:
        found = ", ".join(p.name for p in headers)
        problem = (
            "no .hea header among the uploaded files"
            if not headers
            else f"upload one record at a time, got headers {found}"
        )
        raise InputError("upload", problem)
    rec = headers[0].with_suffix("")
    try:
        header = wfdb.rdheader(str(rec))
    except Exception:  # noqa: BLE001 - read_record explains a broken header
        return rec
    if not isinstance(header, wfdb.Record):
        raise InputError(headers[0], "multi-segment records cannot be uploaded; convert to a single-segment record")
    for name in dict.fromkeys(header.file_name or []):
        if Path(name).name != name:
            raise InputError(headers[0], f"header names signal file {name!r}: only plain file names are accepted")
        if not (folder / name).is_file():
            raise InputError(headers[0], f"header names signal file {name!r}, which was not uploaded")
    return rec


def load_for_model(
    path: str | Path, data: DictConfig, *, max_samples: int | None = None
) -> tuple[EcgRecord, np.ndarray]:
    """The record for display (band-passed, physical units, model rate) and its model input.

    Shape: returns (record with signal (L, T), slots (n_slots, T) standardised).
    """
    rec = read_record(path, fs=data.fs, bandpass=tuple(data.bandpass), standardise=False, max_samples=max_samples)
    model_view = dataclasses.replace(rec, signal=robust_standardise(rec.signal))  # = read_record(standardise=True)
    return rec, to_lead_slots(model_view, list(data.leads))


def detect_beats(record: EcgRecord) -> np.ndarray:
    """R peaks on lead II if present, else the first lead; the other leads in turn where that one is flat or
    gives an implausible rate (outside ``DETECTED_RATE_BPM``). On each lead ``wfdb.processing.xqrs_detect``,
    and where that finds an implausible rate, ``gqrs_detect`` moved to the nearest maximum if its rate is
    plausible. xqrs sometimes locks onto too high a threshold while learning: on 16 of the 1,000 CinC 2017
    records here it found under 30 beats a minute (A01624: 1 beat in 30 s, where gqrs finds 35); gqrs gave a
    plausible rate on 12 of them (the other 4 are labelled noisy or AF)."""
    minutes = record.duration_s / 60.0
    order = sorted(range(len(record.leads)), key=lambda i: (record.leads[i] != "II", i))
    found = np.zeros(0, dtype=np.int64)
    for lead in order:
        sig = record.signal[lead].astype(np.float64)
        if not np.ptp(sig) > 0:  # a flat (or zero-filled, all-gap) lead has no beats to find
            continue
        peaks = _lead_beats(sig, record.fs, minutes)
        if _plausible(peaks, minutes):
            return peaks
        if len(found) == 0:
            found = peaks  # the first usable lead's answer, if no lead gives a plausible one
    return found


def _plausible(peaks: np.ndarray, minutes: float) -> bool:
    return minutes > 0 and DETECTED_RATE_BPM[0] <= len(peaks) / minutes <= DETECTED_RATE_BPM[1]


def _lead_beats(sig: np.ndarray, fs: float, minutes: float) -> np.ndarray:
    """xqrs on one lead, gqrs (peak-corrected) where xqrs gives an implausible rate and gqrs does not."""
    try:
        peaks = np.asarray(xqrs_detect(sig, fs=fs, verbose=False), dtype=np.int64)
    except (ValueError, IndexError):  # xqrs fails on flat or very short signals
        peaks = np.zeros(0, dtype=np.int64)
    if _plausible(peaks, minutes):
        return peaks
    try:
        alt = np.asarray(gqrs_detect(sig, fs=fs), dtype=np.int64)
        if len(alt):  # gqrs marks the QRS, not its peak: move each mark to the largest |value| within 100 ms
            radius = int(0.1 * fs)
            alt = np.unique(
                correct_peaks(sig, alt, search_radius=radius, smooth_window_size=radius, peak_dir="compare")
            )
    except (ValueError, IndexError):
        alt = np.zeros(0, dtype=np.int64)
    return alt.astype(np.int64) if _plausible(alt, minutes) else peaks


def record_beats(path: Path, record: EcgRecord, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Beats from the record's ``.atr`` if it has one with beat annotations, else detected R peaks."""
    if path.with_name(path.name + ".atr").is_file():
        try:
            beats = load_beats(path, fs=record.fs, classes=(*AAMI_CLASSES, "Q"))
            inside = (beats.samples >= 0) & (beats.samples < record.signal.shape[1])
            if inside.any():
                return beats.samples[inside], beats.labels[inside], "annotations"
            notes.append("The .atr file holds no beat annotations in the analysed part; R peaks were detected instead.")
        except InputError as err:
            notes.append(
                f"Annotations in {Path(err.path).name} not used ({err.problem}); R peaks were detected instead."
            )
    beats = detect_beats(record)
    if len(beats) == 0:
        raise InputError(
            path, "no heartbeats detected (flat, very noisy or not an ECG?); beats are needed to classify them"
        )
    return beats, None, "detected"


def fitted_leads(leads: Sequence[str], task: str) -> tuple[str, ...] | None:
    """The record's leads that match the ones ``task``'s probe was fitted on, or None to read every lead.

    The encoder's tokens mix every lead slot, so a record with more leads than the probe's training records (a
    12-lead ECG against MIT-BIH's two leads or CinC's one) moves the embeddings away from the probe's: it is read
    through the fitted leads only. Beats: lead II and the first of V1, V2, V4, V5; rhythm: lead I. None where the
    record lacks the probe's main lead (every lead is read; the notes say so) or holds no other lead.
    """
    if task == BEAT_TASK:
        keep = ("II", *[v for v in MITBIH_CHEST_LEADS if v in leads][:1]) if "II" in leads else ()
    else:
        keep = ("I",) if "I" in leads else ()
    return keep if keep and set(leads) - set(keep) else None


def lead_view(slots: np.ndarray, lead_order: Sequence[str], keep: Sequence[str] | None) -> np.ndarray:
    """``slots`` with every lead slot outside ``keep`` zeroed (``slots`` itself when ``keep`` is None).

    Shape: (len(lead_order), T) -> the same.
    """
    if keep is None:
        return slots
    out = np.zeros_like(slots)
    for _, slot in lead_slot_indices(keep, lead_order):
        out[slot] = slots[slot]
    return out


def lead_note(beat_leads: Sequence[str] | None, rhythm_leads: Sequence[str] | None) -> str:
    """Which leads the probes read, where :func:`fitted_leads` chose some of the record's."""
    parts = []
    if beat_leads:
        parts.append(f"the beat classes read lead{'s' if len(beat_leads) > 1 else ''} {' and '.join(beat_leads)}")
    if rhythm_leads:
        parts.append(f"the rhythm guess reads lead {' and '.join(rhythm_leads)}")
    text = " and ".join(parts)
    return (
        f"{text[0].upper()}{text[1:]} only: the leads the probes were fitted on (MIT-BIH: lead II and a chest lead; "
        "CinC 2017: one lead-I-like lead). The other leads are shown but not used by them."
    )


def beat_notes(record: EcgRecord, beats: np.ndarray, source: str) -> list[str]:
    """What the app should say about the beats it classifies: a record without lead II (the beat probe's
    training records all have it), and detected beats at an implausible rate (missed or doubled R peaks)."""
    notes = []
    if "II" not in record.leads:
        notes.append(BEAT_LEAD_NOTE.format(leads=", ".join(record.leads)))
    minutes = record.duration_s / 60.0
    if source == "detected" and minutes > 0:
        rate = len(beats) / minutes
        seen = f"{len(beats)} beats were detected in {minutes * 60:.0f} s ({rate:.0f} per minute)"
        if rate < DETECTED_RATE_BPM[0]:
            notes.append(
                f"Only {seen}: the R-peak detector probably missed beats (noise, low amplitude or an unusual QRS); "
                "the beat classes cover only the detected beats."
            )
        elif rate > DETECTED_RATE_BPM[1]:
            notes.append(
                f"{seen}: the R-peak detector probably counted noise as beats; treat the beat classes with caution."
            )
    return notes


class EcgAnalyser:
    """Loads an ECG model directory once; ``analyse`` one record at a time."""

    def __init__(self, model_dir: str | Path, *, max_duration_s: float | None = MAX_DURATION_S) -> None:
        self.model_dir = Path(model_dir)
        self.pre: Pretrained = load_pretrained(self.model_dir, domain="ecg")
        self.probes = {t: load_probe(self.model_dir / "probes" / f"{t}.json", builder=BUILDER) for t in TASK_CLASSES}
        self.references = {
            t: load_reference(self.model_dir / "references" / f"{t}.npz", builder=BUILDER) for t in TASK_CLASSES
        }
        self.max_duration_s = max_duration_s
        self._check_dims()
        self._maps = ReferenceMaps(self.references)
        self.novelty = {t: Novelty.fit(ref.emb) for t, ref in self.references.items()}

    @property
    def card(self) -> dict:
        return self.pre.card

    def _check_dims(self) -> None:
        dim = self.pre.cfg.model.embed_dim
        for task, want in ((BEAT_TASK, beat_embed_dim(dim)), (RHYTHM_TASK, dim)):
            probe_dim, ref_dim = self.probes[task].coef.shape[1], self.references[task].emb.shape[1]
            if probe_dim != want or ref_dim != want:
                where = self.model_dir / "probes" / f"{task}.json"
                raise InputError(
                    where, f"probe/reference dimension {probe_dim}/{ref_dim} does not match the encoder's {want}"
                )

    def analyse(self, record_path: str | Path, *, map_method: str = "pca") -> EcgAnalysis:
        """Everything the app shows about one record. Raises InputError for an unusable record."""
        path = strip_extension(record_path)
        data, notes = self.pre.cfg.data, []
        limit, truncated = native_limit(path, self.max_duration_s)
        record, slots = load_for_model(path, data, max_samples=limit)
        if truncated:
            notes.append(f"Only the first {self.max_duration_s / 60:g} min of the record were analysed.")
        beats, annotated, source = record_beats(path, record, notes)
        notes += beat_notes(record, beats, source)
        window, patch = window_samples(data), data.patch
        beat_leads, rhythm_leads = fitted_leads(record.leads, BEAT_TASK), fitted_leads(record.leads, RHYTHM_TASK)
        info = [lead_note(beat_leads, rhythm_leads)] if beat_leads or rhythm_leads else []
        beat_view, rhythm_view = lead_view(slots, data.leads, beat_leads), lead_view(slots, data.leads, rhythm_leads)
        beat_emb = beat_embeddings(self.pre.encoder, beat_view, beats, window=window, patch=patch)  # (B, 2D)
        window_emb = window_embeddings(self.pre.encoder, rhythm_view, window=window, stride=window // 2)  # (W, D)
        require_finite(path, beat_emb, "beat embeddings")
        require_finite(path, window_emb, "window embeddings")
        beat_proba = self._predict(BEAT_TASK, beat_emb)
        rhythm_proba = self._predict(RHYTHM_TASK, window_emb.mean(axis=0, keepdims=True))[0]
        notes += self._novelty_notes(beat_emb, window_emb.mean(axis=0), lead_ii="II" in record.leads)
        analysis = EcgAnalysis(
            record=record, beats=beats, beat_source=source, beat_annotated=annotated, beat_proba=beat_proba,
            beat_pred=np.asarray(AAMI_CLASSES)[beat_proba.argmax(axis=1)], rhythm_proba=rhythm_proba,
            beat_emb=beat_emb, window_emb=window_emb, notes=notes, info=info,
        )  # fmt: skip
        analysis.maps = self.maps(analysis, map_method)
        return analysis

    def _novelty_notes(self, beat_emb: np.ndarray, record_emb: np.ndarray, *, lead_ii: bool) -> list[str]:
        """Beats, or the record, unlike every labelled reference: the probes' classes mean little there.
        Without lead II the beats are not checked: ``beat_notes`` already called their classes indicative."""
        notes = []
        beats = self.novelty[BEAT_TASK]
        novel = float(beats.is_novel(beat_emb).mean()) if lead_ii and len(beat_emb) else 0.0
        if novel > NOVEL_BEATS_FRACTION:
            notes.append(
                f"{novel:.0%} of the beats lie farther from every labelled MIT-BIH reference beat than "
                f"{beats.quantile:.0%} of the references lie from their nearest neighbour: the beat classes are "
                "unreliable for this record (another lead, device or morphology than the probe was fitted on)."
            )
        rhythm = self.novelty[RHYTHM_TASK]
        distance = float(rhythm.nearest(record_emb[None])[0])
        if distance > rhythm.threshold:
            notes.append(
                f"The record lies far from every CinC 2017 reference recording (distance {distance:.2f}; "
                f"{rhythm.quantile:.0%} of the references lie within {rhythm.threshold:.2f} of another): the rhythm "
                "guess is unreliable (the probe knows 9-60 s single-lead AliveCor recordings)."
            )
        return notes

    def _predict(self, task: str, x: np.ndarray) -> np.ndarray:
        probe = self.probes[task]
        return reorder_proba(probe.predict_proba(x.astype(np.float64)), probe.classes, TASK_CLASSES[task])

    def maps(self, analysis: EcgAnalysis, method: str = "pca") -> dict[str, EmbeddingMap]:
        """The beat map (reference beats + the record's beats) and the rhythm map (reference records + this one)."""
        beat = self.project(BEAT_TASK, analysis.beat_emb, analysis.beat_pred, method)
        rhythm = self.project(RHYTHM_TASK, analysis.record_emb[None], np.array([analysis.rhythm_pred]), method)
        return {BEAT_TASK: beat, RHYTHM_TASK: rhythm}

    def project(self, task: str, points: np.ndarray, labels: np.ndarray, method: str = "pca") -> EmbeddingMap:
        """2-D projection fitted on the task's references (once per method), applied to ``points`` (M, D)."""
        return self._maps.project(task, points, labels, method)
