"""WFDB ECG reader: header checks, NaN repair, resampling, band-pass and robust scaling.

Every failure on bad input raises ``InputError`` naming the file and the problem; raw
``wfdb``/``numpy``/``scipy`` errors are wrapped, never passed on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import wfdb
from scipy import signal as sps

from jepa_core.errors import InputError

STANDARD_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")

FS_RANGE = (50.0, 10_000.0)  # Hz; anything outside is a broken header, not an ECG
MAX_BYTES = 2 * 1024**3  # refuse records whose float64 read would need more than this
MAX_ABS_PHYSICAL = 1e7  # physical units: 10 V even in uV; a larger sample is a broken gain, repaired as a gap
_RECORD_EXTS = (".hea", ".dat", ".mat")
# Bytes per stored sample, by WFDB format; used to spot a signal file shorter than its header.
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "24": 3, "32": 4, "61": 2, "80": 1, "160": 2, "212": 1.5, "310": 4 / 3, "311": 4 / 3}  # fmt: skip
_WFDB_FORMATS = {*_BYTES_PER_SAMPLE, "508", "516", "524"}  # the fixed-size ones and FLAC
_LEAD_PREFIX = re.compile(r"^(LEAD|ECG|ML)\s*")
_CANON = {n.upper(): n for n in STANDARD_LEADS}


def normalise_lead_name(name: str) -> str:
    """Map a lead label to its standard name ('MLII' -> 'II', 'avr' -> 'aVR').

    Modified limb leads (MIT-BIH 'MLII') count as their limb lead. A lone 'ECG' (or empty)
    label is the single AliveCor lead of CinC 2017, recorded between the two hands, so it
    is lead-I-like and maps to 'I'. Unknown names come back stripped but otherwise unchanged.
    """
    stripped = (name or "").strip()
    key = re.sub(r"\s+", " ", stripped.upper())
    if key in ("", "ECG"):
        return "I"
    if key in _CANON:
        return _CANON[key]
    bare = _LEAD_PREFIX.sub("", key).replace(" ", "")
    return _CANON.get(bare, stripped)


@dataclass(frozen=True)
class EcgRecord:
    """One preprocessed record. Shape: signal (L, T) float32 at rate ``fs``."""

    record_id: str
    path: Path
    signal: np.ndarray
    fs: float
    leads: tuple[str, ...]
    units: tuple[str, ...]
    fs_original: float
    n_samples_original: int

    @property
    def duration_s(self) -> float:
        return self.signal.shape[1] / self.fs


def _record_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() in _RECORD_EXTS else path


def _hea(rec: Path) -> Path:
    return rec.with_name(rec.name + ".hea")


def _peek_record_line(hea: Path) -> tuple[int, float, int | None] | None:
    """(n_sig, fs, sig_len) from the header's record line, or None if it does not parse.

    wfdb's own header parser is slow (pandas lookups, ~3 ms), and ``rdrecord`` parses the
    header anyway, so the pre-read checks use this instead of a second ``rdheader``.
    """
    try:
        with open(hea, "rb") as f:  # a header is a few hundred bytes; don't slurp a mislabelled file
            text = f.read(1 << 16).decode(errors="replace")
    except OSError:
        return None  # the slow path reports it
    for line in text.splitlines():
        tokens = line.split("#", 1)[0].split()
        if tokens:  # record line: name[/n_seg] n_sig [fs[/counter[(base)]] [sig_len ...]]
            try:
                fs = float(tokens[2].split("/")[0]) if len(tokens) > 2 else 250.0  # WFDB default
                return int(tokens[1]), fs, int(tokens[3]) if len(tokens) > 3 else None
            except (IndexError, ValueError):
                return None
    return None


def _read_header(rec: Path) -> wfdb.Record | wfdb.MultiRecord:
    try:
        return wfdb.rdheader(str(rec))
    except Exception as err:  # wfdb raises many types on a bad header
        raise InputError(_hea(rec), f"header unreadable: {type(err).__name__}: {err}") from err


def _check_signal_files(rec: Path, header: wfdb.Record) -> int | None:
    """Check each signal file exists and is long enough; return the sig_len its size implies."""
    implied = None
    for fname in dict.fromkeys(header.file_name or []):
        fpath = rec.parent / fname
        if not fpath.is_file():
            hint = _ascii_hint(rec)
            if hint:  # the name wfdb decoded is not the file's: name the header, which is what needs fixing
                raise InputError(_hea(rec), f"signal file {fname!r} named in the header not found{hint}")
            raise InputError(fpath, "signal file named in the header not found")
        idx = [i for i, f in enumerate(header.file_name) if f == fname]
        fmt = str(header.fmt[idx[0]])
        if fmt not in _BYTES_PER_SAMPLE:
            continue  # FLAC and other compressed formats: no fixed size to compare
        size = fpath.stat().st_size
        if size == 0:
            raise InputError(fpath, "signal file is empty (0 bytes)")
        spf = sum((header.samps_per_frame or [1] * header.n_sig)[i] or 1 for i in idx)
        offset = (header.byte_offset or [0] * header.n_sig)[idx[0]] or 0
        implied = int((size - offset) / (spf * _BYTES_PER_SAMPLE[fmt]))
        if header.sig_len and implied < header.sig_len:
            problem = f"signal file holds {implied} samples per lead but the header declares sig_len {header.sig_len}"
            raise InputError(fpath, problem + " (truncated file or wrong header)")
    return implied


def _check_before_read(rec: Path, max_samples: int | None) -> int | None:
    """Rate, channels and declared size, checked before any signal is read; returns the header's sig_len
    (None where the header does not give it: it is optional, and the size check then uses the files' size)."""
    hea = _hea(rec)
    if not hea.is_file():
        raise InputError(hea, "header file (.hea) not found")
    peek = _peek_record_line(hea)
    declared = peek[2] if peek is not None else None
    if peek is None or peek[2] is None:  # slow path: wfdb parses, and sizes come from the files
        header = _read_header(rec)
        implied = _check_signal_files(rec, header) if isinstance(header, wfdb.Record) else None
        declared = header.sig_len
        peek = (header.n_sig, header.fs, header.sig_len or implied)
    n_sig, fs, n = peek
    if not n_sig:
        raise InputError(hea, "header declares no signal channels")
    if not FS_RANGE[0] <= fs <= FS_RANGE[1]:
        raise InputError(hea, f"sampling rate {fs:.10g} Hz outside {FS_RANGE[0]:g}..{FS_RANGE[1]:g} Hz")
    if n is not None and n < fs:
        raise InputError(hea, f"only {n} samples at {fs:g} Hz: shorter than 1 s")
    n = n if max_samples is None else min(n or max_samples, max_samples)
    if n is not None and n * n_sig * 8 > MAX_BYTES:  # wfdb holds int64 digital samples while converting
        raise InputError(hea, f"declared size {n} x {n_sig} leads needs {n * n_sig * 8 / 1e9:.1f} GB (> 2 GB)")
    return declared


def _ascii_hint(rec: Path) -> str:
    """A note for headers with non-ASCII bytes, which wfdb decodes as Latin-1 (so UTF-8 file names never match)."""
    try:
        with open(_hea(rec), "rb") as f:
            f.read(1 << 16).decode("ascii")
    except UnicodeDecodeError:
        return " (the header holds non-ASCII characters: WFDB headers and signal file names must be ASCII)"
    except OSError:
        pass
    return ""


def _diagnose(rec: Path, err: Exception) -> InputError:
    """Turn a failed ``rdrecord`` into the most specific problem the header and files show."""
    header = _read_header(rec)
    described = len(header.file_name or []) if isinstance(header, wfdb.Record) else header.n_sig
    if described != header.n_sig:
        return InputError(_hea(rec), f"header declares {header.n_sig} signals but describes {described}")
    unknown = sorted({str(f) for f in (getattr(header, "fmt", None) or []) if str(f) not in _WFDB_FORMATS})
    if unknown:
        return InputError(_hea(rec), f"unsupported WFDB signal format {', '.join(unknown)}")
    if isinstance(header, wfdb.Record):
        _check_signal_files(rec, header)
    return InputError(rec, f"signal unreadable or inconsistent with its header: {type(err).__name__}: {err}")


def _read_signal(rec: Path, max_samples: int | None, sig_len: int | None) -> wfdb.Record:
    """``rdrecord`` in physical units, of at most ``max_samples`` samples."""
    # wfdb cannot stop early in a record whose length it does not know (sig_len is optional in a header):
    # such a record is read whole and cut here.
    sampto = None if max_samples is None or sig_len is None else min(max_samples, sig_len)
    try:  # float32 straight from wfdb: half the memory traffic of its float64 default
        record = wfdb.rdrecord(str(rec), sampto=sampto, return_res=32)
    except Exception as err:
        raise _diagnose(rec, err) from err
    if record.p_signal is None or record.p_signal.ndim != 2 or record.p_signal.shape[1] == 0:
        raise InputError(rec, "record has no signal channels")
    if record.p_signal.shape[0] != record.sig_len:
        raise InputError(rec, f"read {record.p_signal.shape[0]} samples, header declares {record.sig_len}")
    if max_samples is not None and record.sig_len > max_samples:
        record.p_signal, record.sig_len = record.p_signal[:max_samples], max_samples
    if max_samples is None and record.p_signal.shape[0] < record.fs:
        raise InputError(rec, f"only {record.p_signal.shape[0]} samples: shorter than 1 s")
    return record


def _repair_nans(x: np.ndarray, where: Path) -> np.ndarray:
    """Fill gaps per lead by linear interpolation (edges: nearest); leads that are all gap -> 0.

    Gaps: NaN (WFDB's missing samples), and samples that are infinite or beyond ``MAX_ABS_PHYSICAL``, which
    a broken gain gives (1e-36/mV overflows float32): filtered, they would turn every window into NaN.
    Shape: x (L, T) -> (L, T).
    """
    with np.errstate(invalid="ignore"):
        gap = ~(np.abs(x) <= MAX_ABS_PHYSICAL)  # NaN compares False: one test finds NaN, inf and absurd values
    if not gap.any():
        return x
    frac = gap.mean(axis=1)
    if (frac == 1).all():
        raise InputError(
            where, f"every sample of every lead is NaN, infinite or beyond {MAX_ABS_PHYSICAL:g} (check the gains)"
        )
    if (frac > 0.5).all():
        raise InputError(
            where,
            f"more than 50% NaN or out-of-range samples in every lead ({frac.round(2).tolist()}; check the gains)",
        )
    x = x.copy()
    t = np.arange(x.shape[1])
    for lead in np.flatnonzero(frac):
        ok = ~gap[lead]
        x[lead] = np.interp(t, t[ok], x[lead, ok]) if ok.any() else 0.0
    return x


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> tuple[np.ndarray, float]:
    """Polyphase resampling with a rational ratio; returns the signal and its exact new rate.

    Shape: x (L, T) -> (L, ceil(T * up / down)).
    """
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    if ratio == 1:
        return x, fs_in
    y = sps.resample_poly(x, ratio.numerator, ratio.denominator, axis=1)
    return y.astype(np.float32, copy=False), float(fs_in * ratio)


def bandpass_filter(x: np.ndarray, fs: float, band: tuple[float, float], order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass; the high cut is clipped to 0.45 * fs.

    Shape: x (L, T) -> (L, T).
    """
    low, high = float(band[0]), min(float(band[1]), 0.45 * fs)
    if low >= high:
        raise ValueError(f"band-pass {band} is empty at fs={fs:g} Hz")
    if low > 0:
        sos = sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    else:
        sos = sps.butter(order, high, btype="lowpass", fs=fs, output="sos")
    # The default padlen (3 * (2 * n_sections + 1)) fails on signals shorter than it.
    padlen = min(3 * (2 * len(sos) + 1), x.shape[1] - 1)
    return sps.sosfiltfilt(sos, x, axis=1, padlen=padlen).astype(np.float32, copy=False)


def robust_standardise(x: np.ndarray) -> np.ndarray:
    """Per lead: subtract the median, divide by IQR/1.349 (std if the IQR is 0); flat leads -> 0.

    Shape: x (L, T) -> (L, T).
    """
    q25, med, q75 = np.percentile(x, [25, 50, 75], axis=1, keepdims=True)
    scale = (q75 - q25) / 1.349
    std = x.std(axis=1, keepdims=True)
    scale = np.where(scale > 1e-8, scale, std)
    flat = scale <= 1e-8
    y = (x - med) / np.where(flat, 1.0, scale)
    return np.where(flat, 0.0, y).astype(np.float32, copy=False)


def read_record(
    path: str | Path,
    *,
    fs: float | None = 250.0,
    bandpass: tuple[float, float] | None = (0.5, 40.0),
    standardise: bool = True,
    max_samples: int | None = None,
) -> EcgRecord:
    """Read a WFDB record in physical units and preprocess it.

    ``fs=None`` keeps the native rate; ``bandpass=None`` and ``standardise=False`` skip those
    steps; ``max_samples`` reads only the first N native samples (for previews).
    Shape: returned ``signal`` (L, T) float32 with T = ceil(N * fs / fs_original).
    """
    if fs is not None and fs <= 0:
        raise ValueError(f"fs must be positive, got {fs}")
    rec = _record_path(path)
    sig_len = _check_before_read(rec, max_samples)
    record = _read_signal(rec, max_samples, sig_len)
    x = _repair_nans(np.ascontiguousarray(record.p_signal.T, dtype=np.float32), rec)  # (L, T)
    rate = float(record.fs)
    if fs is not None:
        x, rate = resample(x, rate, float(fs))
    if bandpass is not None:
        x = bandpass_filter(x, rate, bandpass)
    if standardise:
        x = robust_standardise(x)
    return EcgRecord(
        record_id=rec.name,
        path=rec,
        signal=x,
        fs=rate,
        leads=tuple(normalise_lead_name(n) for n in (record.sig_name or [""] * x.shape[0])),
        units=tuple(u or "" for u in (record.units or [""] * x.shape[0])),
        fs_original=float(record.fs),
        n_samples_original=int(record.p_signal.shape[0]),
    )


def read_annotations(
    path: str | Path, *, extension: str = "atr", fs: float | None = 250.0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read WFDB annotations; sample indices are rescaled to ``fs`` (None: native).

    Shape: returns (samples (K,) int64, symbols (K,) str, aux_notes list of K str).
    """
    rec = _record_path(path)
    ann_file = rec.with_name(f"{rec.name}.{extension}")
    if not ann_file.is_file():
        raise InputError(ann_file, "annotation file not found")
    try:
        ann = wfdb.rdann(str(rec), extension)
    except Exception as err:
        raise InputError(ann_file, f"annotation file unreadable: {type(err).__name__}: {err}") from err
    samples = np.asarray(ann.sample, dtype=np.int64)
    if fs is not None:
        if not ann.fs:
            raise InputError(ann_file, "native sampling rate unknown (no fs in the file or a .hea)")
        samples = np.rint(samples * (float(fs) / float(ann.fs))).astype(np.int64)
    symbols = np.asarray(ann.symbol if ann.symbol is not None else [], dtype=str)
    # MIT-BIH pads aux notes with NUL to an even length ('(N\x00'); drop the padding.
    aux = [(a or "").rstrip("\x00") for a in (ann.aux_note or [""] * len(samples))]
    return samples, symbols, aux


def to_lead_slots(record: EcgRecord, lead_order: Sequence[str]) -> np.ndarray:
    """Place each lead in the slot of its normalised name; missing slots stay zero.

    Shape: (len(lead_order), T) float32. The first of two leads claiming one slot wins.
    """
    slots = lead_slot_indices(record.leads, lead_order)
    if not slots:
        raise InputError(record.path, f"none of the leads {record.leads} maps to {tuple(lead_order)}")
    out = np.zeros((len(lead_order), record.signal.shape[1]), dtype=np.float32)
    for src, dst in slots:
        out[dst] = record.signal[src]
    return out


def lead_slot_indices(leads: Sequence[str], lead_order: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs (index in ``leads``, slot in ``lead_order``); first lead per slot wins."""
    slot_of: dict[str, int] = {}
    for i, name in enumerate(lead_order):
        slot_of.setdefault(normalise_lead_name(name), i)
    pairs, taken = [], set()
    for src, name in enumerate(leads):
        dst = slot_of.get(normalise_lead_name(name))
        if dst is not None and dst not in taken:
            pairs.append((src, dst))
            taken.add(dst)
    return pairs


def _expand(item: Path) -> list[Path]:
    if item.is_dir():
        return sorted(p.with_suffix("") for p in item.glob("*.hea"))
    rec = _record_path(item)
    if rec.with_name(rec.name + ".hea").is_file():
        return [rec]
    if item.is_file():  # a list of records, one a line, relative to the list's folder
        try:
            lines = item.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(item, f"not a record and not a readable record list: {err}") from err
        out = []
        for line in (ln.strip() for ln in lines):
            if line and not line.startswith("#"):
                rec = _record_path(item.parent / line)
                if not rec.with_name(rec.name + ".hea").is_file():
                    raise InputError(item, f"listed record {line!r} has no .hea file")
                out.append(rec)
        return out
    raise InputError(item, "no such directory, record or record list")


def find_records(source: str | Path | Sequence[str | Path]) -> list[Path]:
    """Record paths (no extension) from a directory, a list file, a record, or a list of those."""
    items = [source] if isinstance(source, (str, Path)) else list(source)
    found = [rec for item in items for rec in _expand(Path(item))]
    if not found:
        raise InputError(", ".join(map(str, items)) or "<empty>", "no WFDB records found")
    return list(dict.fromkeys(found))
